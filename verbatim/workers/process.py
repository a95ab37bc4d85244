"""Run one job: fetch its recording, transcribe it, store the transcript, record the outcome.

:func:`process_job` is the one code path of both deployments: the in-process worker (embedded) and the Celery
task (distributed) call it with a job id. It is idempotent by job id: the job is claimed through
:func:`~verbatim.ops.db.claim_job`, so a redelivered message, a retry or a second worker handed the same job
does nothing once the job is running elsewhere or finished.

Logs carry job ids, sizes and durations, never a file name or transcript text (personal data).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from verbatim.errors import AudioDecodeError, VerbatimError
from verbatim.jobs.layout import ArtifactKind, content_type, key_of, original_key
from verbatim.jobs.request import SEALED_HIDE, TranscriptionRequest
from verbatim.models.identity import public_identities
from verbatim.ops.db import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_STALE_AFTER,
    ArtifactRecord,
    Job,
    claim_job,
    fail_job,
    finish_job,
    set_progress,
    utcnow,
)
from verbatim.ops.storage.base import ObjectNotFoundError, ObjectStore, StorageUnavailableError
from verbatim.pipeline.progress import stage_of
from verbatim.workers.chunked import ChunkSubmitter, chunk_artifacts

if TYPE_CHECKING:
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.voices import VoiceNaming
from verbatim.pipeline.types import Transcript

__all__ = ["HOLDER_ALIVE", "JobLostError", "ProcessOptions", "process_job"]

log = logging.getLogger("verbatim.worker")

HOLDER_ALIVE = "running"
"""What :func:`process_job` returns when another live execution holds the job (the caller may retry later)."""

# Share of the overall progress given to each stage, in the order they run (diarisation is optional; the
# stages a job does not run are passed over quickly). Storing and pseudonymising take the last 5 %.
_STAGE_SPANS: dict[str, tuple[float, float]] = {
    "decode": (0.0, 0.05),
    "transcribe": (0.05, 0.60),
    "languages": (0.60, 0.70),
    "diarise": (0.70, 0.90),
    "translate": (0.90, 0.95),
}
_NO_DIARIZE_SPANS: dict[str, tuple[float, float]] = {
    "decode": (0.0, 0.05),
    "transcribe": (0.05, 0.75),
    "languages": (0.75, 0.88),
    "translate": (0.88, 0.95),
}


@dataclass(frozen=True)
class ProcessOptions:
    """How a worker runs jobs.

    Attributes:
        progress_interval: least seconds between two progress writes from the pipeline's hook.
        heartbeat_interval: seconds between heartbeats written while a stage reports nothing (model
            loading, a long segment), so that a live worker never looks gone.
        stale_after: how long without a heartbeat before another worker may take the job over.
        max_attempts: a job claimed this many times is not taken over again; it is failed instead.
    """

    progress_interval: float = 2.0
    heartbeat_interval: float = 10.0
    stale_after: timedelta = DEFAULT_STALE_AFTER
    max_attempts: int = DEFAULT_MAX_ATTEMPTS


class JobLostError(Exception):
    """The job is no longer this execution's (taken over, deleted or failed by an operator): stop."""


