"""The ``translate_to`` option of ``POST /v1/jobs``: a translated transcript, or a job failed with a message
naming what is missing."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import Service
from tests.conftest import DATA

pytestmark = pytest.mark.models


def test_job_with_translate_to_gets_translated_segments(service: Service) -> None:
    created = service.upload(path=DATA / "picovoice_test_fr.wav", diarize="false", translate_to="en")
    body = service.wait(created["id"])
    assert body["status"] == "succeeded", body
    r = service.client.get(f"/v1/jobs/{created['id']}/transcript", headers=service.investigator.headers)
    doc = json.loads(r.content)
    [segment] = doc["segments"]
    assert segment["language"] == "fr" and 0.5 < segment["language_probability"] <= 1.0
    assert segment["translation"]["language"] == "en"
    assert segment["translation"]["model"] == "whisper-base:translate"
    assert "under" in segment["translation"]["text"].lower()
    assert "translation:whisper-base:translate" in doc["models"]
    vtt = service.client.get(
        f"/v1/jobs/{created['id']}/transcript?format=vtt&subtitles=translation",
        headers=service.investigator.headers,
    )
    assert vtt.status_code == 200 and "under" in vtt.text.lower() and "devient" not in vtt.text.lower()


def test_unreachable_target_fails_the_job_with_the_reason(service: Service) -> None:
    created = service.upload(path=DATA / "picovoice_test_fr.wav", diarize="false", translate_to="de")
    body = service.wait(created["id"])
    assert body["status"] == "failed"
    assert "into 'de'" in body["error"] and "models add" in body["error"]


def test_bad_translate_to_is_422(service: Service) -> None:
    with (DATA / "picovoice_test_fr.wav").open("rb") as fh:
        r = service.client.post(
            "/v1/jobs", headers=service.investigator.headers, files={"file": ("x.wav", fh)},
            data={"translate_to": "klingon"},
        )  # fmt: skip
    assert r.status_code == 422 and "translate_to" in r.json()["error"]
