"""Known voices: the voice print of an enrolment recording, and diarised speakers named after the
enrolled voices they match.

A unit enrols the voices of its own staff who agreed (investigators, clerks, interpreters). A voice print is
what the diarizer compares speakers with: the mean of the unit-norm CAM++ embeddings of 2 s windows of
speech (the diarizer's slot length), so that it is directly comparable with a diarised speaker's centroid
(the mean of its unit-norm slot embeddings). Silence and noise are left out with Silero VAD before anything
is embedded.

Naming is conservative: a speaker gets an enrolled voice's name only when the cosine similarity of its
centroid with that voice is at least ``threshold``, beats every other enrolled voice by ``margin``, and no
other speaker of the recording matches that voice better (one voice names at most one speaker). The
constants are calibrated by ``verbatim bench voices`` on the simulated conversations (development data).

Nothing here touches the database or a key: :mod:`verbatim.jobs.voices` stores the prints, encrypted, per
unit, and hands the job's unit's voices to the pipeline.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from verbatim.errors import InvalidOptionError, VerbatimError
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Transcript, VoiceMatch

if TYPE_CHECKING:
    from verbatim.models.diarization import EmbeddingModel

__all__ = [
    "DEFAULT_MARGIN",
    "DEFAULT_NARROWBAND_THRESHOLD",
    "DEFAULT_THRESHOLD",
    "MIN_ENROLMENT_SPEECH",
    "EnrolmentError",
    "KnownVoice",
    "VoiceMatch",
    "VoiceNaming",
    "VoicePrint",
    "display_name",
    "is_narrowband",
    "match_similarities",
    "match_voices",
    "name_speakers",
    "telephone_band",
    "voice_print",
]

DEFAULT_THRESHOLD: Final = 0.70
"""Least cosine similarity between a speaker's centroid and an enrolled voice print for the speaker to be
named (calibrated with ``verbatim bench voices``; see the README for the figures)."""

DEFAULT_NARROWBAND_THRESHOLD: Final = 0.80
"""The threshold on narrowband (telephone) recordings, compared with the voices' narrowband prints: phone-band
embeddings of different people are more alike, so a higher bar keeps false matches as rare."""

DEFAULT_MARGIN: Final = 0.10
"""How much the best enrolled voice must beat the second best for one speaker."""

MIN_ENROLMENT_SPEECH: Final = 6.0
"""Seconds of speech embedded an enrolment needs (all its recordings together): shorter prints are less
reliable. The bench enrols each voice from about 8 s of speech (6 to 7 s embedded, once cut into windows)."""

WINDOW_SECONDS: Final = 2.0
"""Length of the speech windows embedded (the diarizer's slot length: prints and centroids alike)."""

_MIN_WINDOW_SECONDS: Final = 0.8  # a last window shorter than this joins the previous one
_FBANK_SHIFT: Final = 0.010
_EMBEDDING_DIM: Final = 192


class EnrolmentError(VerbatimError):
    """An enrolment recording that cannot make a voice print (no speech, too little speech)."""


@dataclass(frozen=True)
class VoicePrint:
    """What an enrolment recording (or several) gives.

    Attributes:
        embedding: (192,) unit-norm mean of the unit-norm window embeddings.
        speech_seconds: seconds of speech embedded.
        windows: number of windows embedded.
        narrowband: (192,) the same, of the recordings passed through a telephone band first (see
            :func:`telephone_band`): what the voice sounds like on a phone line.
    """

    embedding: npt.NDArray[np.float32]
    speech_seconds: float
    windows: int
    narrowband: npt.NDArray[np.float32] | None = None


@dataclass(frozen=True)
class KnownVoice:
    """An enrolled voice as the pipeline sees it (decrypted by the jobs layer, never stored by the pipeline).

    Attributes:
        id: the enrolment's id.
        name: what a reader sees ("Enquêteur Dupont").
        embedding: (192,) voice print.
        model_sha256: SHA-256 of the embedding weights that made it (empty: unknown); a print made by other
            weights than the diarizer's is never compared.
        narrowband: (192,) the print of the enrolment through a telephone band, compared instead on
            narrowband recordings (``None``: the wideband one is).
    """

    id: str
    name: str
    embedding: npt.NDArray[np.float32] = field(repr=False)
    model_sha256: str = ""
    narrowband: npt.NDArray[np.float32] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class VoiceNaming:
    """Enrolled voices to look for in a recording (those of the job's unit only), and how strictly.

    Attributes:
        voices: the candidates.
        threshold: least cosine similarity to name a speaker.
        narrowband_threshold: the same on narrowband recordings.
        margin: least lead of the best voice over the second best, for one speaker.
        narrowband: the recording went through a telephone line: compare the voices' narrowband prints
            (``None``: decided from the recording where it is at hand, else wideband).
    """

    voices: tuple[KnownVoice, ...]
    threshold: float = DEFAULT_THRESHOLD
    margin: float = DEFAULT_MARGIN
    narrowband: bool | None = None
    narrowband_threshold: float = DEFAULT_NARROWBAND_THRESHOLD

    def validate(self) -> None:
        """Raise :class:`InvalidOptionError` for a threshold or margin out of range."""
        for value in (self.threshold, self.narrowband_threshold):
            if not -1.0 < value < 1.0:
                raise InvalidOptionError(f"voice thresholds must be in (-1, 1), got {value}")
        if not 0.0 <= self.margin < 1.0:
            raise InvalidOptionError(f"voice margin must be in [0, 1), got {self.margin}")


def display_name(name: str, role: str | None) -> str:
    """What a reader sees: ``"Enquêteur Dupont"`` for role ``Enquêteur`` and name ``Dupont``."""
    role = (role or "").strip()
    return f"{role} {name.strip()}" if role else name.strip()


def _normalize(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.asarray(x / np.maximum(norm, 1e-12), dtype=np.float32)


def speech_regions(samples: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    """Speech regions (sample indexes) of a recording, by Silero VAD (shipped with faster-whisper)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    found = get_speech_timestamps(
        np.asarray(samples, dtype=np.float32),
        VadOptions(threshold=0.5, min_silence_duration_ms=250, speech_pad_ms=30, min_speech_duration_ms=250),
    )
    return [(int(r["start"]), int(r["end"])) for r in found]


def _windows(regions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Speech regions cut into windows of about :data:`WINDOW_SECONDS` (short regions kept whole)."""
    size = round(WINDOW_SECONDS * SAMPLE_RATE)
    least = round(_MIN_WINDOW_SECONDS * SAMPLE_RATE)
    out: list[tuple[int, int]] = []
    for start, end in regions:
        if end - start < least:
            continue
        count = max(1, round((end - start) / size))
        edges = np.linspace(start, end, count + 1).round().astype(int)
        out += [(int(a), int(b)) for a, b in itertools.pairwise(edges)]
    return out


def window_embeddings(
    model: EmbeddingModel, samples: npt.NDArray[np.float32]
) -> tuple[npt.NDArray[np.float32], float]:
    """Unit-norm CAM++ embeddings of the speech windows of a recording, and the seconds of speech embedded.

    Returns:
        ((windows, 192) float32, seconds); no rows when the recording holds no speech.
    """
    from verbatim.models.diarization import embed_fbank, kaldi_fbank

    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    if len(samples) == 0 or not np.any(samples):
        return np.zeros((0, _EMBEDDING_DIM), np.float32), 0.0
    windows = _windows(speech_regions(samples))
    feats = []
    seconds = 0.0
    for start, end in windows:
        fbank = kaldi_fbank(samples[start:end])
        fbank = fbank[: len(fbank) - len(fbank) % 20]  # equal lengths batch together (as the diarizer does)
        if len(fbank) < 20:
            continue
        feats.append(fbank)
        seconds += len(fbank) * _FBANK_SHIFT
    if not feats:
        return np.zeros((0, _EMBEDDING_DIM), np.float32), 0.0
    return _normalize(embed_fbank(model, feats)), seconds


def voice_print(
    model: EmbeddingModel,
    recordings: Sequence[Audio],
    *,
    min_speech: float = MIN_ENROLMENT_SPEECH,
) -> VoicePrint:
    """The voice print of one person's recordings: every speech window of every recording, embedded, averaged.

    Args:
        model: the diarizer's CAM++ model (prints are compared with its centroids).
        recordings: decoded recordings of the person alone.
        min_speech: least seconds of speech, all recordings together.

    Raises:
        EnrolmentError: a recording without speech, or too little speech in all.
    """
    if not recordings:
        raise EnrolmentError("no recording to enrol")
    rows: list[npt.NDArray[np.float32]] = []
    narrow: list[npt.NDArray[np.float32]] = []
    seconds = 0.0
    for number, audio in enumerate(recordings, start=1):
        embedded, speech = window_embeddings(model, audio.samples)
        if len(embedded) == 0:
            raise EnrolmentError(
                f"recording {number} ({audio.filename or 'no name'}) holds no speech that can be embedded"
            )
        rows.append(embedded)
        seconds += speech
        phone, _speech = window_embeddings(model, telephone_band(audio.samples))
        if len(phone):
            narrow.append(phone)
    if seconds < min_speech:
        raise EnrolmentError(
            f"too little speech to enrol a voice: {seconds:.1f} s found, at least {min_speech:.0f} s needed "
            "(give a longer recording of the person speaking alone, or several)"
        )
    stacked = np.concatenate(rows)
    mean = _normalize(stacked.mean(axis=0))
    narrowband = _normalize(np.concatenate(narrow).mean(axis=0)) if narrow else None
    return VoicePrint(
        embedding=mean, speech_seconds=round(seconds, 2), windows=len(stacked), narrowband=narrowband
    )


def telephone_band(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """16 kHz audio as a telephone line carries it: 300-3400 Hz, through 8 kHz sampling and back.

    CAM++ embeddings of phone-band speech all drift the same way (the diarizer clusters them with a lower
    threshold for that reason); a voice enrolled on a good microphone is compared on a phone recording with
    its print made through this band."""
    from scipy.signal import butter, resample_poly, sosfilt

    x = np.asarray(samples, dtype=np.float64)
    if len(x) < 64:
        return np.asarray(x, np.float32)
    sos = butter(4, [300.0, 3400.0], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    narrow = resample_poly(sosfilt(sos, x), 1, 2)
    return np.asarray(resample_poly(narrow, 2, 1)[: len(x)], dtype=np.float32)


def is_narrowband(samples: npt.NDArray[np.float32]) -> bool:
    """Whether a recording went through a telephone-like channel (the diarizer's own test)."""
    from verbatim.pipeline.diarize import NARROWBAND_FRACTION, high_band_fraction

    return high_band_fraction(np.asarray(samples, np.float32)) < NARROWBAND_FRACTION


def match_voices(
    centroids: Mapping[str, npt.NDArray[np.float32]], naming: VoiceNaming
) -> dict[str, VoiceMatch]:
    """Which speakers are enrolled voices.

    A (speaker, voice) pair is a candidate when their cosine similarity is at least ``naming.threshold`` and
    beats the speaker's second-best voice by ``naming.margin``; candidates are then taken best first, each
    voice and each speaker once (a voice split into two speakers names the closer one only).

    Args:
        centroids: speaker id -> centroid (any norm), as :meth:`SpeakerDiarizer.diarize_with_centroids` gives.
        naming: the voices and constants.

    Returns:
        speaker id -> match, for the named speakers only.
    """
    naming.validate()
    speakers = [s for s, v in centroids.items() if np.any(v)]
    if not speakers or not naming.voices:
        return {}
    c = _normalize(np.stack([np.asarray(centroids[s], np.float32) for s in speakers]))
    prints = [
        k.narrowband if naming.narrowband and k.narrowband is not None else k.embedding for k in naming.voices
    ]
    v = _normalize(np.stack([np.asarray(p, np.float32) for p in prints]))
    threshold = naming.narrowband_threshold if naming.narrowband else naming.threshold
    pairs = match_similarities(c @ v.T, threshold=threshold, margin=naming.margin)
    return {
        speakers[i]: VoiceMatch(voice_id=naming.voices[j].id, similarity=round(score, 4))
        for i, j, score in pairs
    }


def match_similarities(
    similarity: npt.NDArray[np.float32], *, threshold: float, margin: float
) -> list[tuple[int, int, float]]:
    """The matching of :func:`match_voices` on a (speakers, voices) cosine-similarity matrix.

    Returns:
        (speaker index, voice index, similarity) of each named speaker.
    """
    if similarity.size == 0:
        return []
    candidates: list[tuple[float, int, int]] = []
    for i in range(similarity.shape[0]):
        order = np.argsort(-similarity[i], kind="stable")
        best = float(similarity[i, order[0]])
        second = float(similarity[i, order[1]]) if len(order) > 1 else -1.0
        if best >= threshold and best - second >= margin:
            candidates.append((best, i, int(order[0])))
    out: list[tuple[int, int, float]] = []
    used: set[int] = set()
    for score, i, j in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if j in used:
            continue
        used.add(j)
        out.append((i, j, score))
    return out


def name_speakers(
    transcript: Transcript, matches: Mapping[str, VoiceMatch], voices: Sequence[KnownVoice]
) -> Transcript:
    """The transcript with matched speakers given their enrolled names, and the matches recorded.

    Speakers without turns in the transcript are left out; the transcript is not modified.
    """
    names = {v.id: v.name for v in voices}
    speakers = dict(transcript.speakers)
    recorded: dict[str, VoiceMatch] = {}
    for speaker, match in matches.items():
        if speaker in speakers and match.voice_id in names:
            speakers[speaker] = names[match.voice_id]
            recorded[speaker] = match
    if not recorded:
        return transcript
    return replace(transcript, speakers=speakers, voices={**transcript.voices, **recorded})
