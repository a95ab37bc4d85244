"""Distributed mode end to end through the real HTTP API.

A real Redis broker, a PostgreSQL schema of its own, moto's S3 server on loopback, a Celery worker in a child
process, and the API (built by ``create_app(settings)``, so the dispatcher is the one ``make_dispatcher``
picks) served by uvicorn on a loopback port: upload, poll, fetch every format, check the custody hashes and
the object in the bucket.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import docx
import httpx
import pytest
import redis
from celery import Celery
from celery.result import AsyncResult

from tests.conftest import REPO
from tests.ops.conftest import MotoServer
from tests.services import api_settings, delete_keys, start_celery_worker, worker_env
from tests.throwaway import redis_url
from verbatim import __version__
from verbatim.api.serving import ApiThread
from verbatim.bench.common import stop_process
from verbatim.ops.accounts import create_user
from verbatim.ops.db import make_engine, session_factory, upgrade
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.settings import Settings
from verbatim.server import create_app
from verbatim.workers.dispatch import CeleryDispatcher
from verbatim.workers.queues import RETRANSLATE_TASK_NAME

pytestmark = [pytest.mark.services, pytest.mark.models]

# A database number of its own (the worker tests use 7), and a key prefix per run on top.
JFK = REPO / "tests" / "data" / "jfk.flac"
FRENCH = REPO / "tests" / "data" / "picovoice_test_fr.wav"
JOB_TIMEOUT_S = 180.0


class ApiServer(ApiThread):
    """The app of ``settings`` (its dispatcher the one ``make_dispatcher`` picks) served on loopback."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(create_app(settings, poll_interval_s=0.1))

    def stop(self, timeout: float = 30.0) -> None:
        super().stop(timeout)
        assert not self.alive, "the API server did not stop"


