"""Language of every segment, and each segment transcribed in its own language.

Whisper detects one language from the first 30 s of speech; in a hearing held with an interpreter the next
speaker may use another. :func:`identify_languages` runs after the first pass:

1. **Detect** (:func:`detect_languages`): Whisper's language head on an excerpt of each segment (its middle,
   at most ``max_seconds``), the excerpts batched. CTranslate2 accepts features shorter than 30 s, so the cost
   is the encoder on the excerpts alone: about 1/10 of the first pass on a monolingual recording with the
   default 4 s excerpts (see ``verbatim bench translate``), rather than one encoder pass per segment.
2. **Smooth** (:func:`smooth_languages`): a short or low-confidence segment takes its neighbours' language
   instead of flipping on its own; an isolated segment whose neighbours agree on another language joins them
   unless it is long and confident.
3. **Re-decode**: runs of consecutive segments whose language differs from the one they were transcribed in
   are transcribed again in their own language (with the same options), so a German passage gives German text,
   not Whisper's English rendering of it. A monolingual recording has no such run and costs step 1 only.

It is automatic only when the language is detected (``language='auto'``): a forced language means the user
knows the recording is in one language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from verbatim.pipeline.asr import AsrOptions, WhisperASR

__all__ = [
    "LanguageGuess",
    "LanguageIdOptions",
    "detect_languages",
    "identify_languages",
    "smooth_languages",
]


@dataclass(frozen=True)
class LanguageIdOptions:
    """How segment languages are detected and smoothed. Defaults are general, not tuned on a clip.

    Attributes:
        max_seconds: longest excerpt (the middle of the segment) the language is detected on.
        min_seconds: segments shorter than this are not trusted: they take their neighbours' language.
        min_probability: detections below this probability are not trusted either.
        keep_probability: an isolated segment whose neighbours agree on another language keeps its own only
            when detected with at least this probability and lasting at least ``2 * min_seconds``.
        batch_size: excerpts detected together.
        pad_seconds: margin kept around a run of segments that is transcribed again.
    """

    max_seconds: float = 4.0
    min_seconds: float = 1.0
    min_probability: float = 0.5
    keep_probability: float = 0.8
    batch_size: int = 8
    pad_seconds: float = 0.2


@dataclass(frozen=True)
class LanguageGuess:
    """Whisper's language detection on one excerpt.

    Attributes:
        language: most probable language (ISO 639-1).
        probability: its probability.
        scores: the five most probable (language, probability) pairs, best first.
    """

    language: str
    probability: float
    scores: tuple[tuple[str, float], ...] = ()

    def probability_of(self, language: str) -> float:
        """The probability of ``language`` (0 when it is not among the best five)."""
        if language == self.language:
            return self.probability
        return next((p for lang, p in self.scores if lang == language), 0.0)


def _excerpt(samples: np.ndarray, start: float, end: float, max_seconds: float) -> np.ndarray:
    """The middle ``max_seconds`` of ``[start, end]`` (the whole span when shorter)."""
    length = max(0.0, end - start)
    if length > max_seconds:
        middle = (start + end) / 2
        start, end = middle - max_seconds / 2, middle + max_seconds / 2
    first = max(0, int(start * SAMPLE_RATE))
    last = min(samples.size, max(first + 1, int(end * SAMPLE_RATE)))
    return samples[first:last]


def detect_languages(
    model: WhisperModel,
    samples: np.ndarray,
    spans: Sequence[tuple[float, float]],
    options: LanguageIdOptions = LanguageIdOptions(),
    hook: ProgressHook = null_hook,
) -> list[LanguageGuess]:
    """Detect the language of each span of a recording.

    Args:
        model: a loaded multilingual faster-whisper model.
        samples: the recording, 16 kHz mono float32; shape (num_samples,).
        spans: (start, end) in seconds, one per segment.
        options: excerpt length and batch size.
        hook: receives ``("language", completed=spans done, total=len(spans))``.

    Returns:
        One guess per span, in order.
    """
    import ctranslate2

    if not spans:
        return []
    extractor = model.feature_extractor
    n_samples = int(options.max_seconds * SAMPLE_RATE)
    frames = max(2, (n_samples // extractor.hop_length) // 2 * 2)  # even: the encoder's convolution halves it
    guesses: list[LanguageGuess] = []
    hook("language", completed=0, total=len(spans))
    for first in range(0, len(spans), max(1, options.batch_size)):
        batch = spans[first : first + max(1, options.batch_size)]
        features = []
        for start, end in batch:
            excerpt = _excerpt(samples, start, end, options.max_seconds)
            padded = np.zeros(n_samples, dtype=np.float32)
            padded[: min(excerpt.size, n_samples)] = excerpt[:n_samples]
            mel = extractor(padded)[:, :frames]  # (n_mels, frames)
            features.append(mel)
        stacked = np.ascontiguousarray(np.stack(features).astype(np.float32))  # (batch, n_mels, frames)
        results = model.model.detect_language(ctranslate2.StorageView.from_array(stacked))
        for ranked in results:
            scores = tuple((token[2:-2], round(float(p), 4)) for token, p in ranked[:5])
            guesses.append(LanguageGuess(scores[0][0], scores[0][1], scores))
        hook("language", completed=len(guesses), total=len(spans))
    return guesses


def smooth_languages(
    guesses: Sequence[LanguageGuess],
    durations: Sequence[float],
    *,
    fallback: str,
    options: LanguageIdOptions = LanguageIdOptions(),
) -> list[str]:
    """The language of each segment, neighbours settling what a short or unsure detection cannot.

    Args:
        guesses: one detection per segment, in time order.
        durations: each segment's length in seconds.
        fallback: language given to every segment when no detection is trusted (the first pass's).
        options: the thresholds.

    Returns:
        One ISO 639-1 code per segment.
    """
    n = len(guesses)
    trusted: list[str | None] = [
        g.language if g.probability >= options.min_probability and d >= options.min_seconds else None
        for g, d in zip(guesses, durations, strict=True)
    ]
    # An isolated segment between two (trusted) neighbours that agree on another language joins them unless
    # it is long and confident: one unsure word of English in a French answer is not a switch of language.
    settled = list(trusted)
    for i, language in enumerate(trusted):
        if language is None:
            continue
        before = next((trusted[j] for j in range(i - 1, -1, -1) if trusted[j] is not None), None)
        after = next((trusted[j] for j in range(i + 1, n) if trusted[j] is not None), None)
        confident = (
            guesses[i].probability >= options.keep_probability and durations[i] >= 2 * options.min_seconds
        )
        if before is not None and before == after and before != language and not confident:
            settled[i] = before
    if all(s is None for s in settled):
        return [fallback] * n
    out: list[str] = []
    for i in range(n):
        if settled[i] is not None:
            out.append(settled[i])  # type: ignore[arg-type]
            continue
        # untrusted: the nearest trusted neighbour; between two that differ, the one its own scores prefer
        back = next(((i - j, settled[j]) for j in range(i - 1, -1, -1) if settled[j] is not None), None)
        ahead = next(((j - i, settled[j]) for j in range(i + 1, n) if settled[j] is not None), None)
        candidates = [c for c in (back, ahead) if c is not None]
        best = max(candidates, key=lambda c: (guesses[i].probability_of(c[1] or ""), -c[0]))
        out.append(best[1] or fallback)
    return out


def identify_languages(
    asr: WhisperASR,
    audio: Audio,
    transcript: Transcript,
    asr_options: AsrOptions,
    options: LanguageIdOptions = LanguageIdOptions(),
    hook: ProgressHook = null_hook,
) -> Transcript:
    """Give every segment its language and transcribe again the passages spoken in another language.

    Args:
        asr: the model that made ``transcript``.
        audio: the recording ``transcript`` was made from.
        transcript: the first pass, every segment transcribed in ``segment.language``.
        asr_options: the options of the first pass (re-decoding uses them with the passage's language).
        options: detection and smoothing thresholds.
        hook: progress of detection (``language``) and re-decoding (``relanguage``).

    Returns:
        A new transcript: segments carry ``language`` and ``language_probability``; the recording's
        ``language`` is the one spoken longest. The input is not modified.
    """
    segments = list(transcript.segments)
    if not segments:
        return transcript
    guesses = detect_languages(asr.model, audio.samples, [(s.start, s.end) for s in segments], options, hook)
    languages = smooth_languages(
        guesses,
        [max(0.0, s.end - s.start) for s in segments],
        fallback=transcript.language,
        options=options,
    )
    out: list[Segment] = []
    runs = _runs(segments, languages)
    total_runs = sum(1 for _, _, redo in runs if redo)
    done = 0
    for first, last, redo in runs:
        language = languages[first]
        run = segments[first : last + 1]
        probability = float(np.mean([g.probability_of(language) for g in guesses[first : last + 1]]))
        redecoded: list[Segment] = []
        if redo:
            hook("relanguage", completed=done, total=total_runs)
            lo = max(run[0].start - options.pad_seconds, segments[first - 1].end if first > 0 else 0.0)
            hi = min(
                run[-1].end + options.pad_seconds,
                segments[last + 1].start if last + 1 < len(segments) else audio.duration,
            )
            redecoded = _redecode(asr, audio, lo, hi, replace(asr_options, language=language))
            done += 1
            hook("relanguage", completed=done, total=total_runs)
        if redecoded:
            out.extend(
                s.with_(language=language, language_probability=round(probability, 4)) for s in redecoded
            )
        else:
            # Nothing to transcribe again, or nothing came out of it: keep the first pass, which was
            # transcribed in segment.language, so its language stays the one its text is in.
            for seg, guess, lang in zip(
                run, guesses[first : last + 1], languages[first : last + 1], strict=True
            ):
                kept = seg.language if redo else lang
                out.append(
                    seg.with_(language=kept, language_probability=round(guess.probability_of(kept or ""), 4))
                )
    out.sort(key=lambda s: (s.start, s.end))
    spoken: dict[str, float] = {}
    for s in out:
        if s.language:
            spoken[s.language] = spoken.get(s.language, 0.0) + max(0.0, s.end - s.start)
    main = max(spoken, key=lambda lang: spoken[lang]) if spoken else transcript.language
    return transcript.with_(segments=tuple(s.with_(id=n) for n, s in enumerate(out)), language=main)


def _runs(segments: Sequence[Segment], languages: Sequence[str]) -> list[tuple[int, int, bool]]:
    """(first, last, redo) for each run of consecutive segments with one language; ``redo`` when the run
    was transcribed in another language than its own."""
    runs: list[tuple[int, int, bool]] = []
    for i, (seg, lang) in enumerate(zip(segments, languages, strict=True)):
        redo = seg.language != lang
        if runs and languages[runs[-1][0]] == lang and runs[-1][2] == redo and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i, redo)
        else:
            runs.append((i, i, redo))
    return runs


def _redecode(asr: WhisperASR, audio: Audio, start: float, end: float, options: AsrOptions) -> list[Segment]:
    """Transcribe ``[start, end]`` of the recording alone, times on the recording's clock."""
    first, last = max(0, int(start * SAMPLE_RATE)), min(audio.samples.size, int(end * SAMPLE_RATE))
    if last - first < SAMPLE_RATE // 10:
        return []
    part = Audio(audio.samples[first:last], audio.sha256, audio.filename, audio.channel)
    offset = first / SAMPLE_RATE
    result = asr.transcribe(part, options)
    return [_shift(s, offset) for s in result.segments]


def _shift(segment: Segment, offset: float) -> Segment:
    words = tuple(
        Word(round(w.start + offset, 3), round(w.end + offset, 3), w.text, w.probability, w.speaker)
        for w in segment.words
    )
    return segment.with_(
        start=round(segment.start + offset, 3), end=round(segment.end + offset, 3), words=words
    )
