"""Handing jobs to workers: an in-process thread (embedded) or Celery (distributed).

The API creates a job row, stores the original, then calls ``submit`` on the
:class:`~verbatim.jobs.service.Dispatcher` it was given with the job id; the state lives in the database, so
a dispatcher carries nothing but ids. :func:`make_dispatcher` makes the one the settings choose, on the
service's own sessions and store.
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from verbatim.jobs.service import Dispatcher, Service, open_service
from verbatim.ops.db import Job, utcnow
from verbatim.ops.storage.base import ObjectStore
from verbatim.workers.process import HOLDER_ALIVE, ProcessOptions, process_job
from verbatim.workers.queues import REFRESH_TASK_NAME, RETRANSLATE_TASK_NAME, TASK_NAME, VOICE_TASK_NAME
from verbatim.workers.retranslate import run_retranslation
from verbatim.workers.voices import pending_voice_ids, process_voice

if TYPE_CHECKING:
    from celery import Celery

    from verbatim.ops.settings import Settings

__all__ = ["CeleryDispatcher", "Dispatcher", "InProcessDispatcher", "make_dispatcher", "pending_job_ids"]

log = logging.getLogger("verbatim.worker")

_PROCESS = "process"
_REFRESH = "refresh"
_ENROL = "enrol"


def pending_job_ids(sessions: sessionmaker[Session], options: ProcessOptions) -> list[str]:
    """Jobs that need a worker: queued ones, and running ones whose worker stopped beating, oldest first."""
    stale_before = utcnow() - options.stale_after
    statement = (
        select(Job.id)
        .where(
            or_(
                Job.status == "queued",
                (Job.status == "running") & or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale_before),
            )
        )
        .order_by(Job.created_at)
    )
    with sessions() as session:
        return list(session.scalars(statement))


class InProcessDispatcher:
    """The embedded worker: one background thread runs jobs one at a time, models kept warm.

    At start it re-submits the jobs left queued, and running jobs whose worker is gone, by an earlier process,
    and the voices left pending, so nothing is lost across restarts. Voice enrolments run on the same thread
    (one model at a time). A job another live execution holds is tried again after
    ``retry_delay`` seconds. Re-translations of one segment (made and recorded), which a clerk waits for, run
    on a second thread of their own, so that they are not queued behind an hour-long recording (the models
    are shared: the same cached instances).

    Args:
        settings: the application settings.
        sessions: a session factory on the jobs database (default: from the settings; the schema must exist).
        store: the object store (default: from the settings).
        options: intervals and limits of :func:`process_job`.
        retry_delay: seconds before a job held by another live execution is tried again.
        recover: re-submit the jobs pending in the database at start.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        sessions: sessionmaker[Session] | None = None,
        store: ObjectStore | None = None,
        options: ProcessOptions | None = None,
        retry_delay: float = 60.0,
        recover: bool = True,
    ) -> None:
        self._settings = settings
        self._owned: Service | None = None
        if sessions is None or store is None:
            self._owned = open_service(settings, store=store)
            sessions = sessions or self._owned.sessions
            store = self._owned.store
        self._sessions = sessions
        self._store = store
        self._options = options or ProcessOptions()
        self._retry_delay = retry_delay
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._timers: set[threading.Timer] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._prefix = f"{socket.gethostname()}:{os.getpid()}:inproc"
        self._thread = threading.Thread(target=self._loop, name="verbatim-worker", daemon=True)
        self._thread.start()
        self._interactive = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verbatim-retranslate")
        if recover:
            pending = pending_job_ids(self._sessions, self._options)
            if pending:
                log.info("re-submitting %d pending jobs", len(pending))
            for job_id in pending:
                self.submit(job_id)
            for voice_id in pending_voice_ids(self._sessions):
                self.enrol(voice_id)

    def submit(self, job_id: str) -> None:
        """Queue the job for the background thread."""
        self._put(_PROCESS, job_id)

    def refresh(self, job_id: str) -> None:
        """Queue the making again of the job's pseudonymised artefacts for the background thread."""
        self._put(_REFRESH, job_id)

    def enrol(self, voice_id: str) -> None:
        """Queue the making of a pending voice's print for the background thread."""
        self._put(_ENROL, voice_id)

    def retranslate(
        self, job_id: str, segment_id: int, *, user_id: int, revision_sha256: str | None, timeout_s: float
    ) -> dict[str, Any]:
        """Translate a segment again and record it on the re-translation thread; its status, or
        ``TimeoutError`` (a request not started by then is cancelled, one running finishes and records)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the in-process dispatcher is closed")
            future = self._interactive.submit(
                run_retranslation,
                job_id,
                segment_id,
                user_id=user_id,
                revision_sha256=revision_sha256,
                settings=self._settings,
                sessions=self._sessions,
                store=self._store,
            )
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeoutError as e:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout_s:.0f} s") from e

    def _put(self, task: str, job_id: str) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("the in-process dispatcher is closed")
        self._queue.put((task, job_id))

    def join(self) -> None:
        """Wait until every submitted job has been handled (retries scheduled for later excepted)."""
        self._queue.join()

    def close(self, *, wait: bool = False) -> None:
        """Stop after the current job, or after every queued one with ``wait``; idempotent.

        Jobs not run stay ``queued`` in the database and are picked up by the next start.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            timers = list(self._timers)
        for timer in timers:
            timer.cancel()
        self._interactive.shutdown(wait=wait, cancel_futures=not wait)
        if not wait:
            self._drain()
        self._queue.put(None)
        self._thread.join()
        if self._owned is not None:
            self._owned.close()

    def _drain(self) -> None:
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return
            self._queue.task_done()

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                task, job_id = item
                if task == _REFRESH:
                    self._refresh(job_id)
                elif task == _ENROL:
                    self._enrol(job_id)
                else:
                    self._handle(job_id)
            finally:
                self._queue.task_done()

    def _refresh(self, job_id: str) -> None:
        from verbatim.jobs.pseudonymized import refresh_job

        try:
            refresh_job(job_id, sessions=self._sessions, store=self._store, settings=self._settings)
        except Exception:  # the next read that finds the copy stale asks again
            log.exception("pseudonymised copies not made again job=%s", job_id)

    def _enrol(self, voice_id: str) -> None:
        try:
            process_voice(voice_id, settings=self._settings, sessions=self._sessions, store=self._store)
        except Exception:  # process_voice marks the voice failed itself; only a database outage gets here
            log.exception("voice enrolment not run voice=%s", voice_id)

    def _handle(self, job_id: str) -> None:
        worker_id = f"{self._prefix}:{uuid.uuid4().hex[:12]}"
        try:
            status = process_job(
                job_id,
                settings=self._settings,
                sessions=self._sessions,
                store=self._store,
                worker_id=worker_id,
                options=self._options,
            )
        except Exception:
            return  # process_job logged it and failed the job
        if status == HOLDER_ALIVE:
            self._retry_later(job_id)

    def _retry_later(self, job_id: str) -> None:
        def fire() -> None:
            with self._lock:
                self._timers.discard(timer)
                if self._closed:
                    return
            self._queue.put((_PROCESS, job_id))

        timer = threading.Timer(self._retry_delay, fire)
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()


