"""Translations in the exports: the translated view of a transcript (subtitles of the translation) and the
translation of a speaker turn (bilingual text and DOCX, original and translation side by side)."""

from __future__ import annotations

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.export._common import Turn, normalize_space
from verbatim.pipeline.types import Transcript

__all__ = [
    "OUTDATED_NOTE",
    "has_translation",
    "translation_language",
    "translation_tag",
    "translation_view",
    "turn_translation",
]

OUTDATED_NOTE = "traduction antérieure à une correction de l'original"
"""Said beside a translation made before its original text was corrected (bilingual TXT and DOCX)."""


def has_translation(transcript: Transcript) -> bool:
    """Whether any segment carries a translation."""
    return any(s.translation is not None for s in transcript.segments)


def translation_language(transcript: Transcript) -> str | None:
    """The language segments were translated into (the first translation's), ``None`` without any."""
    return next((s.translation.language for s in transcript.segments if s.translation is not None), None)


def turn_translation(turn: Turn) -> str | None:
    """The translation of a turn's segments, joined; ``None`` when none of them is translated."""
    texts = [s.translation.text for s in turn.segments if s.translation is not None]
    if not texts:
        return None
    return normalize_space(" ".join(texts))


def translation_tag(turn: Turn) -> str:
    """The tag before a turn's translation: its language (``[en]``), and :data:`OUTDATED_NOTE` when some of
    its segments were corrected after they were translated.
    """
    translations = [s.translation for s in turn.segments if s.translation is not None]
    language = translations[0].language if translations else ""
    if any(t.outdated for t in translations):
        return f"[{language}, {OUTDATED_NOTE}]"
    return f"[{language}]"


def translation_view(transcript: Transcript) -> Transcript:
    """The transcript with each segment's text replaced by its translation (same speakers and times).

    Words are dropped: their times belong to the original language; subtitle cues then spread the translated
    words over the segment's time.

    Raises:
        InvalidOptionError: the transcript has no translation.
    """
    if not has_translation(transcript):
        raise InvalidOptionError(
            "This transcript has no translation: transcribe it with --translate-to LANG (API: translate_to)."
        )
    segments = tuple(
        s.with_(text=s.translation.text, words=(), language=s.translation.language)
        if s.translation is not None
        else s
        for s in transcript.segments
    )
    return transcript.with_(
        segments=segments, language=translation_language(transcript) or transcript.language
    )
