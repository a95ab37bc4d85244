"""The error catalogue shared by the API and the pages: every error the API answers carries a code the
catalogue has in French and English, the field it refuses, and the pages fetch the same catalogue."""

from __future__ import annotations

import uuid

import pytest

from tests.api.conftest import Service
from verbatim.api import errors
from verbatim.api.messages import FIELD_NAMES, MESSAGES, field_of, message
from verbatim.errors import AudioDecodeError, DocumentEngineError, EmptyAudioError, InvalidOptionError
from verbatim.jobs.documents import EditConflictError
from verbatim.jobs.request import TranscriptionRequest


def test_every_code_has_french_and_english_and_every_error_a_code() -> None:
    for code, texts in MESSAGES.items():
        assert set(texts) == {"fr", "en"}, code
        assert all(text.strip() for text in texts.values()), code
    codes = {code for _, code in errors._CODES} | set(errors._HTTP_CODES.values())
    assert codes | {"internal", "invalid_request"} <= set(MESSAGES)
    assert errors.code_of(EmptyAudioError("x")) == "audio_unreadable"
    assert errors.code_of(EditConflictError("x")) == "edit_conflict"  # before its parent, job_not_ready
    assert errors.code_of(DocumentEngineError("x")) == "document_engine"
    assert errors.code_of(ValueError("x")) == "internal"
    # every request field the upload form sends has a French name for {field}
    assert set(TranscriptionRequest.model_fields) - {"model", "beam_size"} <= set(FIELD_NAMES)


def test_messages_name_the_field_in_french() -> None:
    assert field_of("language: Unknown language 'klingon'") == "language"
    assert field_of("The file is not audio") is None
    assert message("invalid_option", field="hearing_date") == (
        "Valeur refusée pour « date de l'audition » : vérifiez ce champ."
    )
    assert (
        message("invalid_option", "en", "hearing_date")
        == "Value refused for 'hearing_date': check this field."
    )
    assert "introuvable" in message("job_not_found")
    assert message("no-such-code") == MESSAGES["internal"]["fr"]


def test_api_errors_carry_their_code_and_field(service: Service) -> None:
    headers = service.investigator.headers
    r = service.client.post("/v1/jobs", headers=headers, files={"file": ("a.wav", b"not a sound")})
    assert r.status_code == 415
    assert r.json()["code"] == "audio_unreadable" and "FFmpeg" in r.json()["error"]
    r = service.client.post(
        "/v1/jobs", headers=headers, files={"file": ("a.wav", b"x")}, data={"language": "klingon"}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_option" and r.json()["field"] == "language"
    r = service.client.get("/v1/jobs/not-a-job", headers=headers)
    assert (r.status_code, r.json()["code"]) == (404, "job_not_found")
    r = service.client.get("/v1/jobs")
    assert (r.status_code, r.json()["code"]) == (401, "not_authenticated")
    r = service.client.get("/v1/nowhere", headers=headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    r = service.client.get(f"/v1/jobs/{uuid.uuid4()}/transcript?format=rtf", headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_option" and r.json()["field"] == "format"
    # The pages read the same catalogue.
    served = service.client.get("/web/messages.json").json()
    assert served["messages"] == MESSAGES and served["fields"] == FIELD_NAMES


@pytest.mark.parametrize(
    "error", [InvalidOptionError("translate_to: give a language"), AudioDecodeError("x")]
)
def test_the_domain_handler_keeps_the_english_detail(error: Exception) -> None:
    assert errors._body(str(error), errors.code_of(error))["error"] == str(error)
