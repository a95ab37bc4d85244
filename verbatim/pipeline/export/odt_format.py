"""OpenDocument text (ODT, the French administration's open format) laid out as the DOCX is: A4, the case
and hearing in the header of every page, ``page x / y`` in its footer, the identification table, the notices,
the turns (one table with column headers when a translation is shown) and the certification block.

The content is :func:`~verbatim.pipeline.export._record.build_record`'s; odfpy is imported here only, when an
ODT (or a PDF, made from it) is asked for.
"""

from __future__ import annotations

import io
from typing import Any

from verbatim.pipeline.export._record import NO_SPEECH, Record, RecordTurn, build_record, clean
from verbatim.pipeline.export._translation import OUTDATED_NOTE
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = ["render_odt"]

_GREY = "#707070"
_BORDER = "0.5pt solid #000000"


def render_odt(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as an ``.odt`` document (A4, procès-verbal layout).

    Args:
        transcript: the transcript to render.
        options: title, case and hearing fields, transcription date and low-confidence threshold.

    Returns:
        The document's bytes (a ZIP package).
    """
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    record = build_record(transcript, options)
    document = OpenDocumentText()
    styles = _Styles(document, record)
    if options.line_numbers:
        from odf.text import LinenumberingConfiguration

        # Every line of the body numbered in the left margin, anew on each page (headers and footers are not).
        numbering = LinenumberingConfiguration(
            numberlines="true", numformat="1", increment="1", restartonpage="true",
            numberposition="left", offset="0.5cm", countemptylines="false",
        )  # fmt: skip
        document.styles.addElement(numbering)
    document.meta.addElement(_meta("Title", record.title))
    body = document.text
    body.addElement(P(stylename=styles.title, text=clean(record.title)))
    body.addElement(_rows_table(record, styles))
    for notice in record.notices:
        body.addElement(P(stylename=styles.notice, text=clean(notice)))
    if not record.turns:
        body.addElement(P(stylename=styles.body, text=NO_SPEECH))
    elif record.columns is None:
        for turn in record.turns:
            body.addElement(_speaker(P(stylename=styles.turn_head), turn, styles))
            body.addElement(_words(P(stylename=styles.body), turn, styles))
    else:
        body.addElement(_bilingual(record, styles))
    title, *lines = record.certification
    body.addElement(P(stylename=styles.certification, text=title))
    for line in lines:
        body.addElement(P(stylename=styles.keep, text=clean(line)))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def _meta(name: str, value: str) -> Any:
    from odf import dc

    element = getattr(dc, name)()
    element.addText(clean(value))
    return element


class _Styles:
    """The page (A4, header and footer on every page) and the paragraph, text and table styles."""

    def __init__(self, document: Any, record: Record) -> None:
        from odf.style import (
            Footer,
            FooterStyle,
            Header,
            HeaderFooterProperties,
            HeaderStyle,
            MasterPage,
            PageLayout,
            PageLayoutProperties,
            ParagraphProperties,
            Style,
            TableCellProperties,
            TableColumnProperties,
            TableProperties,
            TextProperties,
        )
        from odf.text import P, PageCount, PageNumber

        language = {"language": record.language, "country": "none"} if record.language else {}
        default = Style(name="Standard", family="paragraph")
        default.addElement(TextProperties(fontsize="11pt", fontfamily="Liberation Sans", **language))
        document.styles.addElement(default)

        layout = PageLayout(name="A4")
        layout.addElement(
            PageLayoutProperties(
                pagewidth="210mm", pageheight="297mm", printorientation="portrait",
                margintop="10mm", marginbottom="10mm", marginleft="20mm", marginright="20mm",
            )
        )  # fmt: skip
        header_style = HeaderStyle()
        header_style.addElement(HeaderFooterProperties(minheight="0mm", marginbottom="5mm"))
        layout.addElement(header_style)
        footer_style = FooterStyle()
        footer_style.addElement(HeaderFooterProperties(minheight="0mm", margintop="5mm"))
        layout.addElement(footer_style)
        document.automaticstyles.addElement(layout)

        def paragraph(name: str, *, text: dict[str, str] | None = None, **props: str) -> Any:
            style = Style(name=name, family="paragraph", parentstylename="Standard")
            if props:
                style.addElement(ParagraphProperties(**props))
            if text:
                style.addElement(TextProperties(**text))
            document.styles.addElement(style)
            return style

        self.small = paragraph("Running", text={"fontsize": "8pt"}, textalign="center")
        self.title = paragraph(
            "PvTitle", text={"fontsize": "16pt", "fontweight": "bold"}, textalign="center", marginbottom="4mm"
        )
        self.notice = paragraph("PvNotice", text={"fontstyle": "italic"}, margintop="2mm")
        self.body = paragraph("PvBody", marginbottom="1mm")
        self.turn_head = paragraph("PvTurnHead", margintop="3mm", keepwithnext="always")
        self.certification = paragraph(
            "PvCertification", text={"fontweight": "bold"}, margintop="8mm", keepwithnext="always"
        )
        self.keep = paragraph("PvKeep", keepwithnext="always")

        def text(name: str, **props: str) -> Any:
            style = Style(name=name, family="text")
            style.addElement(TextProperties(**props))
            document.styles.addElement(style)
            return style

        self.bold = text("PvBold", fontweight="bold")
        self.italic = text("PvItalic", fontstyle="italic")
        self.grey = text("PvGrey", color=_GREY)
        self.low = text(
            "PvLow",
            color=_GREY,
            textunderlinestyle="solid",
            textunderlinewidth="auto",
            textunderlinecolor="font-color",
        )
        self.mono = text("PvMono", fontfamily="Liberation Mono", fontsize="8pt")

        self.cell = Style(name="PvCell", family="table-cell")
        self.cell.addElement(TableCellProperties(border=_BORDER, padding="1mm"))
        document.automaticstyles.addElement(self.cell)
        self.tables: dict[str, Any] = {}
        self.columns: dict[str, Any] = {}
        for name, widths in (("PvRows", ("50mm", "120mm")), ("PvTurns", ("34mm", "68mm", "68mm"))):
            table = Style(name=name, family="table")
            table.addElement(TableProperties(width="170mm", align="left"))
            document.automaticstyles.addElement(table)
            self.tables[name] = table
            for n, width in enumerate(widths):
                column = Style(name=f"{name}.{n}", family="table-column")
                column.addElement(TableColumnProperties(columnwidth=width))
                document.automaticstyles.addElement(column)
                self.columns[f"{name}.{n}"] = column

        master = MasterPage(name="Standard", pagelayoutname=layout)
        header = Header()
        header.addElement(P(stylename=self.small, text=clean(record.running_head)))
        master.addElement(header)
        footer = Footer()
        foot = P(stylename=self.small, text=clean(f"{record.running_foot} — page "))
        foot.addElement(PageNumber(selectpage="current"))
        foot.addText(" / ")
        foot.addElement(PageCount())
        footer.addElement(foot)
        master.addElement(footer)
        document.masterstyles.addElement(master)


def _table(name: str, styles: _Styles, count: int) -> Any:
    from odf.table import Table, TableColumn

    table = Table(name=name, stylename=styles.tables[name])
    for n in range(count):
        table.addElement(TableColumn(stylename=styles.columns[f"{name}.{n}"]))
    return table


def _cell(*paragraphs: Any, styles: _Styles) -> Any:
    from odf.table import TableCell

    cell = TableCell(stylename=styles.cell, valuetype="string")
    for paragraph in paragraphs:
        cell.addElement(paragraph)
    return cell


def _rows_table(record: Record, styles: _Styles) -> Any:
    from odf.table import TableRow
    from odf.text import P, Span

    table = _table("PvRows", styles, 2)
    for label, lines in record.rows:
        row = TableRow()
        head = P(stylename=styles.body)
        head.addElement(Span(stylename=styles.bold, text=clean(label)))
        values = []
        for line in lines:
            paragraph = P(stylename=styles.body)
            if label == "Empreinte SHA-256":
                paragraph.addElement(Span(stylename=styles.mono, text=clean(line)))
            else:
                paragraph.addText(clean(line))
            values.append(paragraph)
        row.addElement(_cell(head, styles=styles))
        row.addElement(_cell(*values, styles=styles))
        table.addElement(row)
    return table


def _speaker(paragraph: Any, turn: RecordTurn, styles: _Styles) -> Any:
    from odf.text import Span

    if turn.speaker:
        paragraph.addElement(Span(stylename=styles.bold, text=clean(turn.speaker)))
        paragraph.addText(" ")
    paragraph.addElement(Span(stylename=styles.grey, text=f"[{turn.time}]"))
    return paragraph


def _words(paragraph: Any, turn: RecordTurn, styles: _Styles) -> Any:
    from odf.text import Span

    for text, low in turn.pieces:
        if low:
            paragraph.addElement(Span(stylename=styles.low, text=clean(text)))
        else:
            paragraph.addText(clean(text))
    return paragraph


def _bilingual(record: Record, styles: _Styles) -> Any:
    """All turns in one table whose header row repeats on every page."""
    from odf.table import TableHeaderRows, TableRow
    from odf.text import P, Span

    assert record.columns is not None
    table = _table("PvTurns", styles, 3)
    headers = TableHeaderRows()
    row = TableRow()
    for text in record.columns:
        paragraph = P(stylename=styles.body)
        paragraph.addElement(Span(stylename=styles.bold, text=clean(text)))
        row.addElement(_cell(paragraph, styles=styles))
    headers.addElement(row)
    table.addElement(headers)
    for turn in record.turns:
        row = TableRow()
        row.addElement(_cell(_speaker(P(stylename=styles.body), turn, styles), styles=styles))
        row.addElement(_cell(_words(P(stylename=styles.body), turn, styles), styles=styles))
        right = P(stylename=styles.body)
        if turn.translation is None:
            right.addText("—")
        else:
            if turn.outdated:
                right.addElement(Span(stylename=styles.italic, text=f"[{OUTDATED_NOTE}] "))
            right.addText(clean(turn.translation))
        row.addElement(_cell(right, styles=styles))
        table.addElement(row)
    return table
