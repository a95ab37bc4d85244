"""Pseudonymised copies through the API: artefacts in the custody manifest, the pseudonymised view,
shares with another unit (pseudonymised copies only), the correspondence table for entitled roles only;
all audited."""

from __future__ import annotations

import hashlib
import io
import json
import time
import wave
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.api.conftest import Service
from tests.conftest import DATA
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry

pytestmark = pytest.mark.models

FRENCH = DATA / "picovoice_test_fr.wav"


@pytest.fixture(scope="module")
def pseudo_job(service: Service) -> dict[str, Any]:
    created = service.upload(path=FRENCH, language="fr", diarize="false", pseudonymize="true")
    body = service.wait(created["id"], timeout=300)
    assert body["status"] == "succeeded", body
    assert body["options"]["pseudonymize"] is True
    return body


def test_unknown_policy_is_refused_at_upload(service: Service) -> None:
    with FRENCH.open("rb") as fh:
        r = service.client.post(
            "/v1/jobs", headers=service.investigator.headers, files={"file": ("a.wav", fh)},
            data={"pseudonymize": "true", "pseudonymization_policy": "nope"},
        )  # fmt: skip
    assert r.status_code == 422 and "pseudonymization_policy" in r.json()["error"]


def test_artefacts_are_in_the_custody_manifest(service: Service, pseudo_job: dict[str, Any]) -> None:
    r = service.client.get(
        f"/v1/jobs/{pseudo_job['id']}/custody?verify=true", headers=service.investigator.headers
    )
    assert r.status_code == 200
    kinds = {a["kind"]: a for a in r.json()["artifacts"]}
    assert {"transcript", "transcript_pseudonymized", "pseudonymization_map", "audio_pseudonymized"} <= set(
        kinds
    )
    assert all(a["verified"] is True and len(a["sha256"]) == 64 for a in kinds.values())


def test_pseudonymized_view_in_every_format(service: Service, pseudo_job: dict[str, Any]) -> None:
    base = f"/v1/jobs/{pseudo_job['id']}/transcript"
    r = service.client.get(f"{base}?view=pseudonymized", headers=service.investigator.headers)
    assert r.status_code == 200
    document = r.json()
    assert document["pseudonymization"]["policy"] == "hearing"
    assert document["audio"]["filename"] == ""
    original = service.client.get(base, headers=service.investigator.headers).json()
    assert "pseudonymization" not in original
    assert len(document["segments"]) == len(original["segments"])
    for fmt in ("txt", "srt", "vtt", "docx"):
        r = service.client.get(
            f"{base}?view=pseudonymized&format={fmt}", headers=service.investigator.headers
        )
        assert r.status_code == 200 and r.content


def test_shared_unit_reads_only_pseudonymised_copies(service: Service, pseudo_job: dict[str, Any]) -> None:
    job = pseudo_job["id"]
    outsider = service.outsider.headers
    # Before the share: nothing at all.
    assert (
        service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized", headers=outsider).status_code
        == 404
    )
    # Only the owning unit shares.
    assert (
        service.client.post(f"/v1/jobs/{job}/shares", json={"unit": "court-b"}, headers=outsider).status_code
        == 404
    )
    r = service.client.post(
        f"/v1/jobs/{job}/shares", json={"unit": "court-b"}, headers=service.investigator.headers
    )
    assert r.status_code == 201 and r.json()["unit"] == "court-b"
    r = service.client.post(
        f"/v1/jobs/{job}/shares", json={"unit": "brigade-a"}, headers=service.investigator.headers
    )
    assert r.status_code == 422
    # After: the pseudonymised transcript and recording, never the originals nor the table.
    r = service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized", headers=outsider)
    assert r.status_code == 200 and "pseudonymization" in r.json()
    assert service.client.get(f"/v1/jobs/{job}/transcript", headers=outsider).status_code == 403
    assert service.client.get(f"/v1/jobs/{job}/transcript?format=txt", headers=outsider).status_code == 403
    # The original recording stays with the owning unit (its route answers as for any other unit's job).
    assert service.client.get(f"/v1/jobs/{job}/audio", headers=outsider).status_code in (403, 404)
    r = service.client.get(f"/v1/jobs/{job}/audio/pseudonymized", headers=outsider)
    assert r.status_code == 200
    with wave.open(io.BytesIO(r.content)) as handle:
        assert handle.getframerate() == 16000
    assert service.client.get(f"/v1/jobs/{job}/pseudonymization-map", headers=outsider).status_code == 403
    with service.state.sessions() as session:
        refused = session.scalars(
            select(AuditEntry).where(AuditEntry.job_id == job, AuditEntry.outcome == "denied")
        ).all()
        shares = session.scalars(
            select(AuditEntry).where(AuditEntry.job_id == job, AuditEntry.detail == "share unit=court-b")
        ).all()
    assert len(refused) >= 3 and shares


