"""The Celery app of the distributed deployment, and its transcription task.

Start a worker with ``verbatim worker`` or ``celery -A verbatim.workers.celery_app worker -Q asr``.
A job's state is in the database: its tasks keep no result. Delivery is at least once (late acknowledgement,
messages of a lost worker delivered again); :func:`~verbatim.workers.process.process_job` makes it run to
completion once. One task answers the API, which waits for it: a segment translated again and recorded by
the worker (``verbatim.retranslate_segment``); its status (ids and an error's kind, never text: the
translation is in the database) goes through the result backend (:func:`result_backend`: the broker's Redis,
or RabbitMQ's reply queues), is removed once read, and expires after :data:`RESULT_EXPIRES_S` otherwise.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import TYPE_CHECKING, Any

from celery import Celery, Task
from celery.signals import setup_logging
from kombu.entity import Queue
from sqlalchemy.orm import Session, sessionmaker

from verbatim.ops.settings import Settings, get_settings
from verbatim.workers.chunked import process_chunk
from verbatim.workers.config import WorkerSettings, get_worker_settings, process_options
from verbatim.workers.process import HOLDER_ALIVE, ProcessOptions, process_job
from verbatim.workers.queues import (
    ASR_QUEUE,
    CHUNK_TASK_NAME,
    CPU_QUEUE,
    REFRESH_TASK_NAME,
    RETRANSLATE_TASK_NAME,
    TASK_NAME,
    VOICE_TASK_NAME,
)
from verbatim.workers.retranslate import run_retranslation
from verbatim.workers.voices import process_voice

if TYPE_CHECKING:
    from verbatim.ops.storage.base import ObjectStore

__all__ = [
    "ASR_QUEUE",
    "CHUNK_TASK_NAME",
    "CPU_QUEUE",
    "REFRESH_TASK_NAME",
    "RESULT_EXPIRES_S",
    "RETRANSLATE_TASK_NAME",
    "TASK_NAME",
    "VOICE_TASK_NAME",
    "app",
    "make_celery",
    "result_backend",
]

RESULT_EXPIRES_S = 600
"""Seconds an unread status stays in the result backend (a re-translation the API stopped waiting for): more
than the API waits (``VERBATIM_RETRANSLATE_TIMEOUT_S``). It holds ids only, never text."""


def result_backend(broker_url: str) -> str:
    """Where statuses awaited by the API go (ids only): the broker's own Redis, or RabbitMQ's reply queues
    (``rpc://``, nothing stored) for an AMQP broker."""
    return broker_url if broker_url.startswith(("redis://", "rediss://")) else "rpc://"


@setup_logging.connect  # type: ignore[untyped-decorator,unused-ignore]
def _configure_logging(**_: Any) -> None:
    """Celery would install its own handlers; ours write ids only, as text or JSON (VERBATIM_LOG_FORMAT)."""
    from verbatim.ops.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def make_celery(settings: Settings, worker: WorkerSettings | None = None) -> Celery:
    """A Celery app on the settings' broker, with the transcription task registered.

    Args:
        settings: the application settings; ``broker_url`` must be set (``redis://`` or ``amqp://``).
        worker: worker tuning (default: :func:`~verbatim.workers.config.get_worker_settings`).

    Returns:
        The app; its task ``verbatim.process_job(job_id)`` goes to the ``asr`` queue.
    """
    worker = worker or settings.worker
    celery = Celery(
        "verbatim",
        broker=settings.broker_url,
        backend=result_backend(settings.broker_url or ""),
        set_as_current=False,
    )
    transport: dict[str, Any] = {
        "visibility_timeout": worker.visibility_timeout_s,
        "unacked_restore_interval": worker.restore_interval_s,
        "unacked_restore_throttle": 1,
    }
    backend_transport: dict[str, Any] = {}
    if worker.key_prefix:
        transport["global_keyprefix"] = worker.key_prefix
        backend_transport["global_keyprefix"] = worker.key_prefix
    celery.conf.update(
        task_ignore_result=True,  # but the re-translation's, which the API waits for
        result_expires=RESULT_EXPIRES_S,
        result_serializer="json",
        result_accept_content=["json"],
        result_backend_transport_options=backend_transport,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        task_default_queue=ASR_QUEUE,
        task_queues=(Queue(ASR_QUEUE), Queue(CPU_QUEUE)),  # type: ignore[no-untyped-call]
        task_routes={
            TASK_NAME: {"queue": ASR_QUEUE},
            CHUNK_TASK_NAME: {"queue": ASR_QUEUE},
            REFRESH_TASK_NAME: {"queue": ASR_QUEUE},
            VOICE_TASK_NAME: {"queue": ASR_QUEUE},
            RETRANSLATE_TASK_NAME: {"queue": ASR_QUEUE},
        },
        task_serializer="json",
        accept_content=["json"],
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    retry_countdown = worker.retry_countdown_s

    @celery.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME, bind=True, max_retries=None, acks_late=True, reject_on_worker_lost=True
    )
    def process_job_task(self: Task[Any, Any], job_id: str) -> str:
        settings_, sessions, store, options = _resources()
        hostname = self.request.hostname or socket.gethostname()
        status = process_job(
            job_id,
            settings=settings_,
            sessions=sessions,
            store=store,
            worker_id=f"{hostname}:{os.getpid()}:{self.request.id}",
            options=options,
            submit_chunk=submit_chunk,
        )
        if status == HOLDER_ALIVE:
            # Another execution holds a fresh heartbeat (this message was delivered again while it runs):
            # come back later; by then it has finished, or stopped beating and the job can be taken over.
            raise self.retry(countdown=retry_countdown)
        return status

    def submit_chunk(job_id: str, index: int, first: int) -> None:
        celery.send_task(CHUNK_TASK_NAME, args=[job_id, index, first], queue=ASR_QUEUE)

    @celery.task(  # type: ignore[untyped-decorator]
        name=CHUNK_TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True
    )
    def process_chunk_task(self: Task[Any, Any], job_id: str, index: int, first: int) -> str:
        settings_, sessions, store, options = _resources()
        hostname = self.request.hostname or socket.gethostname()
        return process_chunk(
            job_id,
            index,
            first,
            settings=settings_,
            sessions=sessions,
            store=store,
            worker_id=f"{hostname}:{os.getpid()}:{self.request.id}",
            lease_interval=options.heartbeat_interval,
            stale_after=options.stale_after.total_seconds(),
        )

    @celery.task(  # type: ignore[untyped-decorator]
        name=REFRESH_TASK_NAME, acks_late=True, reject_on_worker_lost=True
    )
    def refresh_task(job_id: str) -> str:
        from verbatim.jobs.pseudonymized import refresh_job

        settings_, sessions, store, _ = _resources()
        return refresh_job(job_id, sessions=sessions, store=store, settings=settings_)

    @celery.task(  # type: ignore[untyped-decorator]
        name=VOICE_TASK_NAME, acks_late=True, reject_on_worker_lost=True
    )
    def enrol_voice_task(voice_id: str) -> str:
        settings_, sessions, store, _ = _resources()
        return process_voice(voice_id, settings=settings_, sessions=sessions, store=store)

    @celery.task(  # type: ignore[untyped-decorator]
        name=RETRANSLATE_TASK_NAME, ignore_result=False, acks_late=True, reject_on_worker_lost=True
    )
    def retranslate_task(
        job_id: str, segment_id: int, user_id: int, revision_sha256: str | None
    ) -> dict[str, Any]:
        settings_, sessions, store, _ = _resources()
        return run_retranslation(
            job_id, segment_id, user_id=user_id, revision_sha256=revision_sha256, settings=settings_,
            sessions=sessions, store=store,
        )  # fmt: skip

    return celery


_lock = threading.Lock()
_cached: tuple[Settings, sessionmaker[Session], ObjectStore, ProcessOptions] | None = None


def _resources() -> tuple[Settings, sessionmaker[Session], ObjectStore, ProcessOptions]:
    """Settings, session factory, store and process options, built once per worker process."""
    global _cached
    with _lock:
        if _cached is None:
            from verbatim.jobs.service import open_service

            service = open_service(get_settings())
            _cached = (
                service.settings,
                service.sessions,
                service.store,
                process_options(get_worker_settings()),
            )
        return _cached


def __getattr__(name: str) -> Any:
    # ``celery -A verbatim.workers.celery_app`` looks up ``app``; building it lazily keeps importing this
    # module free of side effects (settings are read on first use only).
    if name in ("app", "celery"):
        global app
        app = make_celery(get_settings())
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


app: Celery
