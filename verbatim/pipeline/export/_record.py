"""What a procès-verbal of transcription says, whatever the file format (DOCX, ODT, and the PDF made from it).

:func:`build_record` turns a transcript and the export options into a :class:`Record`: the running head and
foot of every page (case number, hearing, page x / y), the identification table (hearing, persons present,
recording and its SHA-256, language and models in plain French), the notices, the speaker turns (one table
with column headers when a translation is shown beside the original) and the certification block to sign.
The writers of each format lay it out; they say nothing of their own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Final

from verbatim.pipeline.export._common import Turn, clock, display_name, speaker_turns
from verbatim.pipeline.export._translation import OUTDATED_NOTE, translation_language, turn_translation
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = [
    "AUTOMATIC_NOTE",
    "LOW_CONFIDENCE_NOTE",
    "NO_SPEECH",
    "TRANSLATION_NOTE",
    "Record",
    "RecordTurn",
    "build_record",
    "clean",
    "hearing_when",
    "language_name",
    "model_lines",
    "word_pieces",
]

AUTOMATIC_NOTE: Final = (
    "Transcription produite automatiquement par logiciel de reconnaissance vocale. Elle peut contenir des "
    "erreurs et doit être relue et vérifiée au regard de l'enregistrement original, qui seul fait foi."
)
TRANSLATION_NOTE: Final = (
    "Traduction automatique : produite par un logiciel de traduction, non relue par un interprète. Elle peut "
    "contenir des contresens (nombres, négations, noms) et ne fait pas foi ; seul l'original fait foi."
)
LOW_CONFIDENCE_NOTE: Final = (
    "Les mots soulignés en gris ont été reconnus avec une faible confiance : à vérifier."
)
NO_SPEECH: Final = "Aucune parole n'a été détectée dans l'enregistrement."
RECORD_NAME: Final = "Procès-verbal de transcription"

# XML 1.0 refuses these control characters; lxml raises on them, and a stray one must not lose the export.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPACE = re.compile(r"\s+")

# What each model of the transcript's ``models`` does, said to a reader who is not an engineer.
_MODEL_ROLES: Final = {
    "asr": "Reconnaissance de la parole",
    "segmentation": "Détection des tours de parole",
    "speaker_embedding": "Distinction des voix",
    "diarization": "Distinction des voix",
    "translation": "Traduction automatique",
}


def clean(text: str) -> str:
    """``text`` without the control characters XML refuses."""
    return _NOT_XML.sub("", text)


@cache
def _french_languages() -> dict[str, str]:
    from babel import Locale

    return dict(Locale("fr").languages)


def language_name(code: str | None) -> str:
    """A language's name in French (``fr`` -> ``français``; CLDR's names, from Babel); the code itself when
    CLDR has no name for it, ``inconnue`` for none."""
    if not code:
        return "inconnue"
    return _french_languages().get(code.split("-")[0].lower(), code)


def hearing_when(value: str | None) -> str | None:
    """An ISO date or date and time as a French reader writes it (``29/11/2026 à 14 h 30``); the value as
    given when it is not ISO (the request checks it is)."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    date = moment.strftime("%d/%m/%Y")
    if len(value) <= len("2026-11-29"):
        return date
    return f"{date} à {moment.hour} h {moment.minute:02d}"


def model_lines(models: dict[str, dict[str, str]]) -> list[str]:
    """One line per model: what it does in French, its name and its SHA-256 (what identifies it); never a
    path on the server nor the engine's settings."""
    lines: list[str] = []
    for key, info in models.items():
        role = _MODEL_ROLES.get(key.split(":")[0], "Autre modèle")
        name = str(info.get("name") or key.split(":")[-1])
        digest = str(info.get("sha256") or "")
        lines.append(f"{role} : {name}" + (f", empreinte SHA-256 {digest}" if digest else ""))
    return lines


def word_pieces(turn: Turn, threshold: float) -> list[tuple[str, bool]]:
    """The turn's text as (text, low confidence) runs, consecutive words of one kind merged."""
    pieces: list[tuple[str, bool]] = []
    for segment in turn.segments:
        if segment.words:
            # a word glued to the previous one ("d" + "'accord") keeps no space before it; a segment starts
            # a new word whatever its first token says
            tokens = [
                ((w.join if i else " ") + _SPACE.sub(" ", w.text).strip(), w.probability < threshold)
                for i, w in enumerate(segment.words)
            ]
        else:
            tokens = [(" " + _SPACE.sub(" ", segment.text).strip(), False)]
        for text, low in tokens:
            if not text.strip():
                continue
            if not pieces:
                text = text.lstrip()
            if pieces and pieces[-1][1] != low and low and text[:1].isspace():
                # Underline the word, not the space before it.
                pieces[-1] = (pieces[-1][0] + " ", False)
                text = text[1:]
            if pieces and pieces[-1][1] == low:
                pieces[-1] = (pieces[-1][0] + text, low)
            else:
                pieces.append((text, low))
    return [(text.rstrip() if n == len(pieces) - 1 else text, low) for n, (text, low) in enumerate(pieces)]


@dataclass(frozen=True)
class RecordTurn:
    """One speaker turn as printed: who, when, the words (with their low-confidence marks), the translation.

    Attributes:
        speaker: the name shown (``None`` when diarisation did not say).
        time: ``HH:MM:SS`` of its start in the recording.
        pieces: (text, low confidence) runs of the original.
        translation: the translation of the turn, ``None`` without one (or when it is not shown).
        outdated: the translation predates a correction of the original.
    """

    speaker: str | None
    time: str
    pieces: tuple[tuple[str, bool], ...]
    translation: str | None
    outdated: bool