def test_a_shared_unit_finds_follows_and_hears_the_job(service: Service, pseudo_job: dict[str, Any]) -> None:
    """The receiving unit can find what was shared with it, follow it and hear the released recording, and
    learns nothing the pseudonymised copy hides (not even the file name, which often names a party)."""
    job = pseudo_job["id"]
    outsider = service.outsider.headers
    r = service.client.post(
        f"/v1/jobs/{job}/shares", json={"unit": "court-b"}, headers=service.investigator.headers
    )
    assert r.status_code == 201
    # Listed under scope=shared, never among the unit's own jobs.
    own = service.client.get("/v1/jobs", headers=outsider).json()["jobs"]
    assert job not in {j["id"] for j in own}
    shared = service.client.get("/v1/jobs?scope=shared", headers=outsider).json()["jobs"]
    (listed,) = [j for j in shared if j["id"] == job]
    assert (listed["access"], listed["filename"], listed["unit"]) == ("shared", None, "brigade-a")
    # The owning unit's view of the same job keeps its name; nothing is shared with the owning unit.
    mine = service.client.get(f"/v1/jobs/{job}", headers=service.investigator.headers).json()
    assert mine["access"] == "unit" and mine["filename"]
    assert (
        service.client.get("/v1/jobs?scope=shared", headers=service.investigator.headers).json()["jobs"] == []
    )
    # A search reads original text: refused over shared jobs, with the reason.
    r = service.client.get("/v1/jobs?scope=shared&q=bonjour", headers=outsider)
    assert r.status_code == 422 and "q:" in r.json()["error"]
    # Its state and custody manifest (hashes, models, times: no content).
    r = service.client.get(f"/v1/jobs/{job}", headers=outsider)
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["access"], r.json()["filename"]) == ("succeeded", "shared", None)
    manifest = service.client.get(f"/v1/jobs/{job}/custody?verify=true", headers=outsider).json()
    assert manifest["original"]["sha256"] == pseudo_job["audio_sha256"]
    # The history of corrections holds original words: not for a shared unit.
    assert service.client.get(f"/v1/jobs/{job}/edits", headers=outsider).status_code == 404
    # The audio ticket of a shared unit opens the released recording, in ranges, never the original.
    ticket = service.client.post(f"/v1/jobs/{job}/audio-ticket", headers=outsider).json()
    assert ticket["pseudonymized"] is True and "/audio/pseudonymized?ticket=" in ticket["url"]
    r = service.client.get(ticket["url"], headers={"Range": "bytes=0-43"})
    assert r.status_code == 206 and r.content[:4] == b"RIFF" and len(r.content) == 44
    whole = service.client.get(f"/v1/jobs/{job}/audio/pseudonymized", headers=outsider)
    assert r.headers["content-range"] == f"bytes 0-43/{len(whole.content)}"
    original_url = ticket["url"].replace("/audio/pseudonymized?", "/audio?")
    assert service.client.get(original_url).status_code == 404
    # The owning unit's ticket still opens the original.
    mine_ticket = service.client.post(f"/v1/jobs/{job}/audio-ticket", headers=service.investigator.headers)
    assert mine_ticket.json()["pseudonymized"] is False
    assert "/audio?ticket=" in mine_ticket.json()["url"]
    # A unit it was not shared with still learns nothing.
    with service.state.sessions() as session:
        _, token = create_user(session, name="consul-z", role="diplomat", unit="consulate-z")
    third = {"Authorization": f"Bearer {token}"}
    assert service.client.get(f"/v1/jobs/{job}", headers=third).status_code == 404
    assert service.client.get(f"/v1/jobs/{job}/custody", headers=third).status_code == 404
    assert service.client.post(f"/v1/jobs/{job}/audio-ticket", headers=third).status_code == 404
    assert service.client.get("/v1/jobs?scope=shared", headers=third).json()["jobs"] == []


