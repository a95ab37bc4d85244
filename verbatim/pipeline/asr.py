"""Speech recognition with faster-whisper on CTranslate2.

One :class:`WhisperASR` holds one loaded model and is reused for every file of a process. The segment
generator faster-whisper returns is consumed here, inside the stage that owns the model, and turned into
frozen :class:`~verbatim.pipeline.types.Segment` values; text Whisper invents on silence, noise or in a
repetition loop is detected and dropped here rather than printed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.languages import SUPPORTED_LANGUAGES
from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Segment, Transcript, Word, join_words

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = [
    "SUPPORTED_LANGUAGES",
    "AsrOptions",
    "WhisperASR",
    "cpu_instruction_set",
    "drop_repetitions",
    "normalize_language",
]

Task = Literal["transcribe", "translate"]


def normalize_language(language: str | None) -> str | None:
    """Validate a language option: ``None``/``auto`` means detect, otherwise an ISO 639-1 code Whisper knows.

    Raises:
        InvalidOptionError: the code is not one of Whisper's languages.
    """
    if language is None or language.strip().lower() in ("", "auto"):
        return None
    code = language.strip().lower()
    if code not in SUPPORTED_LANGUAGES:
        raise InvalidOptionError(
            f"Unknown language '{language}'. Use 'auto' or an ISO 639-1 code Whisper knows, such as fr, "
            "en, ar, "
            f"es, de ({len(SUPPORTED_LANGUAGES)} in all)."
        )
    return code


@dataclass(frozen=True)
class AsrOptions:
    """How to decode. The defaults hold for any recording; none is tuned on a particular clip.

    Attributes:
        language: ISO 639-1 code, or ``None`` to detect it.
        task: ``transcribe`` or ``translate`` (speech to English).
        beam_size: beam search width.
        batch_size: speech chunks (cut at silences by the VAD, at most 30 s) decoded together; batching
            makes CTranslate2's matrix products larger and is the main speed gain on CPU and GPU. 0 decodes
            the chunks one by one, conditioned on the previous text.
        vad: skip non-speech with Silero VAD (shipped in faster-whisper): no text is produced on silence.
        vad_threshold: speech probability above which a frame is speech.
        narrowband_vad_threshold: the threshold used instead on a narrowband recording (a phone line, an
            8 kHz recorder: almost no energy above 4.5 kHz, see :mod:`verbatim.pipeline.bandwidth`), whose
            speech Silero scores lower: at 0.5 whole sentences of a phone call were never decoded, while 0.35
            everywhere cost words on wideband read French. ``None``: ``vad_threshold`` on every recording.
        min_silence_ms: silence length that splits speech chunks.
        recover_threshold: a looser speech probability: stretches above it that the first pass left out
            are decoded on their own (see :meth:`WhisperASR._recover`); ``None`` turns this off. Where the
            first pass's threshold is as loose (a narrowband recording), the stretches recovered are those of
            its own speech regions the decoding skipped (measured: 4 s of a phone conversation). 0.35
            keeps 60 s of silence, hum and white noise (up to -26 dBFS, phone-band too) at zero words, where
            0.25 does not.
        speech_pad_ms: margin kept around each speech chunk so word starts are not clipped.
        widen_edges: widen each speech region over the sound that continues it (see
            :func:`extend_speech_ends`): set by :meth:`for_recording` on a narrowband recording, where Silero
            scores a sentence's quiet last word, or the first words of a recording cut mid-sentence, under
            its threshold. On wideband French it changed no deletion and moved borderline words of the
            bundled sample, so it is kept to the recordings it was made for.
        word_timestamps: per-word times and probabilities (needed for speakers, subtitles, review marks).
        temperatures: decoding temperatures, the later ones a fallback when a decode looks degenerate
            (compression, low log-prob). The default is beam search alone, which never samples: the same
            recording gives the same words in any process, whatever it decoded before. (A sampled fallback
            draws from CTranslate2's per-thread generator, seeded once per process by ``WhisperASR(seed=)``,
            so a long-lived worker would not repeat a fresh process's draws.) Measured on the French dev sets
            (read, spontaneous, phone-band): Whisper's usual ``(0.0, 0.2, ..., 1.0)`` gave exactly the same
            words; the repetition filter, ``condition_on_previous_text=False`` and a deterministic
            re-decode of a looping window (see :func:`_loop_retrying_model`) deal with loops.
        initial_prompt: optional text to bias spelling (names, vocabulary of a case).
        languages: the languages the recording may hold (ISO 639-1), e.g. ``("fr", "ar")``: with the
            language detected, detection (of the recording and of each passage) chooses among these only.
            Empty: any language with real support in the recording (see :mod:`verbatim.pipeline.langid`).
        normalize_gain: raise very quiet recordings to a usable level before the VAD sees them.
        block_seconds: length of the blocks a long recording is decoded in (bounds memory, see
            :meth:`WhisperASR.transcribe`).
    """

    language: str | None = None
    task: Task = "transcribe"
    beam_size: int = 5
    batch_size: int = 0
    vad: bool = True
    vad_threshold: float = 0.5
    narrowband_vad_threshold: float | None = 0.35
    min_silence_ms: int = 500
    speech_pad_ms: int = 300
    widen_edges: bool = False
    word_timestamps: bool = True
    temperatures: tuple[float, ...] = (0.0,)
    initial_prompt: str | None = None
    languages: tuple[str, ...] = ()
    recover_threshold: float | None = 0.35
    normalize_gain: bool = True
    block_seconds: float = 300.0
    extra: dict[str, Any] = field(default_factory=dict)

    def for_recording(self, samples: np.ndarray) -> AsrOptions:
        """These options as they apply to ``samples`` (16 kHz): on a narrowband recording,
        ``narrowband_vad_threshold`` in place of ``vad_threshold`` (when set) and ``widen_edges``."""
        if not self.vad:
            return self
        from verbatim.pipeline.bandwidth import is_narrowband

        if not is_narrowband(samples):
            return self
        threshold = self.narrowband_vad_threshold
        return replace(
            self, vad_threshold=self.vad_threshold if threshold is None else threshold, widen_edges=True
        )

    def validated(self) -> AsrOptions:
        if self.task not in ("transcribe", "translate"):
            raise InvalidOptionError(f"Unknown task '{self.task}': use transcribe or translate.")
        if self.beam_size < 1:
            raise InvalidOptionError("beam_size must be at least 1.")
        if self.batch_size < 0:
            raise InvalidOptionError("batch_size must be 0 (sequential) or more.")
        languages = tuple(dict.fromkeys(normalize_language(code) or "" for code in self.languages))
        if "" in languages:
            raise InvalidOptionError("languages: give ISO 639-1 codes such as fr,ar,en (not 'auto').")
        for name in ("vad_threshold", "narrowband_vad_threshold", "recover_threshold"):
            value = getattr(self, name)
            if value is not None and not 0.0 < value < 1.0:
                raise InvalidOptionError(f"{name} must be between 0 and 1, got {value}.")
        language = normalize_language(self.language)
        if language is None and len(languages) == 1:
            language = languages[0]  # one expected language: nothing to detect
        return AsrOptions(**{**self.__dict__, "language": language, "languages": languages})


# Phrases Whisper produces on silence or music, learnt from subtitle credits in its training data. A segment
# made of nothing but one of these (after normalisation) is dropped. See openai/whisper#928, #1783.
_CREDIT_PATTERNS = tuple(
    re.compile(p)
    for p in (
        r"^sous[ -]titr(age|es?)\b.*",
        r"^merci d'avoir regardé.*",
        r"^thanks? (you )?for watching.*",
        r"^subtitles? by\b.*",
        r"^untertitel\b.*",
        r"^amara\.org.*",
        r".*\bamara\.org\b.*",
        r"^♪+$",
        r"^\.+$",
    )
)


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().strip()
    return re.sub(r"\s+", " ", text).strip(" .…!?,;:-«»\"'")


def is_credit_hallucination(text: str) -> bool:
    """Whether a segment's whole text is a subtitle credit or filler Whisper invents on non-speech."""
    norm = _norm(text)
    return not norm or any(p.fullmatch(norm) for p in _CREDIT_PATTERNS)


MAX_REPEATS = 3
"""Copies of a phrase said back to back that count as speech ("non non non"); more is a decoding loop."""


def drop_repetitions(
    words: tuple[Word, ...], *, max_ngram: int = 8, max_repeats: int = MAX_REPEATS
) -> tuple[Word, ...]:
    """Remove a repetition loop: an n-gram repeated back to back more than ``max_repeats`` times.

    The first occurrence is kept and the loop's other copies are dropped (a decoding loop is not speech).
    Natural repetitions ("non non non") stay, up to ``max_repeats`` copies.

    Args:
        words: the words of one segment, in order.
        max_ngram: longest phrase length checked.
        max_repeats: copies allowed before the rest counts as a loop.

    Returns:
        The words without the looping copies (the same tuple when there is no loop).
    """
    keys = [_norm(w.text) for w in words]
    keep = [True] * len(words)
    i = 0
    n_words = len(words)
    while i < n_words:
        best_n, best_count = 0, 1
        for n in range(1, max_ngram + 1):
            if i + 2 * n > n_words:
                break
            count = 1
            while (
                i + (count + 1) * n <= n_words
                and keys[i + count * n : i + (count + 1) * n] == keys[i : i + n]
            ):
                count += 1
            if count > max_repeats and count * n > best_count * max(best_n, 1):
                best_n, best_count = n, count
        if best_n:
            for j in range(i + best_n, i + best_count * best_n):
                keep[j] = False
            i += best_count * best_n
        else:
            i += 1
    if all(keep):
        return words
    return tuple(w for w, k in zip(words, keep, strict=True) if k)


def _gain_for(samples: np.ndarray) -> float:
    """Gain that brings a very quiet recording up to a normal speech level (about 0.5), at most +30 dB.

    Whisper's features are level-normalised, but Silero VAD is not: a hearing recorded far from the
    microphone (peak below 1 % of full scale) otherwise loses whole sentences. Noise-only input stays
    low enough for the VAD to reject it because the gain is capped. The level is read on a subsample so
    that a long recording is not copied.
    """
    if samples.size == 0:
        return 1.0
    step = max(1, samples.size // 2_000_000)
    level = float(np.percentile(np.abs(samples[::step]), 99.9))
    if level <= 0.0 or level >= 0.1:
        return 1.0
    return min(0.5 / level, 10 ** (30 / 20))


SILENCE_DBFS = -60.0
"""A block none of whose 100 ms frames is louder than this (after the gain) holds no speech."""


def is_silent(samples: np.ndarray, threshold_dbfs: float = SILENCE_DBFS) -> bool:
    """Whether every 100 ms frame of ``samples`` is quieter than ``threshold_dbfs`` (RMS)."""
    hop = SAMPLE_RATE // 10
    n = samples.size // hop
    if n == 0:
        return bool(samples.size == 0 or float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) == 0.0)
    frames = samples[: n * hop].reshape(n, hop).astype(np.float32)
    loudest = float(np.sqrt(np.max(np.mean(frames**2, axis=1))))
    return loudest < 10 ** (threshold_dbfs / 20)


def block_bounds(samples: np.ndarray, block_seconds: float) -> list[tuple[int, int]]:
    """Cut a recording into blocks of about ``block_seconds``, each cut at the quietest 100 ms within
    ±10 % of the block length of the nominal boundary (a pause, not the middle of a word).

    Returns:
        (first, last) sample indices covering the whole recording, in order.
    """
    n = samples.size
    block = int(block_seconds * SAMPLE_RATE)
    if block <= 0 or n <= block * 1.2:
        return [(0, n)]
    hop = SAMPLE_RATE // 10
    bounds: list[tuple[int, int]] = []
    first = 0
    while n - first > block * 1.2:
        lo = first + int(block * 0.9)
        hi = min(n - hop, first + int(block * 1.1))
        frames = samples[lo : lo + ((hi - lo) // hop) * hop].reshape(-1, hop)
        quietest = int(np.argmin(np.mean(frames.astype(np.float32) ** 2, axis=1)))
        cut = lo + quietest * hop + hop // 2
        bounds.append((first, cut))
        first = cut
    bounds.append((first, n))
    return bounds


_TAIL_FRAME = SAMPLE_RATE // 50
"""20 ms: the frame the level of a speech tail is read on."""
TAIL_ABOVE_FLOOR_DB = 20.0
"""A frame this much louder than the recording's floor (its 10th-percentile frame level) is sound."""
TAIL_GAP_S = 0.2
"""A tail ends after this long without a sound frame (longer than the closure of a stop consonant)."""
TAIL_MAX_S = 1.0
"""The most a speech region is lengthened by its tail."""


def extend_speech_ends(samples: np.ndarray, chunks: list[dict[str, int]]) -> list[dict[str, int]]:
    """Speech regions (sample indices, in order, as Silero VAD gives them) widened over the sound that
    continues each one on either side: a sentence's last word, quieter and more band-limited than the rest,
    and the first words of a recording that starts mid-sentence may score under the VAD's threshold although
    they are plainly louder than the recording's background (measured through a phone line: a read
    sentence's last word 20-45 dB above the floor at speech probability below 0.2; a conversation cut
    mid-word, whose first second Whisper then skipped).

    A region's end moves to the last sound frame (:data:`TAIL_ABOVE_FLOOR_DB` over the recording's floor,
    its 10th-percentile 20 ms level) that follows it with no gap longer than :data:`TAIL_GAP_S`, plus the
    gap as a margin, by at most :data:`TAIL_MAX_S`; its start moves back the same way. Never into the
    neighbouring region nor past the recording. A region next to silence or steady background is left as it
    is, and audio without a region gets none.
    """
    if not chunks or samples.size < _TAIL_FRAME:
        return chunks
    n = samples.size // _TAIL_FRAME
    frames = samples[: n * _TAIL_FRAME].reshape(n, _TAIL_FRAME).astype(np.float32)
    level = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    heard = level[level > -100.0]  # digital silence (padding, muted stretches) is no background level
    if heard.size == 0:
        return chunks
    sound = level > float(np.percentile(heard, 10)) + TAIL_ABOVE_FLOOR_DB
    gap, most = round(TAIL_GAP_S * 50), round(TAIL_MAX_S * 50)

    def reach(first: int, step: int) -> int | None:
        """The farthest sound frame from ``first`` on in direction ``step``, no gap over ``gap`` frames."""
        last = None
        for k in range(most):
            frame = first + step * k
            if not 0 <= frame < n or (k - (abs(last - first) if last is not None else -1)) > gap:
                break
            if sound[frame]:
                last = frame
        return last

    out: list[dict[str, int]] = []
    for i, chunk in enumerate(chunks):
        lower = out[-1]["end"] if out else 0
        upper = chunks[i + 1]["start"] if i + 1 < len(chunks) else samples.size
        start, end = chunk["start"], chunk["end"]
        before = reach(start // _TAIL_FRAME - 1, -1)
        if before is not None:
            start = max(lower, (before - gap) * _TAIL_FRAME, start - most * _TAIL_FRAME, 0)
        after = reach(-(-end // _TAIL_FRAME), 1)  # from the first whole frame after the region
        if after is not None:
            end = min(upper, (after + 1 + gap) * _TAIL_FRAME, end + most * _TAIL_FRAME, samples.size)
        out.append({**chunk, "start": min(start, chunk["start"]), "end": max(end, chunk["end"])})
    return out


def speech_regions(
    samples: np.ndarray, options: AsrOptions, threshold: float | None = None
) -> list[dict[str, int]]:
    """Silero VAD's speech regions (sample indices) under ``options``' silence and padding settings, at
    ``threshold`` (default ``options.vad_threshold``): the one VAD call of the first pass, the recovery pass
    and the language identification."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    return get_speech_timestamps(  # type: ignore[no-any-return]
        samples,
        VadOptions(
            threshold=options.vad_threshold if threshold is None else threshold,
            min_silence_duration_ms=options.min_silence_ms,
            speech_pad_ms=options.speech_pad_ms,
        ),
    )


def cpu_instruction_set(cpuinfo: str | None = None) -> str:
    """The widest x86 instruction set CTranslate2 dispatches to on this CPU (``AVX512``, ``AVX2``, ``AVX``,
    ``GENERIC``), or the machine's architecture elsewhere; ``CT2_FORCE_CPU_ISA`` overrides it as it does
    CTranslate2's own choice.

    Args:
        cpuinfo: the text of ``/proc/cpuinfo`` (read when ``None``).
    """
    import os
    import platform

    forced = os.environ.get("CT2_FORCE_CPU_ISA")
    if forced:
        return forced.upper()
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return platform.machine() or "unknown"
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            break
    if not flags:
        return platform.machine() or "unknown"
    # CTranslate2 uses its AVX-512 kernels when the CPU has AVX512F, AVX512CD, AVX512BW, AVX512DQ and AVX512VL
    if {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"} <= flags:
        return "AVX512"
    if {"avx2", "fma"} <= flags:
        return "AVX2"
    if "avx" in flags:
        return "AVX"
    return "GENERIC"


def loop_period(tokens: list[int], copies: int = 3) -> int | None:
    """The shortest period of a loop at the end of ``tokens``: the smallest ``p`` such that the last
    ``copies * p`` tokens repeat every ``p`` tokens (the last copy may be cut short); ``None`` when the end
    does not loop."""
    n = len(tokens)
    for p in range(1, n // copies + 1):
        if all(tokens[i] == tokens[i - p] for i in range(n - (copies - 1) * p, n)):
            return p
    return None


def _loop_retrying_model() -> type[WhisperModel]:
    """faster-whisper's model, with a deterministic fallback for a window that loops.

    At temperature 0 alone (the default, see :attr:`AsrOptions.temperatures`) a window whose text is too
    repetitive (compression ratio over faster-whisper's threshold) is kept as it is: beam search has run to
    the 448-token limit, :func:`drop_repetitions` then drops the copies, the next window starts where the
    loop began and often loops again, and the recovery pass decodes the stretches lost one by one. Measured
    on an AMI meeting clip (30 s): three looping windows (about 8 s each, the last on 30 ms of audio left)
    for 14 words, then two recovered stretches.

    Such a window is decoded once more with beam search (no sampling: deterministic), forbidding any
    ``MAX_REPEATS * p``-token sequence to occur twice, ``p`` being the period of the loop found at the end
    of its tokens: up to :data:`MAX_REPEATS` copies of that phrase stay possible (what
    :func:`drop_repetitions` lets through as natural repetition), a fourth cannot start the loop again. The
    less repetitive result (lower compression ratio) is kept. A window that does not loop, or whose end is
    not periodic, is decoded exactly as before.
    """
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import TranscriptionOptions

    class LoopRetryingWhisperModel(WhisperModel):  # type: ignore[misc]  # untyped library
        def generate_with_fallback(
            self, encoder_output: Any, prompt: list[int], tokenizer: Any, options: TranscriptionOptions
        ) -> Any:
            result = super().generate_with_fallback(encoder_output, prompt, tokenizer, options)
            threshold = options.compression_ratio_threshold
            if threshold is None or result[3] <= threshold or options.no_repeat_ngram_size:
                return result
            period = loop_period(list(result[0].sequences_ids[0]), MAX_REPEATS)
            if period is None:
                return result
            retry = replace(options, no_repeat_ngram_size=MAX_REPEATS * period, temperatures=[0.0])
            again = super().generate_with_fallback(encoder_output, prompt, tokenizer, retry)
            return again if again[3] < result[3] else result

    return LoopRetryingWhisperModel


class WhisperASR:
    """A loaded faster-whisper model.

    Args:
        model_path: CTranslate2 Whisper directory.
        identity: what the transcript records about the model (name, sha256, ...).
        device: ``cpu``, ``cuda`` or ``auto``.
        compute_type: ``auto`` picks int8 on CPU and float16 on CUDA.
        cpu_threads: 0 uses every core.
    """

    def __init__(
        self,
        model_path: Path,
        *,
        identity: dict[str, str],
        device: str = "auto",
        compute_type: str = "auto",
        cpu_threads: int = 0,
        seed: int = 0,
    ) -> None:
        import ctranslate2
        import faster_whisper

        # The temperature fallback samples; CTranslate2 draws from a per-thread generator seeded from this
        # the first time it is used, so a process decodes the same recording the same way every time.
        ctranslate2.set_random_seed(seed)

        resolved_device = device
        if device == "auto":
            resolved_device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        if compute_type == "auto":
            compute_type = "float16" if resolved_device == "cuda" else "int8"
        self.device = resolved_device
        self.compute_type = compute_type
        self.model: WhisperModel = _loop_retrying_model()(
            str(model_path),
            device=resolved_device,
            compute_type=compute_type,
            cpu_threads=cpu_threads,
            local_files_only=True,
        )
        self._identity = {
            **identity,
            "device": resolved_device,
            "compute_type": compute_type,
            # what else decides the words: int8 kernels round differently per instruction set
            "ctranslate2": ctranslate2.__version__,
            "faster_whisper": faster_whisper.__version__,
            "cpu_isa": cpu_instruction_set() if resolved_device == "cpu" else "cuda",
            "seed": str(seed),
        }
        self._batched: Any = None

    def identity(self) -> dict[str, str]:
        return dict(self._identity)

    def _decided_by(self, options: AsrOptions) -> dict[str, str]:
        """The model's identity and the options that change the words: the transcript records them (the
        prompt is the case's vocabulary: part of the record, never logged)."""
        info = self.identity()
        info["beam_size"] = str(options.beam_size)
        info["temperatures"] = ",".join(f"{t:g}" for t in options.temperatures)
        if options.vad:
            info["vad_threshold"] = f"{options.vad_threshold:g}"
            if options.widen_edges:
                info["vad_edges"] = "widened"
        if options.initial_prompt:
            info["prompt"] = options.initial_prompt
        if options.languages:
            info["languages"] = ",".join(options.languages)
        return info

    def _pipeline(self) -> Any:
        if self._batched is None:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(model=self.model)
        return self._batched

    def transcribe(
        self, audio: Audio, options: AsrOptions = AsrOptions(), hook: ProgressHook = null_hook
    ) -> Transcript:
        """Transcribe (or translate to English) one recording.

        A long recording is decoded block by block (``options.block_seconds``, cut at the quietest point
        near each boundary): faster-whisper computes the spectrogram of everything it is given at once,
        about 1.5 GB per hour of audio, while a block needs a fixed amount whatever the recording's length.

        Args:
            audio: decoded 16 kHz mono audio.
            options: decoding options (validated here).
            hook: receives ``("transcribe", completed=seconds, total=duration)``.

        Returns:
            A transcript without speakers; segment ids are 0..n-1 in time order.
        """
        options = options.validated().for_recording(audio.samples)
        duration = audio.duration
        hook("transcribe", completed=0.0, total=duration)
        gain = _gain_for(audio.samples) if options.normalize_gain else 1.0
        language = options.language
        probability = 1.0
        segments: list[Segment] = []
        for first, last in block_bounds(audio.samples, options.block_seconds):
            block = audio.samples[first:last]
            if gain != 1.0:
                block = np.clip(block * gain, -1.0, 1.0).astype(np.float32)
            offset = first / SAMPLE_RATE
            if is_silent(block):
                continue  # no 100 ms louder than -60 dBFS: the VAD would spend minutes to find nothing
            if language is None and options.languages:
                language = self._likeliest(block, options)
            generator, info = self._decode(block, options, language)
            found = self._collect(generator, offset, duration, hook)
            if language is None and found:
                # the first block with speech fixes the language of the rest (per-segment language
                # identification is a stage of its own)
                language, probability = info.language, float(info.language_probability)
            segments.extend(found)
            if options.vad and options.recover_threshold is not None:
                segments.extend(self._recover(block, found, offset, duration, options, language))
        hook("transcribe", completed=duration, total=duration)
        if language is None:  # no speech anywhere: nothing was detected
            language, probability = "und", 0.0
        segments.sort(key=lambda seg: (seg.start, seg.end))
        return Transcript(
            language=language,
            duration=duration,
            segments=tuple(seg.with_(id=i, language=language) for i, seg in enumerate(segments)),
            audio_sha256=audio.sha256,
            filename=audio.filename,
            models={"asr": self._decided_by(options)},
            language_probability=probability,
        )

    def _recover(
        self,
        block: np.ndarray,
        found: list[Segment],
        offset: float,
        duration: float,
        options: AsrOptions,
        language: str | None,
    ) -> list[Segment]:
        """Speech the VAD's threshold left out, decoded on its own.

        Silero's speech probability drops on band-limited audio (a phone line, a cheap recorder): at the usual
        threshold whole sentences of a phone call were never decoded. Stretches that a looser threshold
        (``options.recover_threshold``) calls speech, at least ``_RECOVER_MIN_S`` long and outside every
        segment already found, are decoded alone without the VAD; Whisper's own no-speech test and the
        hallucination filters still apply, so noise gives nothing.
        """
        loose = speech_regions(
            block, options, min(float(options.recover_threshold or 1.0), options.vad_threshold)
        )
        taken = sorted((s.start - offset, s.end - offset) for s in found)
        out: list[Segment] = []
        for region in loose:
            for lo, hi in _uncovered(region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE, taken):
                if hi - lo < _RECOVER_MIN_S:
                    continue
                part = block[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
                generator, _ = self._decode(part, replace(options, vad=False), language)
                recovered = self._collect(generator, offset + lo, duration, null_hook)
                out.extend(s for s in recovered if s.words or s.text)
        return out

    def _likeliest(self, samples: np.ndarray, options: AsrOptions) -> str:
        """The most probable of ``options.languages`` on the speech of ``samples``."""
        from faster_whisper.vad import VadOptions

        _, _, ranked = self.model.detect_language(
            samples,
            vad_filter=options.vad,
            vad_parameters=VadOptions(
                threshold=options.vad_threshold,
                min_silence_duration_ms=options.min_silence_ms,
                speech_pad_ms=options.speech_pad_ms,
            ),
        )
        probability = dict(ranked)
        return max(options.languages, key=lambda code: probability.get(code, 0.0))

    def _decode(self, samples: np.ndarray, options: AsrOptions, language: str | None) -> tuple[Any, Any]:
        common: dict[str, Any] = dict(
            language=language,
            task=options.task,
            beam_size=options.beam_size,
            word_timestamps=options.word_timestamps,
            temperature=list(options.temperatures),
            initial_prompt=options.initial_prompt,
            vad_filter=options.vad,
            vad_parameters=dict(
                threshold=options.vad_threshold,
                min_silence_duration_ms=options.min_silence_ms,
                speech_pad_ms=options.speech_pad_ms,
            ),
        )
        if options.batch_size > 0 and options.vad:
            return self._pipeline().transcribe(  # type: ignore[no-any-return]
                samples, batch_size=options.batch_size, **{**common, **options.extra}
            )
        sequential: dict[str, Any] = dict(
            condition_on_previous_text=False,  # a wrong segment must not poison the next (loops)
            hallucination_silence_threshold=2.0 if options.word_timestamps else None,
        )
        chunks = self._speech_chunks(samples, options) if options.vad else []
        if not chunks:  # no VAD, or no speech at all: faster-whisper's own path
            return self.model.transcribe(  # type: ignore[no-any-return]
                samples, **{**common, **sequential, **options.extra}
            )
        # What faster-whisper does with vad_filter (the speech regions put end to end, times mapped back),
        # with each region's sounding edges kept on a narrowband recording (see extend_speech_ends).
        # Without the hallucination-silence skip: the regions joined hold no silence, so its tests
        # degenerate to "near the start or the end of a 30 s window", where it threw away real speech (the
        # first second of a conversation cut mid-sentence, heard through a phone line); what the VAD left
        # out is never decoded anyway.
        from faster_whisper.transcribe import restore_speech_timestamps

        speech = np.concatenate([samples[c["start"] : c["end"]] for c in chunks])
        generator, info = self.model.transcribe(
            speech,
            **{
                **common,
                **sequential,
                "hallucination_silence_threshold": None,
                **options.extra,
                "vad_filter": False,
            },
        )
        return restore_speech_timestamps(generator, chunks, SAMPLE_RATE), info

    @staticmethod
    def _speech_chunks(samples: np.ndarray, options: AsrOptions) -> list[dict[str, int]]:
        """The speech regions the sequential decoding hears: Silero VAD's, widened over their sounding edges
        when ``options.widen_edges``."""
        chunks = speech_regions(samples, options)
        return extend_speech_ends(samples, chunks) if options.widen_edges else chunks

    def _collect(
        self, generator: Iterable[Any], offset: float, duration: float, hook: ProgressHook
    ) -> list[Segment]:
        out: list[Segment] = []
        for raw in generator:
            hook("transcribe", completed=min(offset + float(raw.end), duration), total=duration)
            words = tuple(
                Word(
                    start=round(offset + float(w.start), 3),
                    end=round(offset + float(max(w.end, w.start)), 3),
                    text=w.word.strip(),
                    probability=round(float(w.probability), 4),
                    # Whisper starts a new word with a space; a token without one continues the previous
                    # word ("d" + "'accord", "États" + "-Unis") and must never be shown apart from it.
                    join=" " if w.word[:1].isspace() else "",
                )
                for w in (raw.words or ())
                if w.word.strip()
            )
            text = raw.text.strip()
            if words:
                cleaned = drop_repetitions(words)
                if cleaned is not words:
                    words = cleaned
                    text = join_words(words)
            else:
                text = _drop_text_repetitions(text)
            if is_credit_hallucination(text):
                continue
            start = words[0].start if words else offset + float(raw.start)
            end = words[-1].end if words else offset + float(raw.end)
            out.append(
                Segment(
                    id=len(out),
                    start=round(max(0.0, start), 3),
                    end=round(min(max(end, start), duration), 3),
                    text=text,
                    words=words,
                    avg_logprob=round(float(raw.avg_logprob), 4),
                    no_speech_prob=round(float(raw.no_speech_prob), 4),
                    compression_ratio=round(float(raw.compression_ratio), 4),
                )
            )
        return out


_RECOVER_MIN_S = 1.0
"""Shortest stretch of speech left out by the VAD worth decoding again (shorter: a breath, a click)."""


def _uncovered(start: float, end: float, taken: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of ``[start, end]`` outside every ``taken`` span (sorted by start; each widened by 0.3 s)."""
    out: list[tuple[float, float]] = []
    cursor = start
    for lo, hi in taken:
        lo, hi = lo - 0.3, hi + 0.3
        if hi <= cursor or lo >= end:
            continue
        if lo > cursor:
            out.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return out


def _drop_text_repetitions(text: str) -> str:
    pseudo = tuple(Word(0.0, 0.0, t, 1.0) for t in text.split())
    cleaned = drop_repetitions(pseudo)
    return text if cleaned is pseudo else " ".join(w.text for w in cleaned)
