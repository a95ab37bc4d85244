"""Language of every segment, and each segment transcribed in its own language.

Whisper detects one language from the first 30 s of speech; in a hearing held with an interpreter the next
speaker may use another. :func:`identify_languages` runs after the first pass:

1. **Detect** (:func:`detect_languages`): Whisper's language head on the speech regions found by the VAD
   (cut into pieces of at most ``max_region_seconds``), on an excerpt of each (its middle, at most
   ``max_seconds``), the excerpts batched. Regions, not the first pass's segments: a first pass decoding in
   the wrong language may leave a passage out altogether. CTranslate2 accepts features shorter than 30 s, so
   the cost is the encoder on the excerpts alone, not one 30 s encoder pass per piece (measured by
   ``verbatim bench translate``).
2. **Smooth** (:func:`smooth_languages`): a short or low-confidence piece takes its neighbours' language
   instead of flipping on its own; an isolated piece whose neighbours agree on another language joins them
   unless it is long and confident. Each segment then gets the language of the run of pieces it lies in.
3. **Re-decode**: runs of consecutive pieces whose language differs from the one the first pass used are
   transcribed again in their own language (with the same options), replacing the first pass there, so a
   German passage gives German text, not Whisper's English rendering of it (or nothing). A monolingual
   recording has no such run and costs step 1 only.

It is automatic only when the language is detected (``language='auto'``): a forced language means the user
knows the recording is in one language.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Segment, Transcript, join_words

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

    from verbatim.pipeline.asr import AsrOptions, WhisperASR

__all__ = [
    "LanguageGuess",
    "LanguageIdOptions",
    "detect_languages",
    "identify_languages",
    "smooth_languages",
    "supported_languages",
    "without_overlaps",
]


@dataclass(frozen=True)
class LanguageIdOptions:
    """How segment languages are detected and smoothed. Defaults are general, not tuned on a clip.

    Attributes:
        max_seconds: longest excerpt (the middle of a piece of speech) the language is detected on.
        max_region_seconds: speech regions longer than this are cut into pieces detected apart.
        min_seconds: segments shorter than this are not trusted: they take their neighbours' language.
        min_probability: detections below this probability are not trusted either.
        keep_probability: an isolated segment whose neighbours agree on another language keeps its own only
            when detected with at least this probability and lasting at least ``2 * min_seconds``.
        batch_size: excerpts detected together.
        pad_seconds: margin kept around a run of segments that is transcribed again.
        support_seconds / support_probability: without a list of expected languages, a language is a
            candidate only when at least ``support_seconds`` of speech are detected in it with at least
            ``support_probability`` (the first pass's language always is): a few unsure seconds of
            "Latin" or "Welsh" at the end of a French hearing are not a language of the recording.
    """

    max_seconds: float = 4.0
    max_region_seconds: float = 12.0
    min_seconds: float = 1.0
    min_probability: float = 0.5
    keep_probability: float = 0.8
    batch_size: int = 8
    pad_seconds: float = 0.2
    support_seconds: float = 3.0
    support_probability: float = 0.8


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

    def among(self, candidates: frozenset[str]) -> LanguageGuess:
        """The guess when only ``candidates`` are possible: their probabilities renormalised to sum to 1
        (a guess none of whose best five is a candidate has probability 0, so its neighbours decide)."""
        kept = [(lang, p) for lang, p in self.scores if lang in candidates]
        total = sum(p for _, p in kept)
        if not kept or total <= 0:
            fallback = min(candidates)
            return LanguageGuess(fallback, 0.0, ((fallback, 0.0),))
        scores = tuple((lang, round(p / total, 4)) for lang, p in kept)
        return LanguageGuess(scores[0][0], scores[0][1], scores)


def supported_languages(
    guesses: Sequence[LanguageGuess],
    durations: Sequence[float],
    *,
    main: str,
    options: LanguageIdOptions = LanguageIdOptions(),
) -> frozenset[str]:
    """Languages with real support in a recording: ``main`` (the first pass's) and every language detected
    with at least ``options.support_probability`` on at least ``options.support_seconds`` of speech."""
    seconds: dict[str, float] = {}
    for guess, duration in zip(guesses, durations, strict=True):
        if guess.probability >= options.support_probability:
            seconds[guess.language] = seconds.get(guess.language, 0.0) + duration
    return frozenset({main, *(lang for lang, s in seconds.items() if s >= options.support_seconds)})


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
    *,
    allowed: frozenset[str] = frozenset(),
) -> list[LanguageGuess]:
    """Detect the language of each span of a recording.

    Args:
        model: a loaded multilingual faster-whisper model.
        samples: the recording, 16 kHz mono float32; shape (num_samples,).
        spans: (start, end) in seconds, one per segment.
        options: excerpt length and batch size.
        hook: receives ``("language", completed=spans done, total=len(spans))``.
        allowed: when given, only these languages are considered (probabilities renormalised among them).

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
            pairs = [(token[2:-2], float(p)) for token, p in ranked]
            if allowed:
                # the expected languages only (ranked holds every language): renormalised among them
                pairs = [(lang, p) for lang, p in pairs if lang in allowed]
                total = sum(p for _, p in pairs) or 1.0
                pairs = [(lang, p / total) for lang, p in pairs]
            scores = tuple((lang, round(p, 4)) for lang, p in pairs[:5])
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


def speech_pieces(audio: Audio, asr_options: AsrOptions, max_seconds: float) -> list[tuple[float, float]]:
    """Speech regions of the recording (Silero VAD, the first pass's settings), cut into pieces of at most
    ``max_seconds``: the spans whose language is detected."""
    from verbatim.pipeline.asr import _gain_for, speech_regions

    samples = audio.samples
    asr_options = asr_options.for_recording(samples)  # the first pass's threshold (narrowband: its own)
    gain = _gain_for(samples) if asr_options.normalize_gain else 1.0
    if gain != 1.0:  # the VAD is not level-normalised (see asr._gain_for)
        samples = np.clip(samples * gain, -1.0, 1.0).astype(np.float32)
    regions = speech_regions(samples, asr_options)
    pieces: list[tuple[float, float]] = []
    for region in regions:
        start, end = region["start"] / SAMPLE_RATE, region["end"] / SAMPLE_RATE
        count = max(1, int(np.ceil((end - start) / max_seconds)))
        step = (end - start) / count
        pieces.extend((round(start + k * step, 3), round(start + (k + 1) * step, 3)) for k in range(count))
    return pieces


def identify_languages(
    asr: WhisperASR,
    audio: Audio,
    transcript: Transcript,
    asr_options: AsrOptions,
    options: LanguageIdOptions = LanguageIdOptions(),
    hook: ProgressHook = null_hook,
) -> Transcript:
    """Give every segment its language and transcribe again the passages spoken in another language.

    The language is detected on the recording's speech regions, not on the first pass's segments: a first
    pass decoding in the wrong language may leave a passage out altogether.

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
    if not asr.model.model.is_multilingual:  # an English-only model (*.en) has no language head
        return transcript
    pieces = speech_pieces(audio, asr_options, options.max_region_seconds)
    if not pieces:
        return transcript
    allowed = frozenset(asr_options.languages)
    guesses = detect_languages(asr.model, audio.samples, pieces, options, hook, allowed=allowed)
    durations = [end - start for start, end in pieces]
    candidates = allowed or supported_languages(guesses, durations, main=transcript.language, options=options)
    # decided among the candidates; the probabilities reported stay the detector's own
    raw, guesses = guesses, [g.among(candidates) for g in guesses]
    languages = smooth_languages(guesses, durations, fallback=transcript.language, options=options)
    runs = _runs(pieces, raw, languages)
    kept = sorted(transcript.segments, key=lambda s: (s.start, s.end))
    out: list[Segment] = []
    redo = [r for r in runs if r.language != transcript.language]
    for n, run in enumerate(redo):
        hook("relanguage", completed=n, total=len(redo))
        # Every first-pass segment that touches the run is replaced, and the run grows to cover them whole:
        # the same stretch of audio is never transcribed twice, and none is left out.
        lo, hi = run.start, run.end
        while True:
            inside = [s for s in kept if s.start < hi and lo < s.end]
            grown = (min([lo, *(s.start for s in inside)]), max([hi, *(s.end for s in inside)]))
            if grown == (lo, hi):
                break
            lo, hi = grown
        others = [s for s in kept if s not in inside] + out
        before = max((s.end for s in others if s.end <= lo), default=0.0)
        after = min((s.start for s in others if s.start >= hi), default=audio.duration)
        lo, hi = (
            max(0.0, before, lo - options.pad_seconds),
            min(audio.duration, after, hi + options.pad_seconds),
        )
        redecoded = _redecode(asr, audio, lo, hi, replace(asr_options, language=run.language))
        if redecoded:
            kept = [s for s in kept if s not in inside]
            out.extend(
                s.with_(language=run.language, language_probability=round(run.probability, 4))
                for s in redecoded
            )
        hook("relanguage", completed=n + 1, total=len(redo))
    for seg in kept:
        # kept from the first pass: transcribed in seg.language, which is therefore its language; its
        # probability is the detection's for that language on the pieces it overlaps
        overlapping = [
            g.probability_of(seg.language or transcript.language)
            for (start, end), g in zip(pieces, raw, strict=True)
            if start < seg.end and seg.start < end
        ]
        probability = round(float(np.mean(overlapping)), 4) if overlapping else None
        out.append(seg.with_(language=seg.language or transcript.language, language_probability=probability))
    out = without_overlaps(out)
    spoken: dict[str, float] = {}
    for s in out:
        if s.language:
            spoken[s.language] = spoken.get(s.language, 0.0) + max(0.0, s.end - s.start)
    main = max(spoken, key=lambda lang: spoken[lang]) if spoken else transcript.language
    return transcript.with_(segments=tuple(s.with_(id=n) for n, s in enumerate(out)), language=main)


_TIMING_SLACK = 0.5
"""Overlaps shorter than this (seconds) are timing noise between neighbouring segments, not a repeat."""


def without_overlaps(segments: Sequence[Segment]) -> list[Segment]:
    """Segments in time order, none starting before the previous one ends.

    Where two segments overlap, the same audio was transcribed twice: the later segment loses the words
    that lie within the earlier one (a word's middle before the earlier segment's end) and starts after it;
    a segment left without words is dropped. A segment without words, or one overlapping by less than
    half a second (imprecise word times), is only moved.
    """
    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    out: list[Segment] = []
    for seg in ordered:
        if out and seg.start < out[-1].end:
            limit = out[-1].end
            if seg.words and limit - seg.start < _TIMING_SLACK:
                # word times are not that precise: a small overlap is two neighbours, not a repeat
                first = seg.words[0]
                first = replace(first, start=max(first.start, limit), end=max(first.end, limit))
                seg = seg.with_(start=limit, end=max(seg.end, limit), words=(first, *seg.words[1:]))
            elif seg.words:
                words = tuple(w for w in seg.words if (w.start + w.end) / 2 >= limit)
                if not words:
                    continue
                if len(words) != len(seg.words):
                    seg = seg.with_(words=words, text=join_words(words))
                seg = seg.with_(start=max(limit, words[0].start), end=max(seg.end, limit))
            elif seg.end <= limit:
                continue
            else:
                seg = seg.with_(start=limit)
        out.append(seg)
    return out


@dataclass(frozen=True)
class _Run:
    start: float
    end: float
    language: str
    probability: float


def _runs(
    pieces: Sequence[tuple[float, float]], guesses: Sequence[LanguageGuess], languages: Sequence[str]
) -> list[_Run]:
    """Consecutive pieces of one language joined into runs (mean probability of that language)."""
    runs: list[tuple[float, float, str, list[float]]] = []
    for (start, end), guess, language in zip(pieces, guesses, languages, strict=True):
        if runs and runs[-1][2] == language:
            runs[-1] = (runs[-1][0], end, language, [*runs[-1][3], guess.probability_of(language)])
        else:
            runs.append((start, end, language, [guess.probability_of(language)]))
    return [_Run(s, e, lang, float(np.mean(p))) for s, e, lang, p in runs]


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
        replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in segment.words
    )
    return segment.with_(
        start=round(segment.start + offset, 3), end=round(segment.end + offset, 3), words=words
    )
