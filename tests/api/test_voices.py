"""`/v1/voices` through the real app: a unit enrols a voice (checked in the request, the print made by the
in-process worker with the real CAM++ weights), follows it until ready, lists it, its jobs name the matching
speaker (real models), another unit's jobs and a job with ``voices=false`` do not; a pending or failed voice
names nobody; removal, refusals and every access audited; the audio kept (encrypted) only until the worker
read it."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from tests.api.conftest import JFK, Actor, Service
from tests.conftest import DATA, write_audio
from tests.services import RecordingDispatcher
from verbatim.api.errors import ServiceUnavailableError
from verbatim.api.voices import Recording, accept_enrolment
from verbatim.jobs.voices import unit_voices, voice_upload_prefix
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, VoiceRecord
from verbatim.ops.storage.encrypted import EncryptedObjectStore
from verbatim.workers.voices import process_voice

SR = 16000


def enrol(
    service: Service, actor: Actor, name: str, *recordings: tuple[str, bytes], role: str | None = None
) -> Any:
    data = {"name": name} | ({"role": role} if role is not None else {})
    files = [("recordings", r) for r in recordings]
    return service.client.post("/v1/voices", headers=actor.headers, data=data, files=files)


def wait_voice(service: Service, voice_id: str, actor: Actor, timeout: float = 300.0) -> dict[str, Any]:
    """Poll ``GET /v1/voices/{id}`` until the worker made the print (or failed), as job tests poll jobs."""
    deadline = time.monotonic() + timeout
    while True:
        r = service.client.get(f"/v1/voices/{voice_id}", headers=actor.headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] != "pending":
            return body
        assert time.monotonic() < deadline, f"voice still pending after {timeout} s"
        time.sleep(0.1)


def enrolled(service: Service, actor: Actor, name: str, *recordings: tuple[str, bytes], **kw: Any) -> Any:
    """An enrolment accepted (202, pending) and followed to its end; the body of its last status."""
    r = enrol(service, actor, name, *recordings, **kw)
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and body["speech_seconds"] is None
    assert body["url"] == f"/v1/voices/{body['id']}" == r.headers["location"]
    return wait_voice(service, body["id"], actor)


def stored_uploads(service: Service) -> list[str]:
    """What enrolments left in the object store (nothing, once the worker is done)."""
    return service.state.store.list("voices/")


def audit_details(service: Service, *, job_id: str | None = None) -> list[tuple[str, str, str | None, str]]:
    with service.state.sessions() as session:
        statement = select(AuditEntry).order_by(AuditEntry.id)
        if job_id is not None:
            statement = statement.where(AuditEntry.job_id == job_id)
        return [(e.action, e.outcome, e.unit, e.detail) for e in session.scalars(statement)]


@pytest.fixture(scope="module")
def dupont(service: Service) -> dict[str, Any]:
    """JFK's voice enrolled by brigade-a's investigator through the API (timed)."""
    started = time.perf_counter()
    body: dict[str, Any] = enrolled(
        service, service.investigator, "Dupont", ("jfk.flac", JFK.read_bytes()), role="Enquêteur"
    )
    assert body["status"] == "ready" and body["error"] is None, body
    assert stored_uploads(service) == []  # the recording is gone once the print is made
    body["_seconds"] = time.perf_counter() - started
    return body


def test_enrolled_voice_is_listed_by_its_unit_only_without_its_print(
    service: Service, dupont: dict[str, Any]
) -> None:
    assert dupont["display"] == "Enquêteur Dupont" and dupont["name"] == "Dupont"
    assert dupont["role"] == "Enquêteur" and dupont["speech_seconds"] >= 6
    print(f"enrolment through the API and the worker, until ready: {dupont['_seconds']:.1f} s (cold or warm)")
    listed = service.client.get("/v1/voices", headers=service.colleague.headers)  # same unit, other person
    assert listed.status_code == 200, listed.text
    (voice,) = listed.json()["voices"]
    assert voice["id"] == dupont["id"] and voice["status"] == "ready" and set(voice) == {
        "id", "name", "role", "display", "speech_seconds", "created_at", "status", "error", "message"
    }  # fmt: skip
    one = service.client.get(f"/v1/voices/{dupont['id']}", headers=service.colleague.headers)
    assert one.status_code == 200 and one.json() == voice
    theirs = service.client.get(f"/v1/voices/{dupont['id']}", headers=service.outsider.headers)
    assert _codes(theirs) == (404, "voice_not_found", None)  # another unit's reads as none
    assert service.client.get("/v1/voices", headers=service.outsider.headers).json() == {"voices": []}
    assert service.client.get("/v1/voices", headers=service.admin.headers).json() == {"voices": []}  # hq's
    assert service.client.get("/v1/voices").status_code == 401

    details = audit_details(service)
    assert (
        "write",
        "ok",
        "brigade-a",
        f"voices add id={dupont['id']} unit=brigade-a status=pending",
    ) in details
    assert ("write", "ok", "brigade-a") in [d[:3] for d in details if d[3].startswith("voices enrolled id=")]
    assert ("read", "denied", "court-b", "voices read unit=court-b") in details
    assert ("read", "ok", "brigade-a", "voices list unit=brigade-a count=1") in details
    assert ("read", "ok", "court-b", "voices list unit=court-b count=0") in details
    assert all("Dupont" not in d[3] for d in details)
    with service.state.sessions() as session:
        row = session.get(VoiceRecord, dupont["id"])
        assert row is not None and row.unit == "brigade-a" and "Dupont" not in row.envelope


def test_the_units_jobs_name_the_voice_but_not_another_units_nor_with_voices_off(
    service: Service, dupont: dict[str, Any]
) -> None:
    started = time.perf_counter()
    mine = service.upload(service.colleague, language="en")
    off = service.upload(service.investigator, language="en", voices="false")
    theirs = service.upload(service.outsider, language="en")
    for job, actor in ((mine, service.colleague), (off, service.investigator), (theirs, service.outsider)):
        assert service.wait(job["id"], actor, timeout=300)["status"] == "succeeded"
    print(f"three diarised JFK jobs: {time.perf_counter() - started:.1f} s")

    def speakers(job: dict[str, Any], actor: Actor) -> list[dict[str, Any]]:
        r = service.client.get(f"/v1/jobs/{job['id']}/transcript", headers=actor.headers)
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = r.json()["speakers"]
        return found

    named = [s for s in speakers(mine, service.colleague) if "voice" in s]
    assert [(s["name"], s["voice"]["id"]) for s in named] == [("Enquêteur Dupont", dupont["id"])]
    assert named[0]["voice"]["similarity"] >= 0.7
    for job, actor in ((off, service.investigator), (theirs, service.outsider)):
        assert all("voice" not in s and s["name"] != "Enquêteur Dupont" for s in speakers(job, actor))

    matches = [d for d in audit_details(service, job_id=mine["id"]) if d[3].startswith("voices match")]
    assert len(matches) == 1 and f"id={dupont['id']} unit=brigade-a" in matches[0][3]
    for job in (off, theirs):
        assert not [d for d in audit_details(service, job_id=job["id"]) if d[3].startswith("voices match")]


def _codes(r: Any) -> tuple[int, str, str | None]:
    body = r.json()
    return r.status_code, body["code"], body.get("field")


def test_bad_enrolments_are_refused_with_their_code_and_audited(
    service: Service, dupont: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        tempfile, "tempdir", str(tmp_path)
    )  # where the worker copies the uploads, to watch it
    inv = service.investigator
    jfk = ("jfk.flac", JFK.read_bytes())
    silence = write_audio(tmp_path / "silence.wav", np.zeros(8 * SR, np.float32)).read_bytes()
    too_long = write_audio(tmp_path / "long.wav", np.zeros(301 * SR, np.float32)).read_bytes()
    short = (DATA / "picovoice_test_fr.wav").read_bytes()  # one sentence: under 6 s of speech

    # refused in the request: nothing stored, no voice recorded
    no_file = service.client.post("/v1/voices", headers=inv.headers, data={"name": "Martin"})
    assert _codes(no_file) == (422, "invalid_option", "recordings")
    assert _codes(enrol(service, inv, "Martin", ("a.wav", b"not audio at all" * 50))) == (
        415, "audio_unreadable", None
    )  # fmt: skip
    assert _codes(enrol(service, inv, "Martin", ("a.wav", b""))) == (415, "audio_unreadable", None)
    assert _codes(enrol(service, inv, "Martin", jfk, ("a.wav", b""))) == (415, "audio_unreadable", None)
    assert _codes(enrol(service, inv, "Martin", ("l.wav", too_long))) == (422, "audio_limit", None)
    assert _codes(enrol(service, inv, "Martin", *[jfk] * 6)) == (422, "invalid_option", "recordings")
    assert _codes(enrol(service, inv, "Mar\x1btin", jfk)) == (422, "invalid_option", "name")
    assert _codes(enrol(service, inv, "Martin", jfk, role="\u202eesrever")) == (422, "invalid_option", "role")
    duplicate = enrol(service, inv, " dupont ", jfk, role="ENQUÊTEUR")  # the shown name, whatever the case
    assert _codes(duplicate) == (409, "voice_exists", None)
    diplomat = Actor(*_user(service, "dip-a", "diplomat", "brigade-a"))
    assert _codes(enrol(service, diplomat, "Martin", jfk)) == (403, "permission_denied", None)
    with service.state.sessions() as session:
        assert [r.id for r in session.scalars(select(VoiceRecord))] == [dupont["id"]]
    assert stored_uploads(service) == []

    # accepted, then failed by the worker: too little speech, with its code and French message
    failed = [
        enrolled(service, inv, "Martin", ("s.wav", silence)),
        enrolled(service, inv, "Martin", ("fr.wav", short)),
    ]
    for body in failed:
        assert (body["status"], body["error"], body["speech_seconds"]) == ("failed", "voice_enrolment", None)
        assert body["message"].startswith("Enregistrement inutilisable pour reconnaître la voix")
    listed = service.client.get("/v1/voices", headers=inv.headers).json()["voices"]
    assert [(v["id"], v["status"]) for v in listed] == [(dupont["id"], "ready")] + [
        (b["id"], "failed") for b in failed
    ]
    with service.state.sessions() as session:  # a failed voice names nobody
        assert [v.id for v in unit_voices(session, service.state.settings, unit="brigade-a")] == [
            dupont["id"]
        ]
    for body in failed:  # and can be removed like any other
        assert service.client.delete(f"/v1/voices/{body['id']}", headers=inv.headers).status_code == 204
    assert stored_uploads(service) == [] and list(tmp_path.glob("verbatim-voice-*")) == []

    # an odd file name is never a path nor a key: kept nowhere, the enrolment works
    started = time.perf_counter()
    odd = enrolled(
        service, inv, "Martin", ("../../etc/passwd\r\n<b>.flac", JFK.read_bytes()), role="Interprète"
    )
    assert odd["status"] == "ready", odd
    print(f"enrolment of an 11 s clip until ready, models warm: {time.perf_counter() - started:.2f} s")
    assert list(tmp_path.glob("verbatim-voice-*")) == [] and not (tmp_path.parent / "etc").exists()
    assert stored_uploads(service) == []
    assert service.client.delete(f"/v1/voices/{odd['id']}", headers=inv.headers).status_code == 204

    details = audit_details(service)
    errors = [d[3] for d in details if d[0] == "write" and d[1] == "error" and d[3].startswith("voices add")]
    for kind in ("AudioDecodeError", "AudioLimitError", "InvalidOptionError", "VoiceExistsError"):
        assert any(d.endswith(f"; {kind}") for d in errors), (kind, errors)
    for body in failed:
        assert (
            "write",
            "error",
            "brigade-a",
            f"voices enrolled id={body['id']} unit=brigade-a; voice_enrolment",
        ) in details
    assert ("write", "denied", "brigade-a", "voices add; role may not voices") in details
    assert all("Martin" not in d[3] and "passwd" not in d[3] for d in details)
    with service.state.sessions() as session:  # Dupont only: nothing refused or failed was kept
        assert [r.id for r in session.scalars(select(VoiceRecord))] == [dupont["id"]]


def test_a_pending_voice_is_stored_encrypted_names_nobody_and_the_worker_deletes_its_audio(
    service: Service, dupont: dict[str, Any]
) -> None:
    state = service.state
    store = state.store
    assert isinstance(store, EncryptedObjectStore)  # the embedded deployment encrypts by default
    held = RecordingDispatcher()  # keeps what it is handed: the test runs the worker's step itself
    audio = JFK.read_bytes()
    with state.sessions() as session, JFK.open("rb") as fh:
        voice = accept_enrolment(
            session, state.settings, store=store, dispatcher=held, user=service.colleague.user, name="Durand",
            role=None, recordings=[Recording(fh, "jfk.flac")], request_id="test",
        )  # fmt: skip
    assert held.enrolled == [voice.id] and voice.status == "pending"
    (key,) = store.list(voice_upload_prefix(voice.id))
    assert key == f"voices/{voice.id}/recording-1.flac"
    assert store.get_bytes(key) == audio
    ciphertext = store.inner.get_bytes(key)
    assert audio[:4096] not in ciphertext and b"fLaC" not in ciphertext[:64]  # encrypted at rest

    # pending: listed as such, never used to name a speaker
    body = service.client.get(f"/v1/voices/{voice.id}", headers=service.investigator.headers).json()
    assert (body["status"], body["speech_seconds"], body["error"]) == ("pending", None, None)
    with state.sessions() as session:
        assert [v.id for v in unit_voices(session, state.settings, unit="brigade-a")] == [dupont["id"]]

    started = time.perf_counter()
    assert process_voice(voice.id, settings=state.settings, sessions=state.sessions, store=store) == "ready"
    print(f"worker step of an enrolment (11 s clip, models warm): {time.perf_counter() - started:.2f} s")
    assert store.list(voice_upload_prefix(voice.id)) == []
    with state.sessions() as session:
        ready = {v.id for v in unit_voices(session, state.settings, unit="brigade-a")}
        assert ready == {dupont["id"], voice.id}
    # a message delivered again finds it done
    assert process_voice(voice.id, settings=state.settings, sessions=state.sessions, store=store) == "skipped"
    assert (
        service.client.delete(f"/v1/voices/{voice.id}", headers=service.colleague.headers).status_code == 204
    )

    # removed while pending: the recordings go with it, and the worker finds nothing to do
    with state.sessions() as session, JFK.open("rb") as fh:
        gone = accept_enrolment(
            session, state.settings, store=store, dispatcher=held, user=service.colleague.user, name="Durand",
            role=None, recordings=[Recording(fh, None)], request_id="test",
        )  # fmt: skip
    assert store.list(voice_upload_prefix(gone.id)) == [f"voices/{gone.id}/recording-1"]
    assert (
        service.client.delete(f"/v1/voices/{gone.id}", headers=service.colleague.headers).status_code == 204
    )
    assert stored_uploads(service) == []
    assert process_voice(gone.id, settings=state.settings, sessions=state.sessions, store=store) == "skipped"

    # the broker is down: 503, the voice failed (never used), its recordings deleted at once
    class Down(RecordingDispatcher):
        def enrol(self, voice_id: str) -> None:
            raise ConnectionError("broker unreachable")

    with state.sessions() as session, JFK.open("rb") as fh, pytest.raises(ServiceUnavailableError):
        accept_enrolment(
            session, state.settings, store=store, dispatcher=Down(), user=service.colleague.user,
            name="Durand", role=None, recordings=[Recording(fh, "a.flac")], request_id="test",
        )  # fmt: skip
    assert stored_uploads(service) == []
    with state.sessions() as session:
        (row,) = session.scalars(select(VoiceRecord).where(VoiceRecord.status != "ready"))
        assert (row.status, row.error) == ("failed", "service_unavailable")
    assert service.client.delete(f"/v1/voices/{row.id}", headers=service.colleague.headers).status_code == 204


def _user(service: Service, name: str, role: str, unit: str) -> tuple[Any, str]:
    with service.state.sessions() as session:
        return create_user(session, name=name, role=role, unit=unit)


def test_removal_by_the_unit_only_and_audited(service: Service, dupont: dict[str, Any]) -> None:
    path = f"/v1/voices/{dupont['id']}"
    theirs = service.client.delete(path, headers=service.outsider.headers)  # court-b's clerk
    assert _codes(theirs) == (404, "voice_not_found", None)
    assert _codes(service.client.delete("/v1/voices/nope", headers=service.investigator.headers)) == (
        404, "voice_not_found", None
    )  # fmt: skip
    assert _codes(service.client.delete("/v1/voices/Dupont", headers=service.investigator.headers)) == (
        404, "voice_not_found", None
    )  # by id only through the API  # fmt: skip
    assert service.client.get("/v1/voices", headers=service.investigator.headers).json()["voices"]
    assert service.client.delete(path, headers=service.colleague.headers).status_code == 204
    assert service.client.get("/v1/voices", headers=service.investigator.headers).json() == {"voices": []}
    assert _codes(service.client.delete(path, headers=service.colleague.headers))[0] == 404
    with service.state.sessions() as session:
        assert session.get(VoiceRecord, dupont["id"]) is None

    details = audit_details(service)
    assert ("delete", "denied", "court-b", "voices remove unit=court-b") in details
    assert ("delete", "not_found", "brigade-a", "voices remove unit=brigade-a") in details
    assert ("delete", "ok", "brigade-a", f"voices remove id={dupont['id']} unit=brigade-a") in details


def test_the_routes_are_documented(service: Service) -> None:
    schema = service.app.openapi()
    paths = schema["paths"]
    assert set(paths["/v1/voices"]) == {"get", "post"}
    post = paths["/v1/voices"]["post"]
    assert post["tags"] == ["voices"] and {"202", "409", "413", "415", "422", "503"} <= set(post["responses"])
    assert set(paths["/v1/voices/{voice_id}"]) == {"get", "delete"}
    components = schema["components"]["schemas"]
    form = components["Body_create_voice_v1_voices_post"]
    assert set(form["properties"]) == {"name", "role", "recordings"} and "never stored" in str(form)
    assert {"status", "error", "message"} <= set(components["VoicePublic"]["properties"])
    assert "url" in components["VoiceAccepted"]["properties"]
    assert (
        "embedding" not in str(components["VoicePublic"])
        and "voices" in components["JobCreate"]["properties"]
    )