class _Heartbeat:
    """Writes progress and heartbeats for one execution: from the hook (throttled) and from a timer thread.

    Every write uses its own short session, so the timer thread never shares one with the caller.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        job_id: str,
        worker_id: str,
        attempt: int,
        options: ProcessOptions,
    ) -> None:
        self._sessions = sessions
        self._job_id = job_id
        self._worker_id = worker_id
        self._attempt = attempt
        self._options = options
        self._lock = threading.Lock()
        self._progress = 0.0
        self._stage: str | None = None
        self._last_write = time.monotonic()
        self._lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id[:8]}", daemon=True)

    @property
    def lost(self) -> bool:
        return self._lost

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def report(self, progress: float, *, force: bool = False, stage: str | None = None) -> None:
        """Record progress (and the stage now running, when given); write it when ``progress_interval`` has
        passed, when the stage changes, or with ``force``."""
        if self._lost:
            raise JobLostError(self._job_id)
        with self._lock:
            self._progress = max(self._progress, progress)
            moved = stage is not None and stage != self._stage
            if stage is not None:
                self._stage = stage
            due = force or moved or time.monotonic() - self._last_write >= self._options.progress_interval
        if due:
            self._write()
        if self._lost:
            raise JobLostError(self._job_id)

    def _write(self) -> None:
        with self._lock:
            progress, stage = self._progress, self._stage
            self._last_write = time.monotonic()
        try:
            with self._sessions() as session:
                held = set_progress(
                    session,
                    job_id=self._job_id,
                    worker_id=self._worker_id,
                    progress=progress,
                    attempt=self._attempt,
                    stage=stage,
                )
        except Exception:  # a missed heartbeat is not fatal; the next one may pass
            log.warning("heartbeat failed job=%s", self._job_id, exc_info=True)
            return
        if not held:
            self._lost = True

    def _run(self) -> None:
        while not self._stop.wait(self._options.heartbeat_interval):
            with self._lock:
                idle = time.monotonic() - self._last_write
            if idle >= self._options.heartbeat_interval and not self._lost:
                self._write()


def _progress_hook(beat: _Heartbeat, *, diarize: bool) -> Callable[..., None]:
    spans = _STAGE_SPANS if diarize else _NO_DIARIZE_SPANS

    def hook(step: str, *, completed: float, total: float) -> None:
        stage = stage_of(step)
        span = spans.get(stage) if stage is not None else None
        if stage is None or span is None or total <= 0:
            return
        fraction = min(1.0, max(0.0, completed / total))
        beat.report(span[0] + (span[1] - span[0]) * fraction, stage=stage)

    return hook


_T = TypeVar("_T")

# Waits before each new try of a database write whose connection was lost (server restart, failover, a
# connection ended by an administrator): the pool's pre-ping then opens a fresh connection.
_DB_RETRY_DELAYS = (0.5, 2.0, 5.0)


def _on_fresh_connection(op: str, job_id: str, call: Callable[[], _T]) -> _T:
    """Run ``call`` (a whole transaction in a session of its own), again when its connection was lost.

    Safe for the job's state changes: a transaction cut with its connection is rolled back by the server, and
    each change is conditional on the job's state, so one that did commit before the answer was lost makes the
    next try change nothing (it then reports the job as no longer this execution's).
    """
    for delay in _DB_RETRY_DELAYS:
        try:
            return call()
        except DBAPIError as e:
            if not (e.connection_invalidated or isinstance(e, OperationalError)):
                raise
            log.warning(
                "database connection lost during %s job=%s (%s); trying again in %.1f s",
                op,
                job_id,
                type(e.orig).__name__,
                delay,
            )
        time.sleep(delay)
    return call()


def _current_status(sessions: sessionmaker[Session], job_id: str) -> str | None:
    with sessions() as session:
        job = session.get(Job, job_id)
        return None if job is None else job.status


def _give_up_if_exhausted(
    sessions: sessionmaker[Session], job_id: str, options: ProcessOptions
) -> str | None:
    """Fail a running job whose holder is gone and that used all its attempts; return its status."""
    with sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        if job.status != "running":
            return job.status
        beat = job.heartbeat_at
        stale = beat is None or beat < utcnow() - options.stale_after
        if not (stale and job.attempts >= options.max_attempts):
            return job.status
        attempts = job.attempts
        failed = fail_job(
            session,
            job_id=job_id,
            worker_id=None,
            error=f"Processing was interrupted {attempts} times; the job was given up. "
            "Submit the recording again or ask an administrator to check the workers.",
        )
    if failed:
        log.error("job given up job=%s attempts=%d", job_id, attempts)
    return _current_status(sessions, job_id)


def process_job(
    job_id: str,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    store: ObjectStore,
    worker_id: str,
    options: ProcessOptions | None = None,
    submit_chunk: ChunkSubmitter | None = None,
) -> str:
    """Run one job to its end, once.

    A recording longer than ``settings.worker.split_seconds`` is cut at pauses into parts transcribed in
    parallel (:mod:`verbatim.workers.chunked`): by the workers ``submit_chunk`` hands them to, and by this
    execution, which then merges them.

    Args:
        job_id: the job to run.
        settings: the application settings (models, devices).
        sessions: a session factory on the jobs database.
        store: the object store holding the original and receiving the transcript.
        worker_id: names this execution, e.g. ``f"{hostname}:{pid}:{task_id}"``.
        options: intervals and limits; :class:`ProcessOptions` defaults when ``None``.
        submit_chunk: hands a part of a long recording to another worker; ``None`` (embedded) transcribes
            every part here, one after the other.

    Returns:
        The job's status after this call: ``succeeded`` or ``failed`` when this call ran it (or found it
        finished), ``running`` (:data:`HOLDER_ALIVE`) when another live execution holds it, ``queued``
        never, ``missing`` when there is no such job.

    Raises:
        Exception: anything that is not a :class:`~verbatim.errors.VerbatimError`, after the job was failed
            with an internal-error reference (so Celery records the failure too).
    """
    options = options or ProcessOptions()

    def claim() -> Job | None:
        with sessions() as session:
            claimed = claim_job(
                session,
                job_id=job_id,
                worker_id=worker_id,
                max_attempts=options.max_attempts,
                stale_after=options.stale_after,
            )
            job = session.get(Job, job_id)
            if job is None:
                return None
            # A claim that committed but whose connection was lost before the job was read back is tried
            # again, and that try finds the job running: held by this very execution, it is ours.
            mine = job.status == "running" and job.worker_id == worker_id
            return job if claimed or mine else None

    # A lost connection here would end the task with the job still queued: claim on a fresh one.
    job = _on_fresh_connection("claim", job_id, claim)
    if job is None:
        status = _give_up_if_exhausted(sessions, job_id, options)
        log.info("job not claimed job=%s status=%s", job_id, status or "missing")
        return status or "missing"

    attempt = job.attempts
    started = time.monotonic()
    log.info("job started job=%s attempt=%d worker=%s", job_id, attempt, worker_id)
    beat = _Heartbeat(sessions, job_id=job_id, worker_id=worker_id, attempt=attempt, options=options)
    workdir = Path(tempfile.mkdtemp(prefix="verbatim-job-"))  # private (0o700)
    try:
        with beat:
            request = TranscriptionRequest.from_stored(job.options, key=_hide_key(job.options, settings))
            voices = _unit_voices(sessions, settings, job) if request.diarize and request.voices else None
            transcript = _run(
                job,
                request,
                voices=voices,
                settings=settings,
                store=store,
                beat=beat,
                workdir=workdir,
                worker_id=worker_id,
                options=options,
                submit_chunk=submit_chunk,
            )
            beat.report(0.95, force=True)
            if transcript.voices:
                _audit_voices(sessions, job, transcript, worker_id)
            record = _store_transcript(store, job_id, transcript)
            parts = chunk_artifacts(store, job_id)  # a split job's parts, listed in its custody manifest
            if request.pseudonymize:
                beat.report(0.96, force=True, stage="pseudonymise")
            parts += _pseudonymized(store, job, request, transcript, settings, workdir / "recording")

        def finish() -> bool:
            with sessions() as session:
                return finish_job(
                    session,
                    job_id=job_id,
                    worker_id=worker_id,
                    attempt=attempt,
                    artifacts=[record, *parts],
                    language=transcript.language,
                    duration=transcript.duration,
                    models=transcript.models,
                    warnings=[w.to_dict() for w in transcript.warnings],
                )

        # A connection lost at this point would fail a job whose transcript is stored: record it again.
        finished = _on_fresh_connection("finish", job_id, finish)
        if not finished:
            raise JobLostError(job_id)
        log.info(
            "job succeeded job=%s attempt=%d audio_s=%.1f wall_s=%.1f transcript_bytes=%d",
            job_id,
            attempt,
            transcript.duration,
            time.monotonic() - started,
            record.size,
        )
        return "succeeded"
    except JobLostError:
        # Another execution owns the job now (or an operator ended it): leave its state alone.
        status = _current_status(sessions, job_id) or "missing"
        log.warning("job lost job=%s attempt=%d status=%s", job_id, attempt, status)
        return status
    except VerbatimError as e:
        message = str(e).replace(f"{workdir}/", "").replace(str(workdir), "") or type(e).__name__
        if isinstance(e, StorageUnavailableError):
            # The store gave up after its retries (S3 server down longer than its retry deadline): say so
            # in words the user can act on; the transcript was not recorded (finish_job never ran).
            message = (
                f"The object store was unavailable, so the job could not be completed ({message}). "
                "Nothing was saved; submit the recording again once storage is back."
            )
        _fail(sessions, job_id, worker_id, attempt, message)
        log.info(
            "job failed job=%s attempt=%d error=%s wall_s=%.1f",
            job_id,
            attempt,
            type(e).__name__,
            time.monotonic() - started,
        )
        return _current_status(sessions, job_id) or "missing"
    except BaseException as e:
        reference = uuid.uuid4().hex[:12]
        # The traceback may name the temporary file but never the user's file name, which is not used here.
        log.exception("job internal error job=%s attempt=%d reference=%s", job_id, attempt, reference)
        if isinstance(e, Exception):
            _fail(sessions, job_id, worker_id, attempt, f"internal error (reference {reference})")
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fail(sessions: sessionmaker[Session], job_id: str, worker_id: str, attempt: int, message: str) -> None:
    def fail() -> None:
        with sessions() as session:
            fail_job(session, job_id=job_id, worker_id=worker_id, attempt=attempt, error=message)

    try:
        _on_fresh_connection("fail", job_id, fail)
    except Exception:
        log.exception("could not record the failure job=%s", job_id)


def _unit_voices(sessions: sessionmaker[Session], settings: Settings, job: Job) -> VoiceNaming | None:
    """The enrolled voices of the job's own unit (never another unit's), decrypted for this job only."""
    from verbatim.jobs.voices import naming_for_unit

    with sessions() as session:
        return naming_for_unit(session, settings, unit=job.unit)


def _audit_voices(sessions: sessionmaker[Session], job: Job, transcript: Transcript, worker_id: str) -> None:
    """Each enrolled voice that named a speaker of the job is audited (voice id, speaker, similarity)."""
    from verbatim.jobs.voices import audit_matches

    def write() -> None:
        with sessions() as session:
            audit_matches(session, transcript, unit=job.unit, job_id=job.id, request_id=worker_id[:64])

    _on_fresh_connection("audit voices", job.id, write)


def _run(
    job: Job,
    request: TranscriptionRequest,
    *,
    voices: VoiceNaming | None,
    settings: Settings,
    store: ObjectStore,
    beat: _Heartbeat,
    workdir: Path,
    worker_id: str,
    options: ProcessOptions,
    submit_chunk: ChunkSubmitter | None,
) -> Transcript:
    """Fetch, check and transcribe the job's recording (domain errors propagate)."""
    from verbatim.jobs.stages import build_pipeline

    key = job.object_key or original_key(job.id)
    # A fixed neutral name: decoding errors quote the file name, and the user's must not reach logs.
    local = workdir / "recording"
    try:
        stored = store.download_to(key, local)
    except ObjectNotFoundError as e:
        raise AudioDecodeError("The uploaded recording is missing from storage; upload it again.") from e
    if job.audio_sha256 and stored.sha256 != job.audio_sha256:
        raise AudioDecodeError(
            "The stored recording does not match the SHA-256 recorded at upload (chain of custody broken); "
            "ask an administrator to check the object store."
        )
    log.info("job recording fetched job=%s bytes=%d", job.id, stored.size)
    pipeline, pipeline_options = build_pipeline(request, settings)
    if voices is not None and pipeline_options.diarize:
        pipeline_options = replace(pipeline_options, voices=voices)
    beat.report(0.0, force=True)
    hook = _progress_hook(beat, diarize=pipeline_options.diarize)
    split = settings.worker.split_seconds
    if split > 0 and pipeline_options.channels == "mix":
        from verbatim.pipeline.asr import block_bounds
        from verbatim.pipeline.decode import decode
        from verbatim.workers.chunked import run_chunked

        hook("decode", completed=0, total=1)
        audio = decode(local)
        hook("decode", completed=1, total=1)
        bounds = block_bounds(audio.samples, split)
        if len(bounds) > 1 and pipeline_options.voices is not None:
            from verbatim.pipeline.voices import is_narrowband

            narrowband = is_narrowband(audio.samples)  # the parts are merged without their audio
            pipeline_options = replace(
                pipeline_options, voices=replace(pipeline_options.voices, narrowband=narrowband)
            )
        if len(bounds) > 1:
            transcript = run_chunked(
                job.id,
                audio,
                bounds,
                pipeline=pipeline,
                options=pipeline_options,
                store=store,
                worker_id=worker_id,
                report=beat.report,
                stale_after=options.stale_after.total_seconds(),
                lease_interval=options.heartbeat_interval,
                submit=submit_chunk,
            ).with_(audio_sha256=audio.sha256, warnings=audio.warnings)
            # Parts are transcribed (and their languages found) apart; the translation runs on the whole.
            transcript = pipeline.translate(transcript, audio, pipeline_options, hook)
        else:
            transcript = pipeline.run_audio(audio, pipeline_options, hook).with_(warnings=audio.warnings)
    else:
        transcript = pipeline.run(local, pipeline_options, hook)
    return transcript.with_(
        filename=job.filename or "",
        audio_sha256=stored.sha256 or transcript.audio_sha256,
        # users and shared units read these: no server path of a model file
        models=public_identities(transcript.models),
    )


