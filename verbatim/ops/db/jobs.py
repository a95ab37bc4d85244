"""Job state transitions: queued → running → succeeded | failed, each one atomic.

Each transition is a single conditional ``UPDATE ... WHERE status = ...`` and commits before returning, so
that two workers handed the same job (a redelivered Celery message, a retry) cannot both run it, and a job
never completes twice: only the execution that claimed it (same ``worker_id``, same attempt) may finish,
fail or report progress on it. A function returns ``False`` when the job was not in the state it requires;
the caller then drops its work.

``worker_id`` should name one execution, e.g. ``f"{hostname}:{pid}:{celery_task_id}"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, update
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.ops.db.models import Artifact, Job, User, new_job_id, utcnow

__all__ = [
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_STALE_AFTER",
    "ArtifactRecord",
    "claim_job",
    "create_job",
    "fail_job",
    "finish_job",
    "set_progress",
]

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_STALE_AFTER = timedelta(minutes=5)
MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class ArtifactRecord:
    """A derived file to list in the custody manifest (see :class:`~verbatim.ops.db.Artifact`)."""

    kind: str
    object_key: str
    sha256: str
    size: int


def create_job(
    session: Session,
    *,
    owner: User,
    options: Mapping[str, Any],
    filename: str | None,
    audio_sha256: str | None,
    audio_size: int | None,
    object_key: str | None,
    job_id: str | None = None,
) -> Job:
    """Insert a queued job in the owner's unit, and commit.

    Args:
        session: the session to use.
        owner: the user who uploaded the recording; the job belongs to their unit.
        options: the transcription options, JSON-serialisable.
        filename: the original file name (personal data: stored, never logged).
        audio_sha256: SHA-256 of the original recording, computed at intake.
        audio_size: its size in bytes.
        object_key: where the original is kept in the object store.
        job_id: the id to use (when the object key was derived from it); a fresh UUID otherwise.

    Returns:
        The new job, status ``queued``.
    """
    job = Job(
        id=job_id or new_job_id(),
        unit=owner.unit,
        owner_id=owner.id,
        status="queued",
        progress=0.0,
        options=dict(options),
        filename=filename,
        audio_sha256=audio_sha256,
        audio_size=audio_size,
        object_key=object_key,
        attempts=0,
    )
    session.add(job)
    session.commit()
    return job


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


def _held_by(job_id: str, worker_id: str, attempt: int | None) -> ColumnElement[bool]:
    clauses = [Job.id == job_id, Job.status == "running", Job.worker_id == worker_id]
    if attempt is not None:
        clauses.append(Job.attempts == attempt)
    return and_(*clauses)


def claim_job(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    stale_after: timedelta = DEFAULT_STALE_AFTER,
    now: datetime | None = None,
) -> bool:
    """Take a job for ``worker_id``: queued → running, atomically, and commit.

    A running job is taken over only when its holder looks gone (no heartbeat for ``stale_after``) and it
    has run fewer than ``max_attempts`` times; a job held by a live worker is never taken, so two claims
    racing on one queued job give ``True`` to exactly one of them.

    Args:
        session: the session to use (its pending changes are committed too).
        job_id: the job to take.
        worker_id: names this execution; needed again to report progress and to finish.
        max_attempts: a job that has been claimed this many times is not taken over again.
        stale_after: how long without a heartbeat (see :func:`set_progress`) before a holder counts as gone.
        now: the current time (tests); :func:`~verbatim.ops.db.utcnow` by default.

    Returns:
        ``True`` when this worker now holds the job (``attempts`` was incremented), else ``False``.
    """
    now = now or utcnow()
    stale = and_(
        Job.status == "running",
        Job.attempts < max_attempts,
        or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < now - stale_after),
    )
    statement = (
        update(Job)
        .where(Job.id == job_id, or_(Job.status == "queued", stale))
        .values(
            status="running",
            worker_id=worker_id,
            attempts=Job.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            progress=0.0,
            stage=None,
            error=None,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = _rowcount(session.execute(statement)) == 1
    session.commit()
    return claimed


def set_progress(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    progress: float,
    attempt: int | None = None,
    stage: str | None = None,
) -> bool:
    """Record progress (clamped to 0..1), the stage running (when given: ``decode``, ``transcribe``,
    ``languages``, ``diarise``, ``translate``, ``pseudonymise``) and a heartbeat, if ``worker_id`` still
    holds the job; commit.

    Returns:
        ``False`` when the job is no longer this worker's (taken over, deleted, finished): stop working on it.
    """
    statement = (
        update(Job)
        .where(_held_by(job_id, worker_id, attempt))
        .values(
            progress=min(1.0, max(0.0, float(progress))),
            heartbeat_at=utcnow(),
            **({"stage": stage} if stage is not None else {}),
        )
        .execution_options(synchronize_session=False)
    )
    held = _rowcount(session.execute(statement)) == 1
    session.commit()
    return held


def finish_job(
    session: Session,
    *,
    job_id: str,
    worker_id: str,
    attempt: int | None = None,
    artifacts: Iterable[ArtifactRecord] = (),
    language: str | None = None,
    duration: float | None = None,
    models: Mapping[str, Any] | None = None,
    warnings: Sequence[Mapping[str, Any]] = (),
) -> bool:
    """Mark a job succeeded, with its artefacts, in one transaction: running → succeeded.

    Only the execution holding the job succeeds; a second call, or a call from a worker whose job was
    taken over, changes nothing and returns ``False`` (its artefacts are not recorded).

    Args:
        session: the session to use.
        job_id: the job.
        worker_id: the execution that claimed it.
        attempt: when given, the attempt number that execution got (``Job.attempts`` after its claim).
        artifacts: the derived files to list in the custody manifest.
        language: the detected language.
        duration: the recording's duration in seconds.
        models: model identities and hashes, for the custody manifest.
        warnings: what decoding found wrong with the recording (shown with the job's status).

    Returns:
        ``True`` when the job is now succeeded by this call.
    """
    values: dict[str, Any] = {
        "status": "succeeded",
        "progress": 1.0,
        "stage": None,
        "finished_at": utcnow(),
        "error": None,
    }
    if language is not None:
        values["language"] = language
    if duration is not None:
        values["duration"] = duration
    if models is not None:
        values["models"] = dict(models)
    if warnings:
        values["warnings"] = [dict(w) for w in warnings]
    statement = (
        update(Job)
        .where(_held_by(job_id, worker_id, attempt))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(session.execute(statement)) != 1:
        session.rollback()
        return False
    for record in artifacts:
        session.add(
            Artifact(
                job_id=job_id,
                kind=record.kind,
                object_key=record.object_key,
                sha256=record.sha256,
                size=record.size,
            )
        )
    session.commit()
    return True


def fail_job(
    session: Session,
    *,
    job_id: str,
    error: str,
    worker_id: str | None,
    attempt: int | None = None,
) -> bool:
    """Mark a job failed with a message its user can act on (no personal data, no file names); commit.

    Args:
        session: the session to use.
        job_id: the job.
        error: shown to the user, e.g. "The file is not audio or video."; cut to 1000 characters.
        worker_id: the execution holding the running job; ``None`` fails it from queued or running whoever
            holds it (the API when it cannot enqueue, an operator).
        attempt: when given with ``worker_id``, the attempt that execution got.

    Returns:
        ``True`` when the job is now failed by this call; ``False`` when it was finished already or is not
        this worker's.
    """
    if not error.strip():
        raise InvalidOptionError("a failed job needs an error message its user can act on")
    if worker_id is None:
        condition: ColumnElement[bool] = and_(Job.id == job_id, Job.status.in_(("queued", "running")))
    else:
        condition = _held_by(job_id, worker_id, attempt)
    statement = (
        update(Job)
        .where(condition)
        .values(status="failed", error=error.strip()[:MAX_ERROR_CHARS], finished_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    failed = _rowcount(session.execute(statement)) == 1
    session.commit()
    return failed
