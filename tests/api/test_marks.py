"""Spans marked or unmarked by hand (``POST /v1/jobs/{id}/marks``) reach every pseudonymised artefact; the
hide list is kept sealed in the database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.anonymize.test_audio import tone_level
from tests.api.conftest import Service
from tests.api.test_pseudonymized import FRENCH, _samples, _when_prepared
from verbatim.ops.db import AuditEntry, TranscriptEdit

pytestmark = pytest.mark.models

# Not said in the clip: found nowhere but where the hide list is stored.
HIDDEN_NAME = "Zéphyrine Quarteron"


@pytest.fixture(scope="module")
def job(service: Service) -> dict[str, Any]:
    created = service.upload(
        path=FRENCH, language="fr", diarize="false", pseudonymize="true", hide=f"{HIDDEN_NAME}, forêts"
    )
    assert service.wait(created["id"], timeout=300)["status"] == "succeeded"
    return created


def _copy(service: Service, job_id: str) -> str:
    url = f"/v1/jobs/{job_id}/transcript?view=pseudonymized&format=txt"
    return str(_when_prepared(service, url, service.investigator.headers).text)


def _words(service: Service, job_id: str) -> list[dict[str, Any]]:
    doc = service.client.get(f"/v1/jobs/{job_id}/transcript", headers=service.investigator.headers).json()
    return list(doc["segments"][0]["words"])


def _index(words: list[dict[str, Any]], text: str) -> int:
    said = [w["text"].strip(" ,.;:!?").lower() for w in words]
    assert text in said, said
    return said.index(text)


def test_the_hide_list_is_sealed_in_the_database(service: Service, job: dict[str, Any]) -> None:
    copy = _copy(service, job["id"])
    assert "forêts" not in copy and "consulat" in copy.lower()  # the worker opened the sealed list
    with service.state.sessions() as session:
        from verbatim.ops.db import Job

        options = session.get(Job, job["id"]).options  # type: ignore[union-attr]
    assert options["hide"] == [] and "hide_sealed" in options
    view = service.client.get(f"/v1/jobs/{job['id']}", headers=service.investigator.headers).json()
    assert "hide" not in view["options"] and "hide_sealed" not in view["options"]
    database = service.home / "verbatim.db"
    stored = b"".join(p.read_bytes() for p in Path(service.home).glob("verbatim.db*"))
    assert database.is_file()
    for word in ("Quarteron", "Zéphyrine", "Z\\u00e9phyrine", "forêts", "for\\u00eats"):
        assert word.encode("utf-8") not in stored, word


def test_mark_and_unmark_by_hand_reach_every_artefact(service: Service, job: dict[str, Any]) -> None:
    job_id, owner = job["id"], service.investigator.headers
    words = _words(service, job_id)
    consulat, forets = _index(words, "consulat"), _index(words, "forêts")
    before_audio = _when_prepared(service, f"/v1/jobs/{job_id}/audio/pseudonymized", owner).content
    word = words[consulat]
    assert tone_level(_samples(before_audio), word["start"] + 0.01, word["end"] - 0.01) < 0.5

    marks = [
        {"segment_id": 0, "word_index": consulat, "word_count": 1, "before": word["text"], "marked": True},
        {"segment_id": 0, "word_index": forets, "before": words[forets]["text"], "marked": False},
    ]
    r = service.client.post(f"/v1/jobs/{job_id}/marks", json={"marks": marks}, headers=owner)
    assert r.status_code == 200, r.text
    assert [e["kind"] for e in r.json()["edits"]] == ["mark", "unmark"]

    copy = _copy(service, job_id)
    assert "consulat" not in copy.lower() and "forêts" in copy  # marked hidden, unmarked left in clear
    audio = _when_prepared(service, f"/v1/jobs/{job_id}/audio/pseudonymized", owner).content
    assert tone_level(_samples(audio), word["start"] + 0.01, word["end"] - 0.01) > 0.9
    table = service.client.get(f"/v1/jobs/{job_id}/pseudonymization-map", headers=owner).json()
    assert "consulat" in json.dumps(table, ensure_ascii=False).lower()
    as_json = service.client.get(
        f"/v1/jobs/{job_id}/transcript?view=pseudonymized&format=json", headers=owner
    ).text
    assert "consulat" not in as_json.lower()

    # In the history (who, when, the span), audited by position only.
    history = service.client.get(f"/v1/jobs/{job_id}/edits", headers=owner).json()["edits"]
    mark = next(e for e in history if e["kind"] == "mark")
    assert mark["user_name"] and mark["word_index"] == consulat and mark["word_count"] == 1
    with service.state.sessions() as session:
        rows = session.scalars(select(TranscriptEdit).where(TranscriptEdit.job_id == job_id)).all()
        assert {r.kind for r in rows} >= {"mark", "unmark"}
        details = [
            e.detail for e in session.scalars(select(AuditEntry).where(AuditEntry.job_id == job_id)).all()
        ]
    assert any(d and d.startswith("mark spans=2") and "recorded=2" in d for d in details)
    assert not any(d and "consulat" in d for d in details)

    # Marked again the other way: the last one wins.
    back = [{"segment_id": 0, "word_index": consulat, "before": word["text"], "marked": False}]
    r = service.client.post(f"/v1/jobs/{job_id}/marks", json={"marks": back}, headers=owner)
    assert r.status_code == 200
    assert "consulat" in _copy(service, job_id).lower()


def test_a_mark_over_changed_or_missing_words_is_refused(service: Service, job: dict[str, Any]) -> None:
    url, owner = f"/v1/jobs/{job['id']}/marks", service.investigator.headers
    stale = [{"segment_id": 0, "word_index": 0, "before": "autre chose", "marked": True}]
    assert service.client.post(url, json={"marks": stale}, headers=owner).status_code == 409
    missing = [{"segment_id": 0, "word_index": 500, "before": "x", "marked": True}]
    assert service.client.post(url, json={"marks": missing}, headers=owner).status_code == 422
    too_long = [{"segment_id": 0, "word_index": 0, "word_count": 13, "before": "x", "marked": True}]
    assert service.client.post(url, json={"marks": too_long}, headers=owner).status_code == 422
    other_unit = service.client.post(url, json={"marks": stale}, headers=service.outsider.headers)
    assert other_unit.status_code in (403, 404)