@dataclass(frozen=True)
class Record:
    """The content of the document (see the module's docstring).

    Attributes:
        title: the document's title.
        running_head: printed at the top of every page (case number, hearing).
        running_foot: printed at the bottom of every page, before ``page x / y``.
        rows: the identification table, (label, lines).
        notices: said before the text (automatic transcript, low confidence, automatic translation).
        turns: the speaker turns.
        columns: the headers of the turns' table (speaker, original, translation) when a translation is
            shown; ``None`` for paragraphs.
        certification: the lines of the block to sign.
        language: the recording's language code, for spell-checkers (``None`` when unknown).
    """

    title: str
    running_head: str
    running_foot: str
    rows: tuple[tuple[str, tuple[str, ...]], ...]
    notices: tuple[str, ...]
    turns: tuple[RecordTurn, ...]
    columns: tuple[str, str, str] | None
    certification: tuple[str, ...]
    language: str | None


def build_record(transcript: Transcript, options: ExportOptions) -> Record:
    """The procès-verbal of ``transcript`` laid out by ``options`` (title, case fields, hearing, persons
    present, low-confidence threshold, whether the translation is shown)."""
    turns = list(speaker_turns(transcript))
    shown: list[RecordTurn] = []
    for turn in turns:
        translation = turn_translation(turn) if options.bilingual else None
        outdated = any(s.translation is not None and s.translation.outdated for s in turn.segments)
        shown.append(
            RecordTurn(
                speaker=display_name(transcript, turn.speaker),
                time=clock(turn.start),
                pieces=tuple(word_pieces(turn, options.low_confidence)),
                translation=translation,
                outdated=outdated and translation is not None,
            )
        )
    bilingual = any(t.translation is not None for t in shown)
    notices = [AUTOMATIC_NOTE]
    if options.low_confidence > 0 and any(w.probability < options.low_confidence for w in transcript.words):
        notices.append(LOW_CONFIDENCE_NOTE)
    if bilingual:
        notices.append(TRANSLATION_NOTE)
        if any(t.outdated for t in shown):
            notices.append(
                f"Mention « {OUTDATED_NOTE} » : la traduction n'a pas été refaite après correction."
            )
    columns = None
    if bilingual:
        target = language_name(translation_language(transcript))
        columns = (
            "Intervenant",
            f"Original ({language_name(transcript.language)})",
            f"Traduction automatique ({target})",
        )
    case = f"Procédure n° {options.case_number}" if options.case_number else "Procédure : non renseignée"
    when = hearing_when(options.hearing_date)
    hearing = ", ".join(x for x in (f"audition du {when}" if when else "", options.hearing_place or "") if x)
    head = f"{case} — {hearing}" if hearing else case
    foot = f"{RECORD_NAME} — {transcript.filename}" if transcript.filename else RECORD_NAME
    return Record(
        title=options.title,
        running_head=head,
        running_foot=foot,
        rows=tuple(_rows(transcript, options)),
        notices=tuple(notices),
        turns=tuple(shown),
        columns=columns,
        certification=_certification(options),
        language=transcript.language,
    )


def _rows(transcript: Transcript, options: ExportOptions) -> list[tuple[str, tuple[str, ...]]]:
    date = options.transcription_date or dt.date.today()
    language = language_name(transcript.language)
    if transcript.language and transcript.language_probability < 1.0:
        language += f" (détectée, probabilité {transcript.language_probability:.2f})".replace(".", ",")
    rows: list[tuple[str, tuple[str, ...]]] = []
    if options.case_number:
        rows.append(("Procédure n°", (options.case_number,)))
    rows.extend((label, (value,)) for label, value in options.case_fields)
    when = hearing_when(options.hearing_date)
    if when:
        rows.append(("Date et heure de l'audition", (when,)))
    if options.hearing_place:
        rows.append(("Lieu", (options.hearing_place,)))
    if options.persons_present:
        rows.append(("Personnes présentes", tuple(options.persons_present)))
    rows += [
        ("Enregistrement", (transcript.filename or "—",)),
        ("Empreinte SHA-256", (transcript.audio_sha256 or "—",)),
        ("Durée", (clock(transcript.duration),)),
        ("Langue", (language,)),
    ]
    if transcript.warnings:  # a damaged recording is said where a reader looks first
        rows.append(("Avertissement", tuple(w.message for w in transcript.warnings)))
    spoken = sorted({s.language for s in transcript.segments if s.language})
    if len(spoken) > 1:
        rows.append(("Langues parlées", (", ".join(language_name(code) for code in spoken),)))
    target = translation_language(transcript)
    if target and options.bilingual:
        rows.append(("Traduction automatique vers", (language_name(target),)))
    speakers = [_speaker_line(transcript, s) for s in transcript.speakers]
    if speakers:
        rows.append(("Locuteurs", (", ".join(speakers),)))
    rows.append(("Date de transcription", (date.strftime("%d/%m/%Y"),)))
    rows.append(("Modèles", tuple(model_lines(transcript.models)) or ("—",)))
    return rows


def _speaker_line(transcript: Transcript, speaker: str) -> str:
    """A speaker as the header lists it; one named after an enrolled voice says so, with the similarity."""
    name = display_name(transcript, speaker) or speaker
    match = transcript.voices.get(speaker)
    if match is None:
        return name
    similarity = f"{match.similarity:.2f}".replace(".", ",")
    return f"{name} (voix enregistrée reconnue, similarité {similarity})"


def _certification(options: ExportOptions) -> tuple[str, ...]:
    place = options.hearing_place or "…………………………"
    return (
        "Certification",
        "Je soussigné(e) certifie avoir relu la présente transcription et l'avoir vérifiée au regard de "
        "l'enregistrement original.",
        f"Fait à {place}, le …………………………",
        "Nom, prénom et qualité : ……………………………………………………",
        "Signature :",
    )