def _pseudonymized(
    store: ObjectStore,
    job: Job,
    request: TranscriptionRequest,
    transcript: Transcript,
    settings: Settings,
    recording: Path,
) -> list[ArtifactRecord]:
    """The pseudonymised copy, its encrypted table and the released audio, when the request asks."""
    if not request.pseudonymize:
        return []
    from verbatim.jobs.pseudonymized import store_pseudonymized

    return store_pseudonymized(
        store,
        job.id,
        transcript,
        policy=request.policy(),
        settings=settings,
        recording=recording,
        hide=request.hide,
    )


def _hide_key(options: dict[str, object] | None, settings: Settings) -> bytes | None:
    """The pseudonymisation key when the job's hide list is sealed with it (no key file made otherwise)."""
    if not options or SEALED_HIDE not in options:
        return None
    from verbatim.anonymize.crypto import resolve_key

    return resolve_key(settings)


def _store_transcript(store: ObjectStore, job_id: str, transcript: Transcript) -> ArtifactRecord:
    from verbatim.pipeline.export import render

    data = render(transcript, "json")
    kind = ArtifactKind.TRANSCRIPT
    key = key_of(job_id, kind)
    # Overwriting is right here: only the execution holding the job writes this key, and a previous attempt's
    # partial result (its worker died before finishing) is replaced. The original is never written to.
    stored = store.put_bytes(key, data, content_type=content_type(kind), overwrite=True)
    digest = stored.sha256 or hashlib.sha256(data).hexdigest()
    return ArtifactRecord(kind=kind, object_key=key, sha256=digest, size=stored.size)
