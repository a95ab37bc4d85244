"""Subtitle cues shared by SRT and VTT: at most two lines, at most a few seconds, cut at word boundaries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verbatim.pipeline.export._common import normalize_space
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Segment, Transcript

__all__ = ["Cue", "build_cues", "wrap"]

_MAX_LINES = 2
_MIN_CUE_MS = 500
"""A cue whose words have no duration is shown this long (less if the next cue starts sooner)."""


@dataclass(frozen=True)
class Cue:
    """One subtitle: times in whole milliseconds, end > start, text already cut into lines."""

    start_ms: int
    end_ms: int
    lines: tuple[str, ...]
    speaker: str | None


def wrap(tokens: Sequence[str], width: int) -> list[str]:
    """Greedy wrap of ``tokens`` into lines of at most ``width`` characters (a longer token stays whole)."""
    lines: list[str] = []
    for token in tokens:
        if lines and len(lines[-1]) + 1 + len(token) <= width:
            lines[-1] += " " + token
        else:
            lines.append(token)
    return lines


def _balanced(tokens: Sequence[str], width: int) -> tuple[str, ...]:
    """Lines of a cue that fits in two: one line when it fits, else the most even cut into two."""
    text = " ".join(tokens)
    if len(text) <= width or len(tokens) < 2:
        return (text,)
    best: tuple[str, str] | None = None
    for cut in range(1, len(tokens)):
        first, second = " ".join(tokens[:cut]), " ".join(tokens[cut:])
        if best is None or max(len(first), len(second)) < max(len(best[0]), len(best[1])):
            best = (first, second)
    assert best is not None  # len(tokens) >= 2
    if max(len(best[0]), len(best[1])) > width:
        # A token longer than a line: fall back to the greedy cut, which never loses text.
        return tuple(wrap(tokens, width))
    return best


def _timed_tokens(segment: Segment) -> list[tuple[float, float, str]]:
    """(start, end, token) for each word; a segment without words is cut into words timed by their length."""
    if segment.words:
        timed = [(w.start, w.end, normalize_space(w.text)) for w in segment.words]
        return [t for t in timed if t[2]]
    tokens = normalize_space(segment.text).split(" ")
    tokens = [t for t in tokens if t]
    total = sum(len(t) + 1 for t in tokens)
    span = max(0.0, segment.end - segment.start)
    timed_tokens: list[tuple[float, float, str]] = []
    offset = 0
    for token in tokens:
        start = segment.start + span * offset / total
        offset += len(token) + 1
        timed_tokens.append((start, segment.start + span * offset / total, token))
    return timed_tokens


def build_cues(
    transcript: Transcript,
    options: ExportOptions,
    *,
    label: Callable[[str | None], str] | None = None,
) -> list[Cue]:
    """Cut the transcript into subtitle cues.

    Each segment starts a new cue (so a cue has one speaker); words are added while the cue fits in two lines
    of ``options.max_line_chars`` and lasts at most ``options.max_cue_duration``.

    Args:
        transcript: the transcript to cut.
        options: line width and cue duration.
        label: text shown before each cue's first word, given the cue's speaker (e.g. ``"Name: "``); it
            counts towards the first line's width.

    Returns:
        Cues in time order, each with end_ms > start_ms.
    """
    width = max(1, options.max_line_chars)
    raw: list[tuple[float, float, list[str], str | None]] = []
    for segment in transcript.segments:
        prefix = label(segment.speaker) if label else ""
        current: list[str] = []
        start = end = 0.0
        for w_start, w_end, token in _timed_tokens(segment):
            if not current:
                token = prefix + token
            fits = len(wrap([*current, token], width)) <= _MAX_LINES
            short = w_end - start <= options.max_cue_duration
            if current and not (fits and short):
                raw.append((start, end, current, segment.speaker))
                current = []
                token = prefix + token
            if not current:
                start = w_start
            current.append(token)
            end = max(end, w_end) if len(current) > 1 else w_end
        if current:
            raw.append((start, end, current, segment.speaker))

    raw.sort(key=lambda c: c[0])
    cues: list[Cue] = []
    for n, (start, end, tokens, speaker) in enumerate(raw):
        start_ms = max(0, round(start * 1000))
        end_ms = round(end * 1000)
        if end_ms <= start_ms:
            # Zero-length words (Whisper emits some): show the cue briefly, without running into the next one.
            next_start = round(raw[n + 1][0] * 1000) if n + 1 < len(raw) else 0
            if next_start <= start_ms:
                next_start = start_ms + _MIN_CUE_MS
            end_ms = max(start_ms + 1, min(start_ms + _MIN_CUE_MS, next_start))
        cues.append(Cue(start_ms, end_ms, _balanced(tokens, width), speaker))
    return cues
