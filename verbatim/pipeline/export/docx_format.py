"""Word document laid out as a French procès-verbal of transcription, on A4.

Every page carries the case number and the hearing in its header and ``page x / y`` (Word PAGE and NUMPAGES
fields) in its footer; the first page has the title, the identification table (hearing, persons present,
recording and its SHA-256, language, models in plain French), the notices, then the speaker turns (one table
with column headers when a translation is shown beside the original), and a certification block to sign.
The content is :func:`~verbatim.pipeline.export._record.build_record`'s, shared with the ODT. Words recognised
with low confidence are underlined in grey for the reviewer. python-docx is imported here only, when a DOCX
is asked for.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from verbatim.pipeline.export._record import (
    AUTOMATIC_NOTE,
    NO_SPEECH,
    Record,
    RecordTurn,
    build_record,
    clean,
)
from verbatim.pipeline.export._translation import OUTDATED_NOTE
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

if TYPE_CHECKING:
    from docx.document import Document
    from docx.text.paragraph import Paragraph

__all__ = ["AUTOMATIC_NOTE", "render_docx"]

_clean = clean


def render_docx(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as a ``.docx`` document (A4, procès-verbal layout).

    Args:
        transcript: the transcript to render.
        options: title, case and hearing fields, transcription date and low-confidence threshold.

    Returns:
        The document's bytes (a ZIP package).
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    record = build_record(transcript, options)
    document = docx.Document()
    section = document.sections[0]
    # A4 with the margins of French administrative documents (python-docx's template is US Letter).
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(20)
    section.header_distance = section.footer_distance = Mm(10)
    if options.line_numbers:
        # Word numbers every line of the section's body (not the header table's cells), anew on each page.
        numbering = OxmlElement("w:lnNumType")
        numbering.set(qn("w:countBy"), "1")
        numbering.set(qn("w:distance"), str(Mm(5).twips))
        numbering.set(qn("w:restart"), "newPage")
        # the schema puts lnNumType after the page margins (pgMar) and before pgNumType/cols
        section._sectPr.find(qn("w:pgMar")).addnext(numbering)
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    if record.language:
        # Spell-checkers and screen readers then use the recording's language.
        lang = OxmlElement("w:lang")
        lang.set(qn("w:val"), record.language)
        normal.element.get_or_add_rPr().append(lang)
    properties = document.core_properties
    properties.title = _clean(record.title)
    properties.subject = _clean(transcript.filename)
    properties.author = "verbatim"

    _running(document, record)
    heading = document.add_heading(_clean(record.title), level=0)
    heading.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _header_table(document, record)
    for notice in record.notices:
        document.add_paragraph().add_run(_clean(notice)).italic = True

    if not record.turns:
        document.add_paragraph(NO_SPEECH)
    elif record.columns is None:
        for turn in record.turns:
            _turn(document, turn)
    else:
        _bilingual(document, record)
    _certification(document, record)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def _header_table(document: Document, record: Record) -> None:
    from docx.shared import Pt

    table = document.add_table(rows=0, cols=2)
    table.style = "Table Grid"
    for label, lines in record.rows:
        cells = table.add_row().cells
        cells[0].paragraphs[0].add_run(_clean(label)).bold = True
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


def _speaker(paragraph: Paragraph, turn: RecordTurn) -> None:
    from docx.shared import RGBColor

    if turn.speaker:
        paragraph.add_run(_clean(turn.speaker)).bold = True
        paragraph.add_run(" ")
    paragraph.add_run(f"[{turn.time}]").font.color.rgb = RGBColor(0x70, 0x70, 0x70)


def _words(paragraph: Paragraph, turn: RecordTurn) -> None:
    from docx.shared import RGBColor

    for text, low in turn.pieces:
        run = paragraph.add_run(_clean(text))
        if low:
            run.underline = True
            run.font.color.rgb = RGBColor(0x70, 0x70, 0x70)


def _turn(document: Document, turn: RecordTurn) -> None:
    from docx.shared import Pt

    head = document.add_paragraph()
    head.paragraph_format.space_before = Pt(8)
    head.paragraph_format.space_after = Pt(0)
    head.paragraph_format.keep_with_next = True
    _speaker(head, turn)
    _words(document.add_paragraph(), turn)


def _bilingual(document: Document, record: Record) -> None:
    """All turns in one table: speaker and time, original, automatic translation; the header row repeats on
    every page."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm

    assert record.columns is not None
    table = document.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    header = table.rows[0]
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(repeat)
    for cell, text in zip(header.cells, record.columns, strict=True):
        cell.paragraphs[0].add_run(_clean(text)).bold = True
    for turn in record.turns:
        cells = table.add_row().cells
        _speaker(cells[0].paragraphs[0], turn)
        _words(cells[1].paragraphs[0], turn)
        right = cells[2].paragraphs[0]
        if turn.translation is None:
            right.add_run("—")
        else:
            if turn.outdated:
                right.add_run(f"[{OUTDATED_NOTE}] ").italic = True
            right.add_run(_clean(turn.translation))
    for column, width in zip(table.columns, (Mm(34), Mm(68), Mm(68)), strict=True):
        for cell in column.cells:
            cell.width = width


def _certification(document: Document, record: Record) -> None:
    from docx.shared import Pt

    title, *lines = record.certification
    head = document.add_paragraph()
    head.paragraph_format.space_before = Pt(18)
    head.paragraph_format.keep_with_next = True
    head.add_run(title).bold = True
    for line in lines:
        paragraph = document.add_paragraph(_clean(line))
        paragraph.paragraph_format.keep_with_next = True
    document.add_paragraph().paragraph_format.space_after = Pt(36)


def _running(document: Document, record: Record) -> None:
    """The header (case, hearing) and the footer (record, page x / y) of every page."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    section = document.sections[0]
    head = section.header.paragraphs[0]
    head.alignment = WD_ALIGN_PARAGRAPH.CENTER
    head.add_run(_clean(record.running_head))
    foot = section.footer.paragraphs[0]
    foot.alignment = WD_ALIGN_PARAGRAPH.CENTER
    foot.add_run(_clean(f"{record.running_foot} — page "))
    _field(foot, "PAGE")
    foot.add_run(" / ")
    _field(foot, "NUMPAGES")
    for paragraph in (head, foot):
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
