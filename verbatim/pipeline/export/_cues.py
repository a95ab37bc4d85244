"""Subtitle cues shared by SRT and VTT (both render the same cues), following common broadcast rules.

- A cue holds at most two lines of at most ``max_line_chars`` (42) characters and lasts at most
  ``max_cue_duration`` seconds.
- It stays on screen at least :data:`MIN_CUE_SECONDS` (1 s), unless the next cue starts sooner: a 0.1 s cue
  cannot be read.
- It is never cut inside a word: tokens Whisper glued to the previous one (``Word.join == ""``: "d" +
  "'accord", "États" + "-Unis", "aujourd" + "'hui") travel with it, to the same cue and the same line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verbatim.pipeline.export._common import normalize_space
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Segment, Transcript

__all__ = ["MIN_CUE_SECONDS", "Cue", "build_cues", "wrap"]

_MAX_LINES = 2
MIN_CUE_SECONDS = 1.0
"""Shortest time a cue stays on screen, unless the next cue starts sooner."""


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
    """(start, end, token) for each whole word: tokens joined to the previous one (``join == ""``) are glued
    to it, so no cue or line ever cuts a word apart. A segment without words is cut into its space-separated
    words, timed by their length."""
    if segment.words:
        timed: list[tuple[float, float, str]] = []
        for word in segment.words:
            token = normalize_space(word.text)
            if not token:
                continue
            if timed and not word.join:
                start, end, previous = timed[-1]
                timed[-1] = (start, max(end, word.end), previous + token)
            else:
                timed.append((word.start, word.end, token))
        return timed
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
    min_ms = round(MIN_CUE_SECONDS * 1000)
    cues: list[Cue] = []
    for n, (start, end, tokens, speaker) in enumerate(raw):
        start_ms = max(0, round(start * 1000))
        end_ms = max(round(end * 1000), start_ms + min_ms)
        later = [round(c[0] * 1000) for c in raw[n + 1 :] if round(c[0] * 1000) > start_ms]
        if later:
            # never run into the next cue: a short cue is stretched up to it, at most
            end_ms = min(end_ms, later[0])
        if transcript.duration > 0:
            end_ms = min(end_ms, max(round(end * 1000), round(transcript.duration * 1000)))
        cues.append(Cue(start_ms, max(end_ms, start_ms + 1), _balanced(tokens, width), speaker))
    return cues
