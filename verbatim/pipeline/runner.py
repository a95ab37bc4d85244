"""The whole transcription of one recording: decode → ASR → diarise → assign speakers.

:class:`TranscriptionPipeline` receives its loaded models (it never loads them itself), so a CLI run over
many files, an in-process worker and a Celery worker all reuse the same warm models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.asr import AsrOptions
from verbatim.pipeline.assign import assign_speakers
from verbatim.pipeline.decode import decode, decode_channels
from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Segment, Transcript

if TYPE_CHECKING:
    from verbatim.pipeline.asr import WhisperASR
    from verbatim.pipeline.diarize import DiarizationOptions, SpeakerDiarizer
    from verbatim.pipeline.translate import TranslationOptions, Translator
    from verbatim.pipeline.voices import VoiceNaming

__all__ = [
    "PipelineOptions",
    "TranscriptionPipeline",
    "merge_channel_transcripts",
    "name_known_voices",
    "usable_voices",
]

ChannelMode = Literal["mix", "split"]


def _default_diarization_options() -> DiarizationOptions:
    from verbatim.pipeline.diarize import DiarizationOptions

    return DiarizationOptions()


@dataclass(frozen=True)
class PipelineOptions:
    """Options of one transcription.

    Attributes:
        asr: recognition options (language, task, beam...).
        diarize: find who speaks when (ignored with ``channels="split"``, where each channel is a speaker).
        diarization: speaker-count hints.
        channels: ``mix`` mixes all channels; ``split`` transcribes each channel as its own speaker
            (one microphone per speaker).
        language_id: when the language is detected (``asr.language`` is ``None``), detect it per segment
            and transcribe each passage in its own language (:mod:`verbatim.pipeline.langid`).
        translation: translate every segment (:mod:`verbatim.pipeline.translate`); ``None``: no translation.
        voices: enrolled voices of the job's unit to name speakers after (:mod:`verbatim.pipeline.voices`);
            ``None``: speakers keep their ids.
    """

    asr: AsrOptions = field(default_factory=AsrOptions)
    diarize: bool = True
    diarization: DiarizationOptions = field(default_factory=_default_diarization_options)
    channels: ChannelMode = "mix"
    language_id: bool = True
    translation: TranslationOptions | None = None
    voices: VoiceNaming | None = None


class TranscriptionPipeline:
    """Runs the stages on a file with models it is given.

    Args:
        asr: a loaded Whisper model.
        diarizer: loaded diarisation models, or ``None`` when diarisation is never wanted.
        translator: translation routes, or ``None`` when translation is never wanted.
    """

    def __init__(
        self, asr: WhisperASR, diarizer: SpeakerDiarizer | None = None, translator: Translator | None = None
    ) -> None:
        self.asr = asr
        self.diarizer = diarizer
        self.translator = translator

    def recognize(self, audio: Audio, options: PipelineOptions, hook: ProgressHook = null_hook) -> Transcript:
        """ASR, then the language of every segment when the language is detected (see ``language_id``)."""
        transcript = self.asr.transcribe(audio, options.asr, hook)
        asr_options = options.asr.validated()
        if options.language_id and asr_options.language is None and asr_options.task == "transcribe":
            from verbatim.pipeline.langid import identify_languages

            transcript = identify_languages(self.asr, audio, transcript, asr_options, hook=hook)
        return _no_repeats(transcript)

    def translate(
        self,
        transcript: Transcript,
        audio: Audio | None,
        options: PipelineOptions,
        hook: ProgressHook = null_hook,
    ) -> Transcript:
        """Translate the segments when ``options.translation`` asks for it (else return ``transcript``)."""
        if options.translation is None:
            return transcript
        if self.translator is None:
            raise InvalidOptionError("A translation was asked for but no translation route is loaded.")
        return self.translator.translate(transcript, audio, options.translation, hook)

    def run(self, path: Path | str, options: PipelineOptions, hook: ProgressHook = null_hook) -> Transcript:
        """Transcribe one recording file.

        Raises:
            AudioDecodeError / EmptyAudioError: unreadable input.
            InvalidOptionError: options that cannot be honoured.
        """
        if options.channels not in ("mix", "split"):
            raise InvalidOptionError(f"Unknown channel mode '{options.channels}': use mix or split.")
        if options.channels == "split":
            channels = decode_channels(path)
            return self._run_split(channels, options, hook).with_(warnings=channels[0].warnings)
        hook("decode", completed=0, total=1)
        audio = decode(path)
        hook("decode", completed=1, total=1)
        return self.run_audio(audio, options, hook).with_(warnings=audio.warnings)

    def run_audio(self, audio: Audio, options: PipelineOptions, hook: ProgressHook = null_hook) -> Transcript:
        """Transcribe decoded audio (mixed to one track)."""
        transcript = self.recognize(audio, options, hook)
        # Nothing was said (silence, noise): no word to give a speaker, and hours of silence would
        # otherwise cost the segmentation model a pass over every 10 s window.
        if options.diarize and transcript.segments:
            if self.diarizer is None:
                raise InvalidOptionError("Diarisation was asked for but no diarisation model is loaded.")
            naming = None
            if options.voices is not None:
                naming = usable_voices(options.voices, self.diarizer.embedding.sha256)
            if naming is not None and naming.narrowband is None:
                from verbatim.pipeline.voices import is_narrowband

                naming = replace(naming, narrowband=is_narrowband(audio.samples))
            centroids: dict[str, npt.NDArray[np.float32]] = {}
            if naming is None:
                diarization = self.diarizer(audio, options.diarization, hook)
            else:
                diarization, centroids = self.diarizer.diarize_with_centroids(
                    audio, options.diarization, hook
                )
            models = {**transcript.models, **self.diarizer.identity()}
            transcript = assign_speakers(transcript, diarization).with_(models=models)
            if naming is not None:
                transcript = name_known_voices(transcript, centroids, naming)
        return self.translate(transcript, audio, options, hook)

    def _run_split(self, channels: list[Audio], options: PipelineOptions, hook: ProgressHook) -> Transcript:
        transcripts = []
        for audio in channels:
            scoped = _scoped(hook, audio.channel, len(channels))
            transcripts.append(self.translate(self.recognize(audio, options, scoped), audio, options, scoped))
        return merge_channel_transcripts(channels, transcripts)


def usable_voices(naming: VoiceNaming | None, embedding_sha256: str | None) -> VoiceNaming | None:
    """The enrolled voices that can be compared with the speakers of a diarizer whose embedding weights hash
    to ``embedding_sha256``: those whose print the same weights made (a print of other weights lives in
    another space); ``None`` when none."""
    if naming is None or not naming.voices or embedding_sha256 is None:
        return None
    sha = embedding_sha256
    voices = tuple(v for v in naming.voices if not v.model_sha256 or v.model_sha256 == sha)
    return replace(naming, voices=voices) if voices else None


def name_known_voices(
    transcript: Transcript, centroids: Mapping[str, npt.NDArray[np.float32]], naming: VoiceNaming
) -> Transcript:
    """The transcript with the speakers that match an enrolled voice named after it (see
    :func:`verbatim.pipeline.voices.match_voices`)."""
    from verbatim.pipeline.voices import match_voices, name_speakers

    present = {s: c for s, c in centroids.items() if s in transcript.speakers}
    return name_speakers(transcript, match_voices(present, naming), naming.voices)


def _no_repeats(transcript: Transcript) -> Transcript:
    """The transcript with no stretch of audio in two segments (see ``langid.without_overlaps``)."""
    from verbatim.pipeline.langid import without_overlaps

    segments = without_overlaps(transcript.segments)
    if segments == list(transcript.segments):
        return transcript
    return transcript.with_(segments=tuple(s.with_(id=i) for i, s in enumerate(segments)))


def _scoped(hook: ProgressHook, channel: int | None, count: int) -> ProgressHook:
    index = channel or 0

    def scoped(step: str, *, completed: float, total: float) -> None:
        hook(step, completed=(index * total + completed) / count if total else 0.0, total=total)

    return scoped


def merge_channel_transcripts(channels: list[Audio], transcripts: list[Transcript]) -> Transcript:
    """Merge per-channel transcripts into one, channel ``i`` being speaker ``S{i+1}``.

    Each microphone also picks up the other speakers faintly. A segment is kept on its channel only if that
    channel is the loudest during the segment (within 6 dB): otherwise it is the bleed of a voice that the
    louder channel transcribes itself.
    """
    if not transcripts:
        raise InvalidOptionError("No channel to merge.")
    levels = [_rms_envelope(a.samples) for a in channels]
    segments: list[Segment] = []
    speakers: dict[str, str] = {}
    for index, transcript in enumerate(transcripts):
        speaker = f"S{index + 1}"
        for seg in transcript.segments:
            if len(channels) > 1 and not _is_loudest(levels, index, seg.start, seg.end):
                continue
            words = tuple(replace(w, speaker=speaker) for w in seg.words)
            segments.append(seg.with_(speaker=speaker, words=words))
            speakers.setdefault(speaker, speaker)
    segments.sort(key=lambda s: (s.start, s.end))
    first = transcripts[0]
    languages = [t.language for t in transcripts if t.segments] or [first.language]
    return first.with_(
        segments=tuple(s.with_(id=i) for i, s in enumerate(segments)),
        models={name: info for t in transcripts for name, info in t.models.items()},
        speakers=dict(sorted(speakers.items())),
        language=max(set(languages), key=languages.count),
    )


_ENVELOPE_HOP = SAMPLE_RATE // 10  # 100 ms


def _rms_envelope(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // _ENVELOPE_HOP
    if n == 0:
        return np.array([float(np.sqrt(np.mean(samples**2))) if len(samples) else 0.0])
    frames = samples[: n * _ENVELOPE_HOP].reshape(n, _ENVELOPE_HOP)
    envelope: np.ndarray = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    return envelope


def _is_loudest(levels: list[np.ndarray], index: int, start: float, end: float) -> bool:
    lo, hi = int(start * 10), max(int(start * 10) + 1, int(np.ceil(end * 10)))
    energy = [float(np.mean(lv[lo:hi] ** 2)) if len(lv[lo:hi]) else 0.0 for lv in levels]
    mine = energy[index]
    return all(mine * 4.0 >= other for j, other in enumerate(energy) if j != index)  # 4x power = 6 dB