class CeleryDispatcher:
    """The distributed worker: sends ``verbatim.process_job`` to the broker (routed to the ``asr`` queue).

    Args:
        app: the Celery app (:func:`verbatim.workers.celery_app.make_celery`).
    """

    def __init__(self, app: Celery) -> None:
        self._app = app
        # Celery's result consumer (Redis pub/sub, rpc:// reply queue) is shared by the process and is not
        # safe for concurrent waits (celery#4480, #6335): the API's threads wait for statuses one at a time.
        self._results = threading.Lock()

    def submit(self, job_id: str) -> None:
        """Publish the task; raises when the broker is unreachable (the caller fails or keeps the job)."""
        self._app.send_task(TASK_NAME, args=[job_id])

    def refresh(self, job_id: str) -> None:
        """Publish ``verbatim.refresh_pseudonymized(job_id)`` (to the ``asr`` queue, which every deployment
        consumes); raises when the broker is unreachable."""
        self._app.send_task(REFRESH_TASK_NAME, args=[job_id])

    def enrol(self, voice_id: str) -> None:
        """Publish ``verbatim.enrol_voice(voice_id)`` (to the ``asr`` queue, whose workers hold the diarizer);
        raises when the broker is unreachable."""
        self._app.send_task(VOICE_TASK_NAME, args=[voice_id])

    def retranslate(
        self, job_id: str, segment_id: int, *, user_id: int, revision_sha256: str | None, timeout_s: float
    ) -> dict[str, Any]:
        """Publish ``verbatim.retranslate_segment(job_id, segment_id, user_id, revision_sha256)`` (to the
        ``asr`` queue; ids and a hash, no text) and wait for its status in the result backend (ids and an
        error's kind, no text); the status is removed from the backend once read.

        Raises:
            TimeoutError: no status within ``timeout_s``. The message expires then (a worker that has not
                started it drops it) and is revoked; a worker already running it records its row.
            Exception: the broker or the result backend is unreachable.
        """
        from celery.exceptions import TimeoutError as CeleryTimeoutError

        deadline = time.monotonic() + timeout_s
        result = self._app.send_task(
            RETRANSLATE_TASK_NAME, args=[job_id, segment_id, user_id, revision_sha256], expires=timeout_s
        )
        if not self._results.acquire(timeout=timeout_s):
            self._give_up(result, job_id)
            raise TimeoutError(f"no answer within {timeout_s:.0f} s")
        try:
            try:
                answer: dict[str, Any] = result.get(
                    timeout=max(deadline - time.monotonic(), 0.1), propagate=True
                )
            except CeleryTimeoutError as e:
                self._give_up(result, job_id)
                raise TimeoutError(f"no answer within {timeout_s:.0f} s") from e
            try:
                result.forget()  # nothing left in the backend once read (it holds ids only)
            except Exception:  # it expires (result_expires) anyway
                log.warning("re-translation status not removed from the result backend job=%s", job_id)
        finally:
            self._results.release()
        return answer

    @staticmethod
    def _give_up(result: Any, job_id: str) -> None:
        try:
            result.revoke()  # not started yet: never run; running: it records, its status expires unread
        except Exception:  # the message expires anyway
            log.warning("re-translation not revoked job=%s", job_id)

    def close(self) -> None:
        """Nothing to release: the app's connection pool is shared."""


def make_dispatcher(service: Service) -> Dispatcher:
    """Celery when the settings name a broker, else the in-process worker on the service's sessions and
    store (one engine and one store for the API and its worker)."""
    settings = service.settings
    if settings.broker_url:
        from verbatim.workers.celery_app import make_celery

        return CeleryDispatcher(make_celery(settings, settings.worker))
    from verbatim.workers.config import process_options

    worker = settings.worker
    return InProcessDispatcher(
        settings,
        sessions=service.sessions,
        store=service.store,
        options=process_options(worker),
        retry_delay=worker.retry_countdown_s,
    )