def test_a_shared_job_without_released_recording_says_so(service: Service) -> None:
    job = service.upload(language="en", diarize="false")["id"]
    assert service.wait(job)["status"] == "succeeded"
    r = service.client.post(
        f"/v1/jobs/{job}/shares", json={"unit": "court-b"}, headers=service.investigator.headers
    )
    assert r.status_code == 201
    r = service.client.post(f"/v1/jobs/{job}/audio-ticket", headers=service.outsider.headers)
    assert r.status_code == 404 and "pseudonymize=true" in r.json()["error"]


def test_the_owning_unit_lists_and_revokes_shares_and_access_ends_at_once(service: Service) -> None:
    job = service.upload(language="en", diarize="false", pseudonymize="true")["id"]
    assert service.wait(job)["status"] == "succeeded"
    owner, outsider = service.investigator.headers, service.outsider.headers
    assert service.client.get(f"/v1/jobs/{job}/shares", headers=owner).json() == {"shares": []}
    with service.state.sessions() as session:  # a unit exists through its users: shares go to those only
        create_user(session, name="dip-y", role="diplomat", unit="consulate-y")
    for unit in ("court-b", "consulate-y"):
        assert (
            service.client.post(f"/v1/jobs/{job}/shares", json={"unit": unit}, headers=owner).status_code
            == 201
        )
    listed = service.client.get(f"/v1/jobs/{job}/shares", headers=owner).json()["shares"]
    assert [s["unit"] for s in listed] == ["court-b", "consulate-y"]
    # The receiving unit neither sees nor changes the list of shares.
    assert service.client.get(f"/v1/jobs/{job}/shares", headers=outsider).status_code == 404
    assert service.client.delete(f"/v1/jobs/{job}/shares/court-b", headers=outsider).status_code == 404
    # It holds an audio link when the share is revoked: the link stops working with the share.
    ticket = service.client.post(f"/v1/jobs/{job}/audio-ticket", headers=outsider).json()["url"]
    assert service.client.get(ticket, headers={"Range": "bytes=0-15"}).status_code == 206
    assert service.client.delete(f"/v1/jobs/{job}/shares/court-b", headers=owner).status_code == 204
    assert service.client.get(ticket, headers={"Range": "bytes=0-15"}).status_code == 404
    assert service.client.get(f"/v1/jobs/{job}", headers=outsider).status_code == 404
    assert (
        service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized", headers=outsider).status_code
        == 404
    )
    assert job not in {
        j["id"] for j in service.client.get("/v1/jobs?scope=shared", headers=outsider).json()["jobs"]
    }
    listed = service.client.get(f"/v1/jobs/{job}/shares", headers=owner).json()["shares"]
    assert [s["unit"] for s in listed] == ["consulate-y"]
    # Revoking what is not shared says so.
    r = service.client.delete(f"/v1/jobs/{job}/shares/court-b", headers=owner)
    assert r.status_code == 404 and "not shared with unit court-b" in r.json()["error"]
    with service.state.sessions() as session:
        details = [
            (e.detail, e.outcome)
            for e in session.scalars(
                select(AuditEntry).where(AuditEntry.job_id == job).order_by(AuditEntry.id)
            )
            if "share" in e.detail
        ]
    assert ("unshare unit=court-b", "ok") in details and ("unshare unit=court-b", "not_found") in details


