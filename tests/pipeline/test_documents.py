"""The documents a court files: DOCX, ODT and PDF/A laid out as a procès-verbal, on A4.

The PDFs are made by the real LibreOffice (Debian's ``libreoffice-writer-nogui``, installed by
scripts/setup.sh) and read back with pypdf; the DOCX is also rendered by LibreOffice, so that its Word fields
(``page x / y``) and its header are checked on every laid-out page, not only in the XML.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from pathlib import Path

import pytest

from tests.pipeline.test_export import SHA, _hearing
from verbatim.errors import DocumentEngineError
from verbatim.pipeline.export import ExportOptions, render
from verbatim.pipeline.export._record import TRANSLATION_NOTE, hearing_when, language_name, model_lines
from verbatim.pipeline.export.pdf_format import find_soffice, to_pdf
from verbatim.pipeline.types import Segment, SegmentTranslation, Transcript, Word

CASE = ExportOptions(
    case_number="2026/00123",
    hearing_place="Lyon",
    hearing_date="2026-11-29T14:30",
    persons_present=("Mme Durand (greffière)", "M. Martin (témoin)"),
    transcription_date=dt.date(2026, 11, 30),
)
A4_POINTS = (595.3, 841.9)


def _long(translated: bool = False) -> Transcript:
    """About 60 turns of two speakers (several pages), the last turn's words corrected to a known phrase."""
    segments = []
    for n in range(60):
        text = f"Question numéro {n} posée au témoin sur les faits du dossier, qui répond longuement."
        if n == 59:
            text = "Le véhicule était garé rue Zanzibar."
        words = tuple(
            Word(n * 10 + i * 0.3, n * 10 + i * 0.3 + 0.3, f" {w}", 0.9) for i, w in enumerate(text.split())
        )
        translation = (
            SegmentTranslation("en", f"Question number {n} asked of the witness.", "nllb")
            if translated
            else None
        )
        segments.append(
            Segment(
                id=n, start=n * 10.0, end=n * 10 + 5.0, text=" " + text, words=words,
                speaker=f"S{n % 2}", translation=translation,
            )
        )  # fmt: skip
    return Transcript(
        language="fr",
        duration=600.0,
        segments=tuple(segments),
        audio_sha256=SHA,
        filename="audition.wav",
        models={"asr": {"name": "whisper-base", "sha256": SHA, "path": "/srv/models/whisper-base"}},
        speakers={"S0": "Enquêteur", "S1": "Témoin"},
    )


