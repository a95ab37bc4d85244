"""The broker restarted during a run, on both brokers a deployment may choose: a Redis server or a RabbitMQ
node of this test's own (never the shared ones), persisting their messages (Redis's append-only file,
RabbitMQ's durable queues and persistent messages) so that queued and unacknowledged messages survive the
restart; a Celery worker process on it, PostgreSQL and an S3 server. The running job completes exactly once
and later jobs still run."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis

from tests.conftest import write_audio
from tests.ops.conftest import MotoServer
from tests.services import api_settings, start_celery_worker, worker_env
from tests.throwaway import RABBITMQ_SERVER, RabbitNode, RedisServer
from tests.workers.helpers import JFK, check_transcript, load, make_owner, upload_job
from verbatim.bench.common import stop_process
from verbatim.ops.db import make_engine, session_factory, upgrade
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.storage import make_store
from verbatim.workers.celery_app import make_celery
from verbatim.workers.config import WorkerSettings
from verbatim.workers.dispatch import CeleryDispatcher

pytestmark = [pytest.mark.services, pytest.mark.models]


Broker = RedisServer | RabbitNode


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Broker]:
    folder = tmp_path / request.param
    folder.mkdir()
    if request.param == "rabbitmq" and not RABBITMQ_SERVER.exists():
        pytest.fail(f"no RabbitMQ server at {RABBITMQ_SERVER}: install Debian's rabbitmq-server (CI has it)")
    server: Broker = RedisServer(folder) if request.param == "redis" else RabbitNode(folder)
    try:
        yield server
    finally:
        server.stop()


def test_a_broker_restart_during_a_job_leaves_it_to_complete_once(broker: Broker, tmp_path: Path) -> None:
    from verbatim.pipeline.decode import decode

    # About 44 s of speech, so that the job is still running when the broker restarts, even on a fast machine.
    long_clip = write_audio(tmp_path / "long.flac", np.tile(decode(JFK).samples, 4))
    s3 = MotoServer()
    worker: subprocess.Popen[bytes] | None = None
    try:
        with temporary_postgres_schema() as db_url:
            upgrade(db_url)
            where = dict(
                broker_url=broker.url, db_url=db_url, s3_endpoint=s3.endpoint,
                bucket=f"vb-{uuid.uuid4().hex[:12]}", prefix="vbfaults:",
            )  # fmt: skip
            env = worker_env(
                home=tmp_path / "worker-home", visibility_timeout_s="6", restore_interval_s="1",
                stale_after_s="4", retry_countdown_s="2", **where,
            )  # fmt: skip
            settings = api_settings(home=tmp_path / "api-home", **where)
            engine = make_engine(db_url)
            sessions = session_factory(engine)
            store = make_store(settings)
            logs = tmp_path / "worker.log"

            def wait(job_id: str, predicate: str, timeout: float) -> None:
                deadline = time.monotonic() + timeout
                while True:
                    job, _ = load(sessions, job_id)
                    if eval(predicate, {}, {"job": job}):
                        return
                    if time.monotonic() > deadline:
                        raise AssertionError(
                            f"job never reached {predicate}: {job.status} {job.error}\n"
                            + logs.read_text(errors="replace")[-4000:]
                        )
                    time.sleep(0.2)

            try:
                owner = make_owner(sessions)
                first = upload_job(sessions, store, owner, long_clip.read_bytes())
                worker = start_celery_worker(env, logs, "w1")
                dispatcher = CeleryDispatcher(make_celery(settings, WorkerSettings(key_prefix="vbfaults:")))
                dispatcher.submit(first)
                # Decoded, transcribing (Whisper reports progress per 30 s window only: no finer signal).
                wait(first, "job.status == 'running' and job.progress >= 0.05", timeout=150)

                broker.stop()
                # The broker went away under a running job (it may finish while the broker is down: its
                # acknowledgement then waits for the restart, which is part of what is tested).
                job, _ = load(sessions, first)
                assert job.status == "running", "the job finished before the broker was stopped"
                broker.start()  # same port, same folder: the queue and unacknowledged messages are back
                restarted = time.monotonic()

                wait(first, "job.status in ('succeeded', 'failed')", timeout=150)
                # The API's dispatcher publishes again on the restarted broker.
                second = upload_job(sessions, store, owner, JFK.read_bytes())
                dispatcher.submit(second)
                wait(second, "job.status in ('succeeded', 'failed')", timeout=120)
                # Leave time for the first job's message, unacknowledged when the broker went away, to be
                # delivered again (visibility timeout 6 s): it must change nothing.
                time.sleep(max(0.0, 10 - (time.monotonic() - restarted)))
                assert worker.poll() is None, "the worker exited"
                # Every message acknowledged, none waiting: nothing left to run again later.
                if isinstance(broker, RedisServer):
                    client = redis.Redis(port=broker.port)
                    keys = sorted(k.decode() for k in client.scan_iter(match="vbfaults:*"))
                    assert "vbfaults:_kombu.binding.asr" in keys, keys  # the prefixed names below are right
                    assert client.hlen("vbfaults:unacked") == 0, keys
                    assert client.llen("vbfaults:asr") == 0, keys
                    client.close()
                else:
                    # What it held unacknowledged would now be ready again: there must be none.
                    stop_process(worker)
                    assert broker.waiting("asr") == 0

                for job_id in (first, second):
                    job, artifacts = load(sessions, job_id)
                    assert job.status == "succeeded", job.error
                    assert (job.attempts, job.progress) == (1, 1.0)
                    check_transcript(store, job_id, artifacts)
                assert store.list(f"jobs/{first}/") == [
                    f"jobs/{first}/original",
                    f"jobs/{first}/transcript.json",
                ]
                log = logs.read_text(errors="replace")
                assert log.count(f"job started job={first}") == 1
                assert log.count(f"job started job={second}") == 1
            finally:
                if worker is not None:
                    stop_process(worker)
                engine.dispose()
    finally:
        s3.stop()