def test_a_name_revealed_by_a_correction_reaches_the_table_and_the_released_recording(
    service: Service,
) -> None:
    """The recognizer cannot know that "il" was a misheard "Julie"; once the clerk corrects it, the copy, the
    correspondence table and the tone over the released recording cover her too, and the custody manifest
    gives the hashes of what is served. They are made again by the worker (a task queued by the correction),
    never inside a read: until then the table and the released recording answer 409 "being made again"."""
    from tests.anonymize.test_audio import tone_level

    job = service.upload(path=FRENCH, language="fr", diarize="false", pseudonymize="true")["id"]
    assert service.wait(job, timeout=300)["status"] == "succeeded"
    owner = service.investigator.headers
    doc = service.client.get(f"/v1/jobs/{job}/transcript", headers=owner).json()
    words = doc["segments"][0]["words"]
    index = [w["text"].strip() for w in words].index("il")
    word = words[index]
    before = service.client.get(f"/v1/jobs/{job}/audio/pseudonymized", headers=owner).content
    assert tone_level(_samples(before), word["start"], word["end"]) < 0.5  # "il" is no name: heard as spoken
    before_map = service.client.get(f"/v1/jobs/{job}/pseudonymization-map", headers=owner).json()
    assert "Julie" not in json.dumps(before_map)

    edit = {"segment_id": 0, "word_index": index, "before": word["text"], "after": "Julie"}
    assert (
        service.client.post(f"/v1/jobs/{job}/edits", json={"edits": [edit]}, headers=owner).status_code == 200
    )

    after = _when_prepared(service, f"/v1/jobs/{job}/audio/pseudonymized", owner)
    assert after.content != before
    assert tone_level(_samples(after.content), word["start"] + 0.01, word["end"] - 0.01) > 0.9
    table = service.client.get(f"/v1/jobs/{job}/pseudonymization-map", headers=owner).json()
    assert "Julie" in json.dumps(table, ensure_ascii=False)
    copy = service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized&format=txt", headers=owner).text
    assert "Julie" not in copy and "consulat" in copy.lower()
    # The manifest names what is now served, and verifies.
    manifest = service.client.get(f"/v1/jobs/{job}/custody?verify=true", headers=owner).json()
    kinds = {a["kind"]: a for a in manifest["artifacts"]}
    assert kinds["audio_pseudonymized"]["sha256"] == hashlib.sha256(after.content).hexdigest()
    assert all(a["verified"] is True for a in manifest["artifacts"])
    # Made once: a later read serves the same bytes.
    again = service.client.get(f"/v1/jobs/{job}/audio/pseudonymized", headers=owner).content
    assert again == after.content
    _reveal_gives_the_original_back(service, job, owner, name="Julie")


def _reveal_gives_the_original_back(service: Service, job: str, owner: dict[str, str], name: str) -> None:
    """``POST /v1/jobs/{id}/pseudonymized/reveal`` on the job's pseudonymised JSON copy gives the current
    revision's text back, name included, with the CLI's reveal code; audited with counts, never the name."""
    url = f"/v1/jobs/{job}/pseudonymized/reveal"
    copy = service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized&format=json", headers=owner)
    assert name not in copy.text
    r = service.client.post(url, json={"content": copy.text}, headers=owner)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["restored"] >= 1 and body["missing"] == 0
    revealed = json.loads(body["content"])
    original = service.client.get(f"/v1/jobs/{job}/transcript", headers=owner).json()
    assert [s["text"] for s in revealed["segments"]] == [s["text"] for s in original["segments"]]
    assert name in body["content"] and "pseudonymization" not in revealed
    # A TXT copy keeps no places: refused with the reason, as on the command line.
    txt = service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized&format=txt", headers=owner).text
    r = service.client.post(url, json={"content": txt}, headers=owner)
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    # A copy of which no replacement is found is not this job's: refused, not guessed.
    other = copy.json()
    for segment in other["segments"]:
        segment["text"] = "rien"
    r = service.client.post(url, json={"content": json.dumps(other)}, headers=owner)
    assert r.status_code == 422 and "does not match" in r.json()["error"]
    with service.state.sessions() as session:
        details = [
            e.detail or "" for e in session.scalars(select(AuditEntry).where(AuditEntry.job_id == job)).all()
        ]
    assert any(d.startswith("pseudonymization reveal restored=") for d in details)
    assert not any(name in d for d in details)