def _pdf_pages(data: bytes) -> list[tuple[tuple[float, float], str]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    return [
        ((float(page.mediabox.width), float(page.mediabox.height)), page.extract_text() or "")
        for page in reader.pages
    ]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _check_pages(data: bytes) -> list[str]:
    """Every page A4, with the case number in its header and ``page i / n`` in its footer; the pages' text."""
    pages = _pdf_pages(data)
    assert len(pages) >= 2
    texts = []
    for number, (size, text) in enumerate(pages, start=1):
        assert size == pytest.approx(A4_POINTS, abs=1.0)
        flat = _flat(text)
        assert "Procédure n° 2026/00123 — audition du 29/11/2026 à 14 h 30, Lyon" in flat, number
        assert f"page {number} / {len(pages)}" in flat, number
        texts.append(flat)
    return texts


@pytest.fixture(scope="module")
def soffice() -> str:
    found = find_soffice()
    assert found, (
        "no soffice: install LibreOffice (scripts/setup.sh: apt-get install libreoffice-writer-nogui)"
    )
    return found


# --- content --------------------------------------------------------------------------------------------


def test_languages_dates_and_models_are_said_in_plain_french() -> None:
    assert language_name("fr") == "français"
    assert language_name("en") == "anglais"
    assert language_name("ar") == "arabe"
    assert language_name(None) == "inconnue"
    assert language_name("zz") == "zz"
    assert hearing_when("2026-11-29") == "29/11/2026"
    assert hearing_when("2026-11-29T09:05") == "29/11/2026 à 9 h 05"
    lines = model_lines(
        {
            "asr": {"name": "whisper-base", "sha256": SHA, "path": "/srv/x", "device": "cpu"},
            "speaker_embedding": {"name": "campplus", "kind": "embedding"},
            "translation:nllb": {"name": "nllb-200"},
        }
    )
    assert lines == [
        f"Reconnaissance de la parole : whisper-base, empreinte SHA-256 {SHA}",
        "Distinction des voix : campplus",
        "Traduction automatique : nllb-200",
    ]


def test_docx_is_a4_with_the_case_on_every_page_header_and_page_fields() -> None:
    import docx

    document = docx.Document(io.BytesIO(render(_hearing(), "docx", options=CASE)))
    section = document.sections[0]
    assert section.page_width is not None and section.page_height is not None
    assert (section.page_width.mm, section.page_height.mm) == pytest.approx((210, 297), abs=0.1)
    assert "Procédure n° 2026/00123" in section.header.paragraphs[0].text
    assert not section.different_first_page_header_footer  # the same header on the first page too
    footer_xml = section.footer._element.xml
    assert "PAGE" in footer_xml and "NUMPAGES" in footer_xml
    rows = {r.cells[0].text: r.cells[1].text for r in document.tables[0].rows}
    assert rows["Procédure n°"] == "2026/00123"
    assert rows["Date et heure de l'audition"] == "29/11/2026 à 14 h 30"
    assert rows["Lieu"] == "Lyon"
    assert rows["Personnes présentes"].splitlines() == ["Mme Durand (greffière)", "M. Martin (témoin)"]
    assert rows["Langue"].startswith("français")
    assert rows["Empreinte SHA-256"] == SHA
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Certification" in text and "Signature :" in text and "Fait à Lyon, le" in text


def test_no_server_path_nor_engine_setting_reaches_a_document() -> None:
    data = render(_long(), "docx", options=CASE)
    xml = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert "/srv/models" not in xml and "compute_type" not in xml and "kind :" not in xml
    odt = zipfile.ZipFile(io.BytesIO(render(_long(), "odt", options=CASE))).read("content.xml").decode()
    assert "/srv/models" not in odt


def test_odt_is_a4_with_header_footer_and_page_fields() -> None:
    from odf.opendocument import load
    from odf.style import Footer, Header, MasterPage, PageLayoutProperties
    from odf.teletype import extractText
    from odf.text import P, PageCount, PageNumber

    document = load(io.BytesIO(render(_hearing(), "odt", options=CASE)))
    [layout] = document.automaticstyles.getElementsByType(PageLayoutProperties)
    assert (layout.getAttribute("pagewidth"), layout.getAttribute("pageheight")) == ("210mm", "297mm")
    [master] = document.masterstyles.getElementsByType(MasterPage)
    [header] = master.getElementsByType(Header)
    assert "Procédure n° 2026/00123" in extractText(header)
    [footer] = master.getElementsByType(Footer)
    assert footer.getElementsByType(PageNumber) and footer.getElementsByType(PageCount)
    body = "\n".join(extractText(p) for p in document.text.getElementsByType(P))
    assert "Mme Durand (greffière)" in body and "Certification" in body
    assert "Bonjour, vous êtes bien madame Dupont ? Asseyez-vous je vous prie." in body


@pytest.mark.parametrize("numbered", [True, False])
def test_docx_numbers_its_lines_on_each_page_only_when_asked(numbered: bool) -> None:
    import dataclasses

    import docx
    from docx.oxml.ns import qn

    options = dataclasses.replace(CASE, line_numbers=numbered)
    document = docx.Document(io.BytesIO(render(_long(), "docx", options=options)))
    section = document.sections[0]._sectPr
    found = section.findall(qn("w:lnNumType"))
    if not numbered:
        assert found == []
        return
    [numbering] = found
    assert numbering.get(qn("w:restart")) == "newPage" and numbering.get(qn("w:countBy")) == "1"
    # where the schema wants it: right after the page margins, before the page numbering and the columns
    names = [child.tag for child in section]
    assert names.index(qn("w:lnNumType")) == names.index(qn("w:pgMar")) + 1
    assert names.index(qn("w:lnNumType")) < names.index(qn("w:cols"))


@pytest.mark.parametrize("numbered", [True, False])
def test_odt_numbers_its_lines_on_each_page_only_when_asked(numbered: bool) -> None:
    import dataclasses

    from odf.opendocument import load
    from odf.text import LinenumberingConfiguration

    options = dataclasses.replace(CASE, line_numbers=numbered)
    document = load(io.BytesIO(render(_long(), "odt", options=options)))
    found = document.styles.getElementsByType(LinenumberingConfiguration)
    if not numbered:
        assert all(c.getAttribute("numberlines") != "true" for c in found)
        return
    [config] = found
    assert config.getAttribute("numberlines") == "true"
    assert config.getAttribute("restartonpage") == "true"
    assert config.getAttribute("numberposition") == "left"


# --- PDF (LibreOffice) ----------------------------------------------------------------------------------


def test_pdf_is_pdfa_a4_with_the_case_and_page_numbers_on_every_page(soffice: str) -> None:
    data = render(_long(), "pdf", options=CASE)
    assert data.startswith(b"%PDF")
    assert re.search(rb"pdfaid:part>2<", data), "PDF/A-2 metadata"
    texts = _check_pages(data)
    whole = " ".join(texts)
    assert "Transcription produite automatiquement" in whole
    assert "Le véhicule était garé rue Zanzibar." in whole
    assert "Mme Durand (greffière)" in whole and "Signature :" in whole
    assert "Traduction automatique" not in whole  # no translation, no notice


def test_bilingual_pdf_has_one_table_with_headers_and_the_notice(soffice: str) -> None:
    data = render(_long(translated=True), "pdf", options=CASE)
    texts = _check_pages(data)
    whole = " ".join(texts)
    assert _flat(TRANSLATION_NOTE)[:60] in whole
    assert "Original (français)" in whole and "Traduction automatique (anglais)" in whole
    assert "Question number 7 asked of the witness." in whole
    # The header row repeats on the pages the table runs over.
    assert sum("Traduction automatique (anglais)" in t for t in texts) >= 2


def test_pdf_numbers_its_lines_anew_on_each_page_only_when_asked(soffice: str) -> None:
    import dataclasses

    from pypdf import PdfReader

    def numbers(line_numbers: bool) -> list[set[str]]:
        data = render(_long(), "pdf", options=dataclasses.replace(CASE, line_numbers=line_numbers))
        pages = PdfReader(io.BytesIO(data)).pages
        return [
            {line.strip() for line in (p.extract_text() or "").splitlines() if line.strip().isdigit()}
            for p in pages
        ]

    numbered = numbers(True)
    assert len(numbered) >= 2
    for page in numbered:  # each page's lines numbered from 1
        assert {"1", "2", "3", "10"} <= page
    assert not any({"2", "3", "10"} <= page for page in numbers(False))


def test_docx_laid_out_by_libreoffice_has_the_header_and_page_x_of_y_on_every_page(soffice: str) -> None:
    texts = _check_pages(to_pdf(render(_long(), "docx", options=CASE), ".docx"))
    assert "Le véhicule était garé rue Zanzibar." in " ".join(texts)


def test_a_missing_libreoffice_is_one_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VERBATIM_SOFFICE", str(tmp_path / "no-soffice"))
    with pytest.raises(DocumentEngineError, match="could not be started"):
        render(_hearing(), "pdf")
    monkeypatch.delenv("VERBATIM_SOFFICE")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DocumentEngineError, match="libreoffice-writer-nogui"):
        render(_hearing(), "pdf")
