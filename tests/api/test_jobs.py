"""End to end in the embedded deployment: upload, follow, fetch every format, custody, delete."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import docx
from fastapi.testclient import TestClient

from tests.api.conftest import JFK, Service, make_settings
from verbatim import __version__
from verbatim.server import create_app


def test_upload_follow_and_fetch_every_format(service: Service, done_job: dict[str, Any]) -> None:
    job_id = done_job["id"]
    h = service.investigator.headers
    assert done_job["progress"] == 1.0 and done_job["error"] is None
    assert done_job["stage"] is None  # finished: no stage at work
    assert done_job["language"] == "en" and 10.5 < done_job["duration"] < 11.5
    assert done_job["audio_sha256"] == hashlib.sha256(JFK.read_bytes()).hexdigest()

    r = service.client.get(f"/v1/jobs/{job_id}/transcript", headers=h)  # json by default
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    # named after the recording and the day it was submitted, never the job's id
    day = done_job["created_at"][:10]
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"jfk_{day}.json\"; filename*=UTF-8''jfk_{day}.json"
    )
    doc = json.loads(r.content)
    assert doc["schema"] == "verbatim.transcript/1"
    text = " ".join(s["text"] for s in doc["segments"]).lower()
    assert "ask not what your country can do for you" in text
    assert doc["audio"]["sha256"] == done_job["audio_sha256"]

    txt = service.client.get(f"/v1/jobs/{job_id}/transcript?format=txt", headers=h)
    assert txt.headers["content-type"].startswith("text/plain")
    assert "country" in txt.text.lower()

    srt = service.client.get(f"/v1/jobs/{job_id}/transcript?format=srt", headers=h)
    assert srt.headers["content-type"].startswith("application/x-subrip")
    assert srt.text.startswith("1\n")
    assert re.search(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", srt.text, re.M)

    vtt = service.client.get(f"/v1/jobs/{job_id}/transcript?format=vtt", headers=h)
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert re.search(r"\d\d:\d\d\.\d{3} --> \d\d:\d\d:?\d*\.?\d*", vtt.text)

    d = service.client.get(f"/v1/jobs/{job_id}/transcript?format=docx", headers=h)
    assert d.status_code == 200
    assert d.headers["content-disposition"].endswith(f"''jfk_{day}.docx")
    document = docx.Document(io.BytesIO(d.content))
    everything = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert done_job["audio_sha256"] in everything
    assert "country" in everything.lower()

    bad = service.client.get(f"/v1/jobs/{job_id}/transcript?format=rtf", headers=h)
    assert bad.status_code == 422 and "format" in bad.json()["error"]

    listed = service.client.get("/v1/jobs", headers=h).json()["jobs"]
    assert job_id in [j["id"] for j in listed]


def test_custody_manifest_matches_the_stored_objects(service: Service, done_job: dict[str, Any]) -> None:
    job_id = done_job["id"]
    r = service.client.get(f"/v1/jobs/{job_id}/custody?verify=true", headers=service.investigator.headers)
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["schema"] == "verbatim.custody/1" and manifest["job_id"] == job_id
    store = service.state.store
    original = manifest["original"]
    assert original["sha256"] == hashlib.sha256(JFK.read_bytes()).hexdigest() == done_job["audio_sha256"]
    assert original["size"] == JFK.stat().st_size
    assert original["verified"] is True
    assert hashlib.sha256(store.get_bytes(original["object_key"])).hexdigest() == original["sha256"]
    assert manifest["artifacts"], "the transcript must be listed"
    for artifact in manifest["artifacts"]:
        data = store.get_bytes(artifact["object_key"])
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"] and len(data) == artifact["size"]
        assert artifact["verified"] is True and artifact["created_at"]
    # The JSON download is the stored artefact itself: its hash is the manifest's.
    json_download = service.client.get(f"/v1/jobs/{job_id}/transcript", headers=service.investigator.headers)
    assert hashlib.sha256(json_download.content).hexdigest() in {a["sha256"] for a in manifest["artifacts"]}
    assert manifest["models"], "model identities must be listed"
    assert any("sha256" in json.dumps(info) for info in manifest["models"].values())
    assert manifest["created_at"] <= manifest["started_at"] <= manifest["finished_at"]


def test_transcript_is_409_until_the_job_succeeded(service: Service) -> None:
    # A job row without a worker stays queued.
    from verbatim.ops.db import create_job

    with service.state.sessions() as session:
        job = create_job(
            session, owner=service.investigator.user, options={}, filename=None, audio_sha256=None,
            audio_size=None, object_key=None,
        )  # fmt: skip
    r = service.client.get(f"/v1/jobs/{job.id}/transcript", headers=service.investigator.headers)
    assert r.status_code == 409 and "queued" in r.json()["error"]


def test_delete_removes_objects_and_row_but_keeps_the_audit(service: Service) -> None:
    created = service.upload(language="en", diarize="false")
    job_id = created["id"]
    assert created["status"] in ("queued", "running")  # the in-process worker may have claimed it already
    service.wait(job_id)
    store = service.state.store
    assert store.list(f"jobs/{job_id}/")
    r = service.client.delete(f"/v1/jobs/{job_id}", headers=service.colleague.headers)
    assert r.status_code == 204
    assert store.list(f"jobs/{job_id}/") == []
    assert service.client.get(f"/v1/jobs/{job_id}", headers=service.investigator.headers).status_code == 404
    actions = []
    for action in ("write", "delete", "read"):  # by action: polling adds many reads
        url = f"/v1/audit?job_id={job_id}&action={action}&limit=1000"
        page = service.client.get(url, headers=service.admin.headers).json()
        actions += [(e["action"], e["outcome"]) for e in page["entries"]]
    assert ("write", "ok") in actions and ("delete", "ok") in actions and ("read", "not_found") in actions


def test_healthz_metrics_and_request_id(service: Service, done_job: dict[str, Any]) -> None:
    r = service.client.get("/healthz", headers={"X-Request-ID": "probe-1"})
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok", "version": __version__}
    # request ids are the server's: a client's is never echoed as the id (it is logged apart)
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    generated = service.client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])

    # every unit's activity: admins only
    assert service.client.get("/metrics", headers=service.investigator.headers).status_code == 403
    m = service.client.get("/metrics", headers=service.admin.headers)
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/plain")
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in m.text.splitlines()
        if line and not line.startswith("#")
    }
    assert values['verbatim_jobs{state="succeeded"}'] >= 1
    assert "verbatim_queue_depth" in values
    assert values["verbatim_audio_seconds_processed_total"] >= 10.5
    assert values["verbatim_processing_seconds_total"] > 0
    assert service.client.get("/openapi.json").status_code == 404  # VERBATIM_API_DOCS=off by default


def test_start_up_migrates_a_fresh_home(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(tmp_path / "fresh"))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert (tmp_path / "fresh" / "verbatim.db").exists()
