"""Options shared by the export formats."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["ExportOptions"]


@dataclass(frozen=True)
class ExportOptions:
    """How a transcript is rendered; each format reads the fields that concern it.

    Attributes:
        title: document title (DOCX).
        case_fields: (label, value) pairs shown at the top of the DOCX header table, e.g.
            ``(("Affaire", "2024/1234"), ("Service", "Brigade de protection des familles"))``.
        transcription_date: date printed in the DOCX header; ``None`` means today.
        speaker_labels: prefix SRT cues with ``Name: `` and tag VTT cues with ``<v Name>``.
        max_line_chars: longest subtitle line (SRT, VTT); a cue holds at most two lines.
        max_cue_duration: longest subtitle cue in seconds (SRT, VTT); a single longer word still makes one
            cue.
        low_confidence: words below this probability are shown underlined in grey for review (DOCX); 0 turns
            it off.
        subtitles: ``original`` or ``translation``: which text SRT and VTT show (the translation needs a
            transcript made with a translation).
        bilingual: TXT and DOCX show each turn's translation beside the original, when there is one.
        case_number: the case (procédure) number, printed in the header of every page (DOCX, ODT, PDF).
        hearing_place: where the hearing took place.
        hearing_date: when: an ISO date or date and time (``2026-11-29`` or ``2026-11-29T14:30``).
        persons_present: the persons present, each with their role (``Mme Durand (greffière)``).
        line_numbers: number the lines in the left margin, restarting on each page (DOCX, ODT, PDF).
    """

    title: str = "Transcription d'audition"
    case_fields: tuple[tuple[str, str], ...] = ()
    transcription_date: dt.date | None = None
    speaker_labels: bool = True
    max_line_chars: int = 42
    max_cue_duration: float = 6.0
    low_confidence: float = 0.5
    subtitles: Literal["original", "translation"] = "original"
    bilingual: bool = True
    case_number: str | None = None
    hearing_place: str | None = None
    hearing_date: str | None = None
    persons_present: tuple[str, ...] = ()
    line_numbers: bool = False
