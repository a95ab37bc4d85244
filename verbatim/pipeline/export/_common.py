"""Helpers shared by the text formats: timestamps, speaker names, speaker turns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from verbatim.pipeline.types import Segment, Transcript

__all__ = ["Turn", "clock", "display_name", "normalize_space", "speaker_turns"]

_SPACE = re.compile(r"\s+")


def clock(seconds: float) -> str:
    """``HH:MM:SS`` (hours not capped at 99), truncated to the second; negative times read as 0."""
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def display_name(transcript: Transcript, speaker: str | None) -> str | None:
    """The name a reader sees for ``speaker``: its display name if set, else its id; ``None`` for none."""
    if speaker is None:
        return None
    return normalize_space(transcript.speakers.get(speaker) or "") or speaker


def normalize_space(text: str) -> str:
    """Collapse runs of whitespace (newlines included) into one space and trim."""
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Turn:
    """Consecutive segments of one speaker, read as one paragraph."""

    speaker: str | None
    start: float
    segments: tuple[Segment, ...]

    @property
    def text(self) -> str:
        return normalize_space(" ".join(s.text for s in self.segments))


def speaker_turns(transcript: Transcript) -> Iterator[Turn]:
    """Group consecutive segments of the same speaker; segments without a speaker stay on their own.

    Segments with no text are skipped.
    """
    group: list[Segment] = []
    for segment in transcript.segments:
        if not segment.text.strip():
            continue
        if group and (segment.speaker is None or segment.speaker != group[-1].speaker):
            yield Turn(group[0].speaker, group[0].start, tuple(group))
            group = []
        group.append(segment)
    if group:
        yield Turn(group[0].speaker, group[0].start, tuple(group))