@dataclass
class Cluster:
    settings: Settings
    api: ApiServer
    client: httpx.Client
    moto: MotoServer
    bucket: str
    token: str
    logs: Path
    prefix: str
    redis: redis.Redis

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-4000:] for p in sorted(self.logs.glob("*.log")))

    def wait(self, job_id: str, timeout: float = JOB_TIMEOUT_S) -> dict[str, Any]:
        """Poll ``GET /v1/jobs/{id}`` until the job is finished."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(f"/v1/jobs/{job_id}", headers=self.headers)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            if body["status"] in ("succeeded", "failed"):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {job_id} still {body['status']} after {timeout} s\n{self.worker_logs()}"
                )
            time.sleep(0.5)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    moto = MotoServer()
    try:
        with temporary_postgres_schema() as db_url:
            upgrade(db_url)
            prefix = f"vbtest-api-{uuid.uuid4().hex[:8]}:"
            bucket = f"vb-api-{uuid.uuid4().hex[:12]}"
            where = dict(
                broker_url=redis_url(9),
                db_url=db_url,
                s3_endpoint=moto.endpoint,
                bucket=bucket,
                prefix=prefix,
            )
            # One pseudonymisation key for the API and the workers, as a deployment must have it: the
            # workers open the voices the API recorded (and the sealed hide lists).
            key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii") + "\n"
            for home in ("worker-home", "api-home"):
                (tmp_path / home).mkdir()
                (tmp_path / home / "pseudonymization.key").write_text(key, encoding="ascii")
                (tmp_path / home / "pseudonymization.key").chmod(0o600)
            env = worker_env(home=tmp_path / "worker-home", **where)
            settings = api_settings(home=tmp_path / "api-home", **where)
            engine = make_engine(db_url)
            try:
                with session_factory(engine)() as session:
                    _, token = create_user(session, name="inv-dist", role="investigator", unit="brigade-d")
            finally:
                engine.dispose()
            logs = tmp_path / "logs"
            logs.mkdir()
            broker = redis.Redis.from_url(redis_url(9))
            worker = start_celery_worker(env, logs / "worker.log", "api-e2e")
            try:
                api = ApiServer(settings)
                try:
                    with httpx.Client(base_url=api.base_url, timeout=60) as client:
                        yield Cluster(settings, api, client, moto, bucket, token, logs, prefix, broker)
                finally:
                    api.stop()
            finally:
                stop_process(worker)
                delete_keys(broker, prefix)
                broker.close()
    finally:
        moto.stop()


def test_upload_poll_and_fetch_every_format_through_celery_postgres_and_s3(cluster: Cluster) -> None:
    audio = JFK.read_bytes()
    audio_sha256 = hashlib.sha256(audio).hexdigest()
    h = cluster.headers
    assert isinstance(cluster.api.app.state.verbatim.dispatcher, CeleryDispatcher)
    assert cluster.client.get("/healthz").json() == {"status": "ok", "database": "ok", "version": __version__}

    started = time.monotonic()
    r = cluster.client.post(
        "/v1/jobs", headers=h, files={"file": (JFK.name, audio, "audio/flac")},
        data={"language": "en", "diarize": "false"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.json()["status"] == "queued"
    # The API's dispatcher publishes under the settings' key prefix, where the worker listens; a message
    # under the bare queue name would wait there forever.
    assert not cluster.redis.exists("asr"), (
        f"the job was published to the unprefixed 'asr' queue, not under {cluster.prefix!r}: the API's "
        "Celery app ignores settings.worker (make_dispatcher -> make_celery(settings) without it)"
    )
    body = cluster.wait(job_id)
    elapsed = time.monotonic() - started
    assert body["status"] == "succeeded", f"{body['error']}\n{cluster.worker_logs()}"
    assert body["progress"] == 1.0 and body["audio_sha256"] == audio_sha256
    assert body["language"] == "en" and 10.5 < body["duration"] < 11.5

    # Every format, with real content.
    r = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=json", headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = json.loads(r.content)
    assert doc["schema"] == "verbatim.transcript/1" and doc["audio"]["sha256"] == audio_sha256
    assert "fellow Americans" in " ".join(s["text"] for s in doc["segments"])
    json_sha256 = hashlib.sha256(r.content).hexdigest()

    txt = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=txt", headers=h)
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert "fellow Americans" in txt.text

    srt = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=srt", headers=h)
    assert srt.status_code == 200 and srt.text.startswith("1\n")
    assert re.search(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", srt.text, re.M)
    assert "fellow Americans" in srt.text

    vtt = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=vtt", headers=h)
    assert vtt.status_code == 200 and vtt.headers["content-type"].startswith("text/vtt")
    assert vtt.text.startswith("WEBVTT")
    assert re.search(r"\d\d:\d\d\.\d{3} --> ", vtt.text)
    assert "fellow Americans" in vtt.text

    d = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=docx", headers=h)
    assert d.status_code == 200 and job_id not in d.headers["content-disposition"]
    assert re.search(r'filename="jfk_\d{4}-\d\d-\d\d\.docx"', d.headers["content-disposition"])
    document = docx.Document(io.BytesIO(d.content))
    everything = "\n".join(p.text for p in document.paragraphs) + "\n".join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    )
    assert audio_sha256 in everything and "fellow Americans" in everything

    # The custody manifest, its objects hashed again by the API from the S3 server.
    r = cluster.client.get(f"/v1/jobs/{job_id}/custody?verify=true", headers=h)
    assert r.status_code == 200, r.text
    manifest = r.json()
    assert manifest["job_id"] == job_id and manifest["status"] == "succeeded"
    original = manifest["original"]
    assert original["object_key"] == f"jobs/{job_id}/original"
    assert (original["sha256"], original["size"], original["verified"]) == (audio_sha256, len(audio), True)
    assert manifest["artifacts"], "the transcript must be listed"
    assert all(a["verified"] is True for a in manifest["artifacts"])
    assert json_sha256 in {a["sha256"] for a in manifest["artifacts"]}
    assert manifest["models"]

    # And the objects are in the S3 server itself, read with a client of our own.
    s3 = boto3.client(
        "s3", endpoint_url=f"http://{cluster.moto.endpoint}", aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )  # fmt: skip
    stored = s3.get_object(Bucket=cluster.bucket, Key=f"jobs/{job_id}/original")["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == audio_sha256
    for artifact in manifest["artifacts"]:
        data = s3.get_object(Bucket=cluster.bucket, Key=artifact["object_key"])["Body"].read()
        assert hashlib.sha256(data).hexdigest() == artifact["sha256"]
    print(f"distributed job done in {elapsed:.1f} s")


def test_a_voice_is_enrolled_by_a_celery_worker_and_its_recording_deleted_from_the_bucket(
    cluster: Cluster,
) -> None:
    """The API only checks and stores; the Celery worker (which holds the diarizer) makes the print, then
    deletes the recording from the S3 bucket."""
    h = cluster.headers
    started = time.monotonic()
    r = cluster.client.post(
        "/v1/voices", headers=h, data={"name": "Dupont", "role": "Enquêteur"},
        files=[("recordings", (JFK.name, JFK.read_bytes(), "audio/flac"))],
    )  # fmt: skip
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "pending" and accepted["url"] == r.headers["location"]
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while (body := cluster.client.get(accepted["url"], headers=h).json())["status"] == "pending":
        assert time.monotonic() < deadline, f"voice still pending\n{cluster.worker_logs()}"
        time.sleep(0.5)
    assert body["status"] == "ready", f"{body}\n{cluster.worker_logs()}"
    assert body["display"] == "Enquêteur Dupont" and body["speech_seconds"] >= 6
    print(f"distributed enrolment ready in {time.monotonic() - started:.1f} s")
    s3 = boto3.client(
        "s3", endpoint_url=f"http://{cluster.moto.endpoint}", aws_access_key_id="testing",
        aws_secret_access_key="testing", region_name="us-east-1",
    )  # fmt: skip
    left = s3.list_objects_v2(Bucket=cluster.bucket, Prefix="voices/")
    assert left.get("KeyCount", 0) == 0, left.get("Contents")


def test_a_segment_is_translated_again_and_recorded_by_a_celery_worker_no_text_through_the_broker(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API hands the re-translation to the Celery worker (which holds Whisper and hears the segment
    again from the S3 bucket, checking the recording's SHA-256, then records the row in PostgreSQL), waits
    for its status through the result backend, and answers the row read from the database. The task's
    arguments and its status are ids only, never transcript or translation text, and the status does not
    stay in Redis."""
    h = cluster.headers
    with FRENCH.open("rb") as fh:
        r = cluster.client.post(
            "/v1/jobs", headers=h, files={"file": (FRENCH.name, fh, "audio/wav")},
            data={"language": "fr", "diarize": "false", "translate_to": "en"},
        )  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    body = cluster.wait(job_id)
    assert body["status"] == "succeeded", f"{body['error']}\n{cluster.worker_logs()}"
    doc = cluster.client.get(f"/v1/jobs/{job_id}/transcript?format=json", headers=h).json()
    segment = doc["segments"][0]
    words = [w["text"].strip() for w in segment["words"]]
    # the first word, whatever int8 kernels (AVX2 or AVX-512) made of it
    edit = {"segment_id": segment["id"], "word_index": 0, "before": words[0], "after": "Julie"}
    assert (
        cluster.client.post(f"/v1/jobs/{job_id}/edits", headers=h, json={"edits": [edit]}).status_code == 200
    )
    outdated = segment["translation"]["text"]
    sent: list[tuple[str, Any]] = []
    statuses: list[Any] = []
    send_task, get = Celery.send_task, AsyncResult.get

    def spy_send(app: Celery, name: str, args: Any = None, *more: Any, **options: Any) -> Any:
        sent.append((name, args))
        return send_task(app, name, args, *more, **options)

    def spy_get(result: AsyncResult, *more: Any, **options: Any) -> Any:
        statuses.append(status := get(result, *more, **options))
        return status

    monkeypatch.setattr(Celery, "send_task", spy_send)
    monkeypatch.setattr(AsyncResult, "get", spy_get)
    started = time.monotonic()
    r = cluster.client.post(
        f"/v1/jobs/{job_id}/segments/{segment['id']}/retranslate", headers=h, json={"before": outdated},
        timeout=cluster.settings.retranslate_timeout_s + 10,
    )  # fmt: skip
    assert r.status_code == 200, f"{r.text}\n{cluster.worker_logs()}"
    [row] = r.json()["edits"]
    assert row["kind"] == "translation" and row["before"] == outdated and row["after"].strip()
    assert row["speaker"].endswith(":translate")  # Whisper's speech translation, run by the worker
    # what crossed the broker and the result backend: ids and the revision's hash, then the row's id
    assert [(name, args[:2]) for name, args in sent] == [(RETRANSLATE_TASK_NAME, [job_id, segment["id"]])]
    assert isinstance(sent[0][1][2], int) and re.fullmatch("[0-9a-f]{64}", sent[0][1][3]), sent
    assert statuses == [{"ok": True, "edit_ids": [row["id"]]}]
    crossed = {v for v in _strings([sent, statuses])}  # every string value that crossed, whole
    for text in (outdated, row["after"], segment["text"], "Julie"):
        assert text.strip() not in crossed, text
    assert "retranslate_segment" in cluster.worker_logs()
    history = cluster.client.get(f"/v1/jobs/{job_id}/edits", headers=h).json()["edits"]
    assert [e["kind"] for e in history].count("translation") == 1
    assert not list(cluster.redis.scan_iter(match="*celery-task-meta-*")), "the answer was left in Redis"
    print(f"distributed re-translation answered in {time.monotonic() - started:.1f} s")


def _strings(value: Any) -> list[str]:
    """Every string inside nested lists, tuples and mappings (keys too)."""
    if isinstance(value, str):
        return [value.strip()]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings(item)]
    return []