def _when_prepared(service: Service, url: str, headers: dict[str, str], timeout: float = 300.0) -> Any:
    """GET ``url`` until it is no longer 409 "being made again" (the worker's task has run)."""
    deadline = time.monotonic() + timeout
    while True:
        r = service.client.get(url, headers=headers)
        if r.status_code != 409:
            assert r.status_code == 200, r.text
            return r
        assert "being made again" in r.json()["error"], r.text
        assert time.monotonic() < deadline, "the pseudonymised copies were not made again"
        time.sleep(0.2)


def _samples(wav: bytes) -> np.ndarray:
    with wave.open(io.BytesIO(wav)) as handle:
        frames = handle.readframes(handle.getnframes())
    return np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768.0


def test_correspondence_table_for_entitled_roles_of_the_owning_unit(
    service: Service, pseudo_job: dict[str, Any]
) -> None:
    job = pseudo_job["id"]
    r = service.client.get(f"/v1/jobs/{job}/pseudonymization-map", headers=service.colleague.headers)
    assert r.status_code == 200
    table = r.json()
    assert table["policy"] == "hearing" and "entries" in table and "intervals" in table
    with service.state.sessions() as session:
        _, token = create_user(session, name="diplo-a", role="diplomat", unit="brigade-a")
    diplomat = {"Authorization": f"Bearer {token}"}
    assert service.client.get(f"/v1/jobs/{job}/pseudonymization-map", headers=diplomat).status_code == 403
    # The table is stored encrypted: its object holds no original text.
    stored = service.state.store.get_bytes(f"jobs/{job}/pseudonymization-map.enc.json")
    envelope = json.loads(stored)
    assert envelope["alg"] == "AES-256-GCM" and "entries" not in envelope


def test_on_demand_pseudonymised_view_of_a_job_without_copy(
    service: Service, done_job: dict[str, Any]
) -> None:
    r = service.client.get(
        f"/v1/jobs/{done_job['id']}/transcript?view=pseudonymized&format=json",
        headers=service.investigator.headers,
    )
    assert r.status_code == 200 and r.json()["pseudonymization"]["policy"] == "hearing"
    r = service.client.get(
        f"/v1/jobs/{done_job['id']}/pseudonymization-map", headers=service.investigator.headers
    )
    assert r.status_code == 404


def test_reveal_only_for_entitled_roles_of_the_owning_unit(
    service: Service, pseudo_job: dict[str, Any]
) -> None:
    """The roles without ``read_map`` of the owning unit, and any role of a unit the job is shared with,
    get 403 (audited as denied); an entitled role of the owning unit gets the revealed copy."""
    job = pseudo_job["id"]
    url = f"/v1/jobs/{job}/pseudonymized/reveal"
    owner = service.investigator.headers
    copy = service.client.get(f"/v1/jobs/{job}/transcript?view=pseudonymized&format=json", headers=owner).text
    with service.state.sessions() as session:
        _, diplomat = create_user(session, name="diplo-reveal", role="diplomat", unit="brigade-a")
    share = service.client.post(f"/v1/jobs/{job}/shares", json={"unit": "court-b"}, headers=owner)
    assert share.status_code == 201
    # A diplomat of the owning unit (no read_map), a clerk of the unit the job is shared with (read_map, but
    # not the owning unit).
    for headers in ({"Authorization": f"Bearer {diplomat}"}, service.outsider.headers):
        r = service.client.post(url, json={"content": copy}, headers=headers)
        assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    r = service.client.post(url, json={"content": copy}, headers=service.colleague.headers)
    assert r.status_code == 200 and r.json()["missing"] == 0
    assert json.loads(r.json()["content"])["segments"]
    with service.state.sessions() as session:
        denied = session.scalars(
            select(AuditEntry).where(
                AuditEntry.job_id == job,
                AuditEntry.outcome == "denied",
                AuditEntry.detail == "pseudonymization reveal: not entitled",
            )
        ).all()
    assert len(denied) == 2
