"""Word document laid out as a French hearing transcript (procès-verbal style).

Title, a header table identifying the case and the recording (file name, SHA-256, duration, language, date,
models), a warning that the text is an automatic transcript to be checked against the recording, then the
speaker turns (with their translation beside them, in a two-column table, when the transcript has one).
Words recognised with low confidence are underlined in grey for the reviewer. python-docx is
imported here only, when a DOCX is asked for.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import TYPE_CHECKING

from verbatim.pipeline.export._common import Turn, clock, display_name, speaker_turns
from verbatim.pipeline.export._translation import translation_language, translation_tag, turn_translation
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

if TYPE_CHECKING:
    from docx.document import Document
    from docx.text.paragraph import Paragraph

__all__ = ["AUTOMATIC_NOTE", "render_docx"]

AUTOMATIC_NOTE = (
    "Transcription produite automatiquement par logiciel de reconnaissance vocale. Elle peut contenir des "
    "erreurs et doit être relue et vérifiée au regard de l'enregistrement original, qui seul fait foi."
)
_LOW_CONFIDENCE_NOTE = "Les mots soulignés en gris ont été reconnus avec une faible confiance : à vérifier."
_NO_SPEECH = "Aucune parole n'a été détectée dans l'enregistrement."

# XML 1.0 refuses these control characters; lxml raises on them, and a stray one must not lose the export.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_SPACE = re.compile(r"\s+")


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def render_docx(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as a ``.docx`` document.

    Args:
        transcript: the transcript to render.
        options: title, case fields, transcription date and low-confidence threshold.

    Returns:
        The document's bytes (a ZIP package).
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Pt

    document = docx.Document()
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    if transcript.language:
        # Spell-checkers and screen readers then use the recording's language.
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), transcript.language)
        normal.element.get_or_add_rPr().append(lang)
    properties = document.core_properties
    properties.title = _clean(options.title)
    properties.subject = _clean(transcript.filename)
    properties.author = "verbatim"

    heading = document.add_heading(_clean(options.title), level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER

    _header_table(document, transcript, options)

    note = document.add_paragraph()
    note.add_run(AUTOMATIC_NOTE).italic = True
    if options.low_confidence > 0 and any(w.probability < options.low_confidence for w in transcript.words):
        legend = document.add_paragraph()
        legend.add_run(_LOW_CONFIDENCE_NOTE).italic = True

    turns = list(speaker_turns(transcript))
    if not turns:
        document.add_paragraph(_NO_SPEECH)
    for turn in turns:
        _turn(document, transcript, turn, options)

    _footer(document, transcript)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _header_table(document: Document, transcript: Transcript, options: ExportOptions) -> None:
    from docx.shared import Pt

    date = options.transcription_date or dt.date.today()
    language = transcript.language or "inconnue"
    if transcript.language and transcript.language_probability < 1.0:
        language += f" (détectée, probabilité {transcript.language_probability:.2f})".replace(".", ",")
    speakers = [display_name(transcript, s) or s for s in transcript.speakers]
    rows: list[tuple[str, str | list[str]]] = [
        *options.case_fields,
        ("Enregistrement", transcript.filename or "—"),
        ("Empreinte SHA-256", transcript.audio_sha256 or "—"),
        ("Durée", clock(transcript.duration)),
        ("Langue", language),
    ]
    if transcript.warnings:  # a damaged recording is said where a reader looks first
        rows.append(("Avertissement", [w.message for w in transcript.warnings]))
    spoken = sorted({s.language for s in transcript.segments if s.language})
    if len(spoken) > 1:
        rows.append(("Langues parlées", ", ".join(spoken)))
    target = translation_language(transcript)
    if target:
        rows.append(("Traduction", f"vers {target} (à côté de chaque intervention)"))
    if speakers:
        rows.append(("Locuteurs", ", ".join(speakers)))
    rows.append(("Date de transcription", date.strftime("%d/%m/%Y")))
    rows.append(("Modèles", [_model_line(name, info) for name, info in transcript.models.items()] or "—"))

    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(_clean(label)).bold = True
        lines = value if isinstance(value, list) else [value]
        paragraph = cells[1].paragraphs[0]
        for n, line in enumerate(lines):
            if n:
                paragraph = cells[1].add_paragraph()
            run = paragraph.add_run(_clean(line))
            if label == "Empreinte SHA-256":
                # A hash is compared character by character: monospace, and small enough to fit one line.
                run.font.name = "Courier New"
                run.font.size = Pt(8)
    document.add_paragraph()


def _model_line(name: str, info: dict[str, str]) -> str:
    main = info.get("name", "")
    details = ", ".join(f"{k} : {v}" for k, v in info.items() if k != "name")
    line = f"{name} : {main}" if main else f"{name}"
    if details:
        line += f" ({details})" if main else f" : {details}"
    return line


def _turn(document: Document, transcript: Transcript, turn: Turn, options: ExportOptions) -> None:
    from docx.shared import Pt, RGBColor

    grey = RGBColor(0x70, 0x70, 0x70)
    head = document.add_paragraph()
    head.paragraph_format.space_before = Pt(8)
    head.paragraph_format.space_after = Pt(0)
    head.paragraph_format.keep_with_next = True
    name = display_name(transcript, turn.speaker)
    if name:
        head.add_run(_clean(name)).bold = True
        head.add_run(" ")
    stamp = head.add_run(f"[{clock(turn.start)}]")
    stamp.font.color.rgb = grey

    translation = turn_translation(turn) if options.bilingual else None
    if translation is None:
        body = document.add_paragraph()
    else:
        # Original and translation side by side: one row, two columns, the translation's language stated.
        table = document.add_table(rows=1, cols=2)
        table.style = "Table Grid"
        body = table.rows[0].cells[0].paragraphs[0]
        right = table.rows[0].cells[1].paragraphs[0]
        tag = right.add_run(f"{translation_tag(turn)} ")
        tag.font.color.rgb = grey
        right.add_run(_clean(translation))
    for text, low in _pieces(turn, options.low_confidence):
        run = body.add_run(_clean(text))
        if low:
            run.underline = True
            run.font.color.rgb = grey


def _pieces(turn: Turn, threshold: float) -> list[tuple[str, bool]]:
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


def _footer(document: Document, transcript: Transcript) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    prefix = f"{transcript.filename} — " if transcript.filename else ""
    paragraph.add_run(_clean(f"{prefix}page "))
    _field(paragraph, "PAGE")
    paragraph.add_run(" / ")
    _field(paragraph, "NUMPAGES")
    for run in paragraph.runs:
        run.font.size = Pt(8)


def _field(paragraph: Paragraph, instruction: str) -> None:
    """A Word field (PAGE, NUMPAGES) that the word processor computes when it lays the document out."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    run = paragraph.add_run()
    begin = OxmlElement("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    code = OxmlElement("w:instrText")
    code.set(qn("xml:space"), "preserve")
    code.text = f" {instruction} "
    separate = OxmlElement("w:fldChar")
    separate.set(qn("w:fldCharType"), "separate")
    shown = OxmlElement("w:t")
    shown.text = "1"
    end = OxmlElement("w:fldChar")
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, separate, shown, end):
        run._r.append(element)
