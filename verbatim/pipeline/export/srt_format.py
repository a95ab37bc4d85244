"""SubRip subtitles (``.srt``)."""

from __future__ import annotations

from verbatim.pipeline.export._common import display_name
from verbatim.pipeline.export._cues import build_cues
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = ["render_srt", "srt_timestamp"]


def srt_timestamp(ms: int) -> str:
    """``HH:MM:SS,mmm`` for a time in milliseconds (hours grow past 99 rather than wrap)."""
    ms = max(0, ms)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def render_srt(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as SubRip subtitles.

    Args:
        transcript: the transcript to render.
        options: line width, cue duration, and ``speaker_labels`` (prefix each cue with ``Name: ``).

    Returns:
        UTF-8 text of numbered cues; empty for a transcript without speech.
    """

    def label(speaker: str | None) -> str:
        name = display_name(transcript, speaker) if options.speaker_labels else None
        return f"{name}: " if name else ""

    blocks = []
    for number, cue in enumerate(build_cues(transcript, options, label=label), start=1):
        timing = f"{srt_timestamp(cue.start_ms)} --> {srt_timestamp(cue.end_ms)}"
        blocks.append("\n".join([str(number), timing, *cue.lines]) + "\n")
    return "\n".join(blocks).encode("utf-8")
