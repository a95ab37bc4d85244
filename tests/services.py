"""Shared pieces of the distributed-mode tests: Celery worker processes, the broker's keys, and the
environment / settings that point a worker and the API at the same Redis, PostgreSQL schema and S3 bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from tests.conftest import REPO
from verbatim.ops.settings import Settings, StorageSettings, WorkerSettings

# Kombu's keys for the queues when no prefix is applied: a message there was published without the prefix.
UNPREFIXED_KEYS = ("asr", "cpu", "_kombu.binding.asr", "_kombu.binding.cpu", "_kombu.binding_permanent.asr")


class RecordingDispatcher:
    """A dispatcher that only remembers what it was handed: for tests that stop at the HTTP edge."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.refreshed: list[str] = []
        self.enrolled: list[str] = []
        self.retranslated: list[tuple[str, int, int, str | None]] = []
        self.answer: dict[str, Any] = {"error": "internal"}
        self.worker: Callable[..., dict[str, Any]] | None = None

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)

    def refresh(self, job_id: str) -> None:
        self.refreshed.append(job_id)

    def enrol(self, voice_id: str) -> None:
        self.enrolled.append(voice_id)

    def retranslate(
        self, job_id: str, segment_id: int, *, user_id: int, revision_sha256: str | None, timeout_s: float
    ) -> dict[str, Any]:
        """Remembered; answers what :attr:`worker` answers when it is set (called here, with the same
        arguments), else :attr:`answer` (a worker's status to give the API)."""
        self.retranslated.append((job_id, segment_id, user_id, revision_sha256))
        if self.worker is not None:
            return self.worker(job_id, segment_id, user_id=user_id, revision_sha256=revision_sha256)
        return dict(self.answer)

    def close(self) -> None:
        """Nothing to release."""


def start_celery_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen[bytes]:
    """A Celery worker process on the ``asr`` queue, as ``verbatim worker`` runs it."""
    with log.open("wb") as out:  # the child holds its own descriptor
        return subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "verbatim.workers.celery_app", "worker",
                "-Q", "asr", "-c", "1", "--pool", "solo", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat",
            ],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def delete_keys(client: redis.Redis, prefix: str) -> None:
    """Remove what a run left in the broker: its prefixed keys, and any unprefixed queue (each test file
    uses a database number of its own, so those can only come from a publish that ignored the prefix)."""
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.delete(*UNPREFIXED_KEYS)


def worker_env(
    *, home: Path, broker_url: str, db_url: str, s3_endpoint: str, bucket: str, prefix: str, **worker: str
) -> dict[str, str]:
    """Environment of a worker process; ``worker`` holds extra ``VERBATIM_WORKER__*`` values by field name."""
    return {
        **os.environ,
        "VERBATIM_HOME": str(home),
        "VERBATIM_MODELS_DIR": os.environ["VERBATIM_MODELS_DIR"],  # the test session's (tests/conftest.py)
        "VERBATIM_BROKER_URL": broker_url,
        "VERBATIM_DATABASE_URL": db_url,
        "VERBATIM_STORAGE__BACKEND": "s3",
        "VERBATIM_STORAGE__S3_ENDPOINT": s3_endpoint,
        "VERBATIM_STORAGE__S3_ACCESS_KEY": "testing",
        "VERBATIM_STORAGE__S3_SECRET_KEY": "testing",
        "VERBATIM_STORAGE__S3_BUCKET": bucket,
        "VERBATIM_STORAGE__S3_SECURE": "false",
        "VERBATIM_STORAGE__S3_REGION": "us-east-1",
        "VERBATIM_WORKER__KEY_PREFIX": prefix,
        "VERBATIM_WORKER__HEARTBEAT_INTERVAL_S": "1",
        "VERBATIM_WORKER__PROGRESS_INTERVAL_S": "0.5",
        **{f"VERBATIM_WORKER__{key.upper()}": value for key, value in worker.items()},
        "PYTHONUNBUFFERED": "1",
    }


def api_settings(
    *, home: Path, broker_url: str, db_url: str, s3_endpoint: str, bucket: str, prefix: str
) -> Settings:
    """Settings of this process (API or dispatcher) matching :func:`worker_env`."""
    return Settings(
        home=home,
        models_dir=Path(os.environ["VERBATIM_MODELS_DIR"]),
        broker_url=broker_url,
        database_url=db_url,
        storage=StorageSettings(
            backend="s3",
            s3_endpoint=s3_endpoint,
            s3_access_key="testing",
            s3_secret_key="testing",
            s3_bucket=bucket,
            s3_secure=False,
            s3_region="us-east-1",
        ),
        worker=WorkerSettings(key_prefix=prefix),
    )
