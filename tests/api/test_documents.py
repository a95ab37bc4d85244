"""The documents of a job over HTTP: case fields given at upload printed on every page of the PDF, a
correction in the PDF and the ODT, downloads named after the recording and the hearing's date (never the
job's UUID), and the pseudonymised copy named without the recording's name.

A real app (SQLite, local store, in-process worker with the real models) transcribes JFK's clip once; the
PDF is made by the real LibreOffice and read back with pypdf.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any
from urllib.parse import unquote

import pytest

from tests.api.conftest import Service
from verbatim.jobs.request import parse_request

pytestmark = pytest.mark.models

CASE = {
    "case_number": "2026/00123",
    "hearing_place": "Palais de justice de Lyon",
    "hearing_date": "2026-11-29T14:30",
    "persons_present": "Mme Durand (greffière), M. Martin (témoin)",
}


@pytest.fixture(scope="module")
def job(service: Service) -> dict[str, Any]:
    created = service.upload(language="en", diarize="false", **CASE)
    body = service.wait(created["id"])
    assert body["status"] == "succeeded", body
    return body


def _download(service: Service, job_id: str, query: str) -> tuple[bytes, str]:
    r = service.client.get(f"/v1/jobs/{job_id}/transcript?{query}", headers=service.investigator.headers)
    assert r.status_code == 200, r.text
    return r.content, r.headers["content-disposition"]


def _names(disposition: str) -> tuple[str, str]:
    plain = re.search(r'filename="([^"]+)"', disposition)
    utf8 = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    assert plain and utf8, disposition
    return plain.group(1), unquote(utf8.group(1))


def test_the_case_fields_are_stored_with_the_request(service: Service, job: dict[str, Any]) -> None:
    request = parse_request(job["options"])
    assert request.persons_present == ["Mme Durand (greffière)", "M. Martin (témoin)"]
    assert (request.case_number, request.hearing_date) == ("2026/00123", "2026-11-29T14:30")
    r = service.client.post(
        "/v1/jobs",
        headers=service.investigator.headers,
        files={"file": ("x.wav", b"RIFF")},
        data={"hearing_date": "hier"},
    )
    assert r.status_code == 422 and "hearing_date" in r.text


def test_pdf_carries_the_case_on_every_page_and_the_correction(service: Service, job: dict[str, Any]) -> None:
    from pypdf import PdfReader

    original = service.client.get(
        f"/v1/jobs/{job['id']}/transcript", headers=service.investigator.headers
    ).json()
    segment = original["segments"][0]
    index = max(range(len(segment["words"])), key=lambda i: len(segment["words"][i]["text"]))
    before = segment["words"][index]["text"]
    r = service.client.post(
        f"/v1/jobs/{job['id']}/edits",
        headers=service.investigator.headers,
        json={
            "edits": [
                {"segment_id": segment["id"], "word_index": index, "before": before, "after": "Zanzibar"}
            ]
        },
    )
    assert r.status_code == 200, r.text

    data, disposition = _download(service, job["id"], "format=pdf")
    assert _names(disposition) == ("jfk_2026-11-29.pdf", "jfk_2026-11-29.pdf")
    assert job["id"] not in disposition
    pages = PdfReader(io.BytesIO(data)).pages
    for number, page in enumerate(pages, start=1):
        assert float(page.mediabox.width) == pytest.approx(595.3, abs=1)
        text = re.sub(r"\s+", " ", page.extract_text() or "")
        assert "Procédure n° 2026/00123" in text and f"page {number} / {len(pages)}" in text
    whole = re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in pages))
    assert "Zanzibar" in whole
    assert "Mme Durand (greffière)" in whole and "Palais de justice de Lyon" in whole
    assert "29/11/2026 à 14 h 30" in whole and "anglais" in whole
    assert job["audio_sha256"] in whole.replace(" ", "")

    odt, disposition = _download(service, job["id"], "format=odt")
    assert _names(disposition)[1] == "jfk_2026-11-29.odt"
    assert "Zanzibar" in zipfile.ZipFile(io.BytesIO(odt)).read("content.xml").decode()


def test_the_pseudonymised_copy_is_named_by_the_case_not_the_recording(
    service: Service, job: dict[str, Any]
) -> None:
    _, disposition = _download(service, job["id"], "format=docx&view=pseudonymized")
    assert _names(disposition) == (
        "2026_00123_2026-11-29_pseudonymise.docx",
        "2026_00123_2026-11-29_pseudonymise.docx",
    )


def test_line_numbers_is_a_request_field_given_to_the_documents() -> None:
    assert parse_request({"line_numbers": "true"}).export_options().line_numbers is True
    assert parse_request({}).export_options().line_numbers is False
