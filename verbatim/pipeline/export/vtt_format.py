"""WebVTT subtitles (``.vtt``), with speakers as voice spans."""

from __future__ import annotations

from verbatim.pipeline.export._common import display_name
from verbatim.pipeline.export._cues import build_cues
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = ["render_vtt", "vtt_escape", "vtt_timestamp"]


def vtt_timestamp(ms: int) -> str:
    """``HH:MM:SS.mmm`` for a time in milliseconds (hours grow past 99 rather than wrap)."""
    ms = max(0, ms)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def vtt_escape(text: str) -> str:
    """Escape what WebVTT cue text reserves: ``&``, ``<``, ``>`` (escaping ``>`` also keeps ``-->`` out)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_vtt(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as WebVTT subtitles.

    Args:
        transcript: the transcript to render.
        options: line width, cue duration, and ``speaker_labels`` (open each cue with ``<v Name>``).

    Returns:
        UTF-8 text starting with the ``WEBVTT`` header; only the header for a transcript without speech.
    """
    blocks = ["WEBVTT\n"]
    for cue in build_cues(transcript, options):
        lines = [vtt_escape(line) for line in cue.lines]
        name = display_name(transcript, cue.speaker) if options.speaker_labels else None
        if name:
            lines[0] = f"<v {vtt_escape(name)}>{lines[0]}"
        timing = f"{vtt_timestamp(cue.start_ms)} --> {vtt_timestamp(cue.end_ms)}"
        blocks.append("\n".join([timing, *lines]) + "\n")
    return "\n".join(blocks).encode("utf-8")
