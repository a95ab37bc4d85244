"""Plain text: one paragraph per speaker turn, ``[HH:MM:SS] Name : text``."""

from __future__ import annotations

from verbatim.pipeline.export._common import clock, display_name, speaker_turns
from verbatim.pipeline.export._translation import translation_tag, turn_translation
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = ["render_txt"]


def render_txt(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as plain text, paragraphs separated by a blank line.

    Consecutive segments of the same speaker make one paragraph, stamped with the time of its first segment
    and labelled with the speaker's display name (French typography: a space before the colon). Segments
    without a speaker get no label. A translated turn is followed by its translation on the next line,
    indented under the text and tagged with its language (``[en] ...``, with a note when the original was
    corrected after the translation was made), unless ``options.bilingual`` is off.

    Args:
        transcript: the transcript to render.
        options: ``bilingual``: show translations.

    Returns:
        UTF-8 text; empty for a transcript without speech.
    """
    paragraphs = []
    for turn in speaker_turns(transcript):
        name = display_name(transcript, turn.speaker)
        label = f"{name} : " if name else ""
        paragraph = f"[{clock(turn.start)}] {label}{turn.text}"
        translation = turn_translation(turn) if options.bilingual else None
        if translation is not None:
            paragraph += f"\n{' ' * 11}{translation_tag(turn)} {translation}"
        paragraphs.append(paragraph)
    return "\n\n".join(paragraphs).encode("utf-8") + (b"\n" if paragraphs else b"")
