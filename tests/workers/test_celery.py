"""Distributed mode end to end: a real Redis broker, PostgreSQL, an S3 server and Celery worker processes."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import write_audio
from tests.ops.conftest import MotoServer
from tests.services import api_settings, start_celery_worker, worker_env
from tests.throwaway import amqp_url, redis_url
from tests.workers.helpers import JFK, check_transcript, load, make_owner, upload_job
from verbatim.bench.common import stop_process
from verbatim.jobs.service import open_service
from verbatim.ops.db import Job, make_engine, session_factory, upgrade
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.settings import Settings
from verbatim.ops.storage import make_store
from verbatim.ops.storage.base import ObjectStore
from verbatim.workers.celery_app import make_celery
from verbatim.workers.config import WorkerSettings
from verbatim.workers.dispatch import CeleryDispatcher, make_dispatcher

pytestmark = [pytest.mark.services, pytest.mark.models]


def purge_rabbitmq() -> None:
    """Empty the RabbitMQ queues of the workers: a vhost is shared between runs, unlike Redis key prefixes."""
    from kombu import Connection

    with Connection(amqp_url(), connect_timeout=10) as conn:
        channel = conn.channel()
        for queue in ("asr", "cpu"):
            try:
                channel.queue_purge(queue)
            except Exception:  # not declared yet: nothing to purge
                channel = conn.channel()


@dataclass
class Cluster:
    settings: Settings
    worker: WorkerSettings
    env: dict[str, str]
    sessions: sessionmaker[Session]
    store: ObjectStore
    logs: Path

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        return start_celery_worker(self.env, self.logs / f"{name}.log", name)

    def wait(self, job_id: str, predicate: str, timeout: float = 180.0) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job, _ = load(self.sessions, job_id)
            if eval(predicate, {}, {"job": job}):
                return job
            if time.monotonic() > deadline:
                logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in self.logs.glob("*.log"))
                raise AssertionError(
                    f"job {job_id} never reached {predicate}: {job.status} {job.error}\n{logs}"
                )
            time.sleep(0.3)


@pytest.fixture(params=["redis", "rabbitmq"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """The same cluster on either broker the deployment supports."""
    broker = redis_url(7) if request.param == "redis" else amqp_url()
    if request.param == "rabbitmq":
        purge_rabbitmq()
    server = MotoServer()
    try:
        with temporary_postgres_schema() as db_url:
            upgrade(db_url)
            prefix = f"vbtest-{uuid.uuid4().hex[:8]}:"
            bucket = f"vb-{uuid.uuid4().hex[:12]}"
            where = dict(
                broker_url=broker, db_url=db_url, s3_endpoint=server.endpoint, bucket=bucket, prefix=prefix
            )
            env = worker_env(
                home=tmp_path / "worker-home",
                visibility_timeout_s="6",
                restore_interval_s="1",
                stale_after_s="4",
                retry_countdown_s="2",
                **where,
            )
            env["VERBATIM_LOG_FORMAT"] = "json"
            settings = api_settings(home=tmp_path / "api-home", **where)
            engine = make_engine(db_url)
            logs = tmp_path / "logs"
            logs.mkdir()
            try:
                yield Cluster(
                    settings,
                    WorkerSettings(key_prefix=prefix),
                    env,
                    session_factory(engine),
                    make_store(settings),
                    logs,
                )
            finally:
                engine.dispose()
    finally:
        server.stop()
        if request.param == "rabbitmq":
            purge_rabbitmq()


def test_make_dispatcher_with_a_broker_is_celery(cluster: Cluster) -> None:
    service = open_service(cluster.settings)
    try:
        assert isinstance(make_dispatcher(service), CeleryDispatcher)
    finally:
        service.close()


def test_a_job_submitted_through_celery_runs_in_a_worker_process(cluster: Cluster) -> None:
    owner = make_owner(cluster.sessions)
    job_id = upload_job(cluster.sessions, cluster.store, owner, JFK.read_bytes())
    worker = cluster.start_worker("w1")
    try:
        started = time.monotonic()
        dispatcher = CeleryDispatcher(make_celery(cluster.settings, cluster.worker))
        dispatcher.submit(job_id)
        job = cluster.wait(job_id, "job.status in ('succeeded', 'failed')")
        elapsed = time.monotonic() - started
        # a re-translation's status comes back through the result backend (Redis, or RabbitMQ's replies):
        # this job has no translation, which the worker answers as the error's kind, and nothing else
        answer = dispatcher.retranslate(job_id, 0, user_id=owner.id, revision_sha256=None, timeout_s=60)
        assert answer == {"error": "invalid_option"}, answer
    finally:
        stop_process(worker)
    assert job.status == "succeeded", job.error
    assert (job.attempts, job.progress) == (1, 1.0)
    check_transcript(cluster.store, job_id, load(cluster.sessions, job_id)[1])
    # the worker's log is JSON lines (Celery's banner aside), with the job's id and no file name
    lines = (cluster.logs / "w1.log").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["logger"] == "verbatim.worker" and job_id in r["message"] for r in records)
    assert "dupont" not in "\n".join(lines).lower()
    print(f"celery job done in {elapsed:.1f} s")


def test_a_worker_killed_during_a_job_leaves_it_to_complete_once(cluster: Cluster, tmp_path: Path) -> None:
    from verbatim.pipeline.decode import decode

    # About 110 s of speech, so that the job is still running when its worker is killed.
    samples = np.tile(decode(JFK).samples, 10)
    long_clip = write_audio(tmp_path / "long.flac", samples)
    owner = make_owner(cluster.sessions)
    job_id = upload_job(cluster.sessions, cluster.store, owner, long_clip.read_bytes())
    first = cluster.start_worker("w1")
    second: subprocess.Popen[bytes] | None = None
    try:
        CeleryDispatcher(make_celery(cluster.settings, cluster.worker)).submit(job_id)
        running = cluster.wait(job_id, "job.status == 'running' and job.progress > 0.06", timeout=120)
        assert running.status == "running", "the job finished before the worker could be killed"
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = cluster.start_worker("w2")
        job = cluster.wait(job_id, "job.status in ('succeeded', 'failed')", timeout=240)
        # Let any duplicate delivery reach the new worker: it must change nothing.
        time.sleep(8)
    finally:
        stop_process(first)
        if second is not None:
            stop_process(second)
    job, artifacts = load(cluster.sessions, job_id)
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    assert job.worker_id and job.worker_id != running.worker_id
    check_transcript(cluster.store, job_id, artifacts)
