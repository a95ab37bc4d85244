"""A long recording split across two real Celery worker processes (Redis broker, PostgreSQL, moto S3).

The ~33 s two-speaker recording of ``test_chunked.py`` is cut every 12 s into three parts; the job's worker
hands the parts out through the broker, both workers transcribe, and the merged transcript keeps one speaker
for both JFK passages and another for Quilter.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from tests.ops.conftest import MotoServer
from tests.services import api_settings, delete_keys, start_celery_worker, worker_env
from tests.throwaway import redis_url
from tests.workers.helpers import load, make_owner, upload_job
from tests.workers.test_chunked import _long_recording, _speakers_by_passage
from verbatim.bench.common import stop_process
from verbatim.jobs.layout import chunk_key
from verbatim.ops.db import Job, make_engine, session_factory, upgrade
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.settings import Settings
from verbatim.ops.storage import make_store
from verbatim.ops.storage.base import ObjectStore
from verbatim.workers.celery_app import make_celery
from verbatim.workers.config import WorkerSettings
from verbatim.workers.dispatch import CeleryDispatcher

pytestmark = [pytest.mark.services, pytest.mark.models]

# A database number of its own (test_celery uses 7, test_distributed 9), and a key prefix per run on top.
SPLIT_SECONDS = 12
JOB_TIMEOUT_S = 150.0


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

    def log_text(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}" for p in sorted(self.logs.glob("*.log"))
        )

    def wait_ready(
        self, names: list[str], processes: list[subprocess.Popen[bytes]], timeout: float = 60
    ) -> None:
        """Until every worker's log says it is ready (consuming), so that both can take the parts."""
        deadline = time.monotonic() + timeout
        while True:
            if all("ready." in (self.logs / f"{n}.log").read_text(errors="replace") for n in names):
                return
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise AssertionError(f"the workers did not get ready\n{self.log_text()}")
            time.sleep(0.2)

    def wait_finished(self, job_id: str, timeout: float = JOB_TIMEOUT_S) -> Job:
        deadline = time.monotonic() + timeout
        while True:
            job, _ = load(self.sessions, job_id)
            if job.status in ("succeeded", "failed"):
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {job.status} after {timeout} s\n{self.log_text()}")
            time.sleep(0.3)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    server = MotoServer()
    try:
        with temporary_postgres_schema() as db_url:
            upgrade(db_url)
            prefix = f"vbtest-chunk-{uuid.uuid4().hex[:8]}:"
            bucket = f"vb-chunk-{uuid.uuid4().hex[:12]}"
            where = dict(
                broker_url=redis_url(11),
                db_url=db_url,
                s3_endpoint=server.endpoint,
                bucket=bucket,
                prefix=prefix,
            )
            env = worker_env(home=tmp_path / "worker-home", split_seconds=str(SPLIT_SECONDS), **where)
            settings = api_settings(home=tmp_path / "api-home", **where)
            engine = make_engine(db_url)
            logs = tmp_path / "logs"
            logs.mkdir()
            broker = redis.Redis.from_url(redis_url(11))
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
                delete_keys(broker, prefix)
                broker.close()
    finally:
        server.stop()


def test_a_long_recording_is_split_across_two_celery_workers(cluster: Cluster, tmp_path: Path) -> None:
    data = _long_recording(tmp_path / "long.wav")
    owner = make_owner(cluster.sessions)
    job_id = upload_job(cluster.sessions, cluster.store, owner, data, options={"language": "en"})
    names = ["w1", "w2"]
    workers = [cluster.start_worker(n) for n in names]
    try:
        cluster.wait_ready(names, workers)
        started = time.monotonic()
        CeleryDispatcher(make_celery(cluster.settings, cluster.worker)).submit(job_id)
        job = cluster.wait_finished(job_id)
        elapsed = time.monotonic() - started
    finally:
        for worker in workers:
            stop_process(worker)
    assert job.status == "succeeded", f"{job.error}\n{cluster.log_text()}"
    assert job.duration == pytest.approx(32.9, abs=0.5)

    # Every part's audio and result are in the S3 bucket.
    keys = cluster.store.list(f"jobs/{job_id}/chunks/")
    count = len([k for k in keys if k.endswith(".json")])
    assert count == 3, keys
    for n in range(count):
        assert cluster.store.exists(chunk_key(job_id, n, "wav"))
        result = json.loads(cluster.store.get_bytes(chunk_key(job_id, n, "json")))
        assert result["index"] == n

    # The merged transcript: both JFK passages one speaker, Quilter another.
    doc = json.loads(cluster.store.get_bytes(f"jobs/{job_id}/transcript.json"))
    by = _speakers_by_passage(doc)
    assert len(by["jfk"]) == 1, f"both JFK passages must be one speaker: {by}"
    assert len(by["quilter"]) == 1 and by["jfk"].isdisjoint(by["quilter"]), by

    # Who did which part (informative: with a cold chunk worker the job's own worker may do them all).
    done = {
        n: re.findall(
            r"chunk done job=\S+ chunk=(\d+)", (cluster.logs / f"{n}.log").read_text(errors="replace")
        )
        for n in names
    }
    print(f"split job done in {elapsed:.1f} s; parts by worker: {done}")
