"""Retention: how long each unit keeps recordings and transcripts, legal holds, and the purge.

Periods are set per unit and kind (``recording``: the original and the audio derived from it;
``transcript``: everything of the job, its row included), with unit ``*`` as the default; no period means
kept until deleted. A job on legal hold is never purged. The purge deletes what is due, keeps the audit
trail (entries are never deleted, and name the job by id), and records every purge in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.jobs.layout import chunks_prefix, job_prefix
from verbatim.ops import audit
from verbatim.ops.db import RETENTION_KINDS, Job, RetentionPolicy, User, utcnow

if TYPE_CHECKING:
    from verbatim.ops.storage.base import ObjectStore

__all__ = [
    "DEFAULT_UNIT",
    "PurgeReport",
    "clear_policy",
    "list_policies",
    "purge",
    "set_legal_hold",
    "set_policy",
]

DEFAULT_UNIT = "*"
_FINISHED = ("succeeded", "failed")


def set_policy(session: Session, *, unit: str, kind: str, days: int) -> RetentionPolicy:
    """Keep ``kind`` of ``unit`` (``*``: every unit without its own) ``days`` days after the job finished.

    Raises:
        InvalidOptionError: an unknown kind or a period that is not positive.
    """
    if kind not in RETENTION_KINDS:
        raise InvalidOptionError(f"kind: one of {', '.join(RETENTION_KINDS)}")
    if days < 1:
        raise InvalidOptionError("days: at least 1 (clear the policy to keep data until it is deleted)")
    if not unit or len(unit) > 64:
        raise InvalidOptionError("unit: 1 to 64 characters, or * for the default")
    policy = session.scalar(
        select(RetentionPolicy).where(RetentionPolicy.unit == unit, RetentionPolicy.kind == kind)
    )
    if policy is None:
        policy = RetentionPolicy(unit=unit, kind=kind, days=days)
        session.add(policy)
    else:
        policy.days = days
    audit.record(
        session,
        user=None,
        action="admin",
        outcome="ok",
        request_id=None,
        detail=f"retention {kind} unit={unit} days={days}",
    )
    return policy


def clear_policy(session: Session, *, unit: str, kind: str) -> bool:
    """Remove a period (data of that unit and kind is then kept until deleted); whether there was one."""
    result = session.execute(
        delete(RetentionPolicy).where(RetentionPolicy.unit == unit, RetentionPolicy.kind == kind)
    )
    removed = int(getattr(result, "rowcount", 0) or 0)
    audit.record(
        session,
        user=None,
        action="admin",
        outcome="ok",
        request_id=None,
        detail=f"retention {kind} unit={unit} cleared",
    )
    return bool(removed)


def list_policies(session: Session) -> list[RetentionPolicy]:
    return list(session.scalars(select(RetentionPolicy).order_by(RetentionPolicy.unit, RetentionPolicy.kind)))


def set_legal_hold(
    session: Session, *, job: Job, hold: bool, reference: str | None, by: User | None, request_id: str | None
) -> None:
    """Put a job on legal hold (never purged while it lasts) or release it; audited.

    Args:
        reference: the order or case reference behind the hold (an identifier, not a name).
    """
    job.legal_hold = hold
    job.legal_hold_reference = ((reference or "")[:128] or None) if hold else None
    audit.record(
        session,
        user=by,
        action="admin",
        outcome="ok",
        request_id=request_id,
        job_id=job.id,
        detail="legal hold on" if hold else "legal hold off",
    )


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do): job ids by what was removed."""

    recordings: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    objects_deleted: int = 0


def _periods(session: Session) -> dict[tuple[str, str], int]:
    return {(p.unit, p.kind): p.days for p in session.scalars(select(RetentionPolicy))}


def _period(periods: dict[tuple[str, str], int], unit: str, kind: str) -> int | None:
    return periods.get((unit, kind), periods.get((DEFAULT_UNIT, kind)))


def _recording_keys(store: ObjectStore, job: Job) -> list[str]:
    keys = [job.object_key] if job.object_key else []
    keys += [k for k in store.list(chunks_prefix(job.id)) if k.endswith(".wav")]
    return keys


def purge(
    session: Session, store: ObjectStore, *, now: datetime | None = None, dry_run: bool = False
) -> PurgeReport:
    """Delete what the retention periods say is due; audit each purge.

    A finished job older than its unit's ``transcript`` period loses everything (objects and row); else,
    older than its ``recording`` period, it loses its recording (original and derived audio), its
    transcript staying. Jobs on legal hold, and jobs not finished, are left alone.

    Args:
        session: the database session.
        store: the object store.
        now: the current time (tests).
        dry_run: report without deleting.
    """
    now = now or utcnow()
    periods = _periods(session)
    report = PurgeReport()
    if not periods:
        return report
    jobs = session.scalars(select(Job).where(Job.status.in_(_FINISHED)).order_by(Job.created_at)).all()
    for job in jobs:
        finished = job.finished_at or job.created_at
        age = now - finished
        transcript_days = _period(periods, job.unit, "transcript")
        recording_days = _period(periods, job.unit, "recording")
        due_all = transcript_days is not None and age > timedelta(days=transcript_days)
        due_recording = (
            not due_all
            and job.original_purged_at is None
            and recording_days is not None
            and age > timedelta(days=recording_days)
        )
        if not (due_all or due_recording):
            continue
        if job.legal_hold:
            report.held.append(job.id)
            continue
        if due_all:
            report.jobs.append(job.id)
            if dry_run:
                continue
            report.objects_deleted += store.delete_prefix(job_prefix(job.id))
            job_id, unit = job.id, job.unit
            session.delete(job)
            audit.record(
                session,
                user=None,
                action="purge",
                outcome="ok",
                request_id=None,
                job_id=job_id,
                detail=f"all data of the job: retention of {unit} {transcript_days} days",
            )
        else:
            report.recordings.append(job.id)
            if dry_run:
                continue
            for key in _recording_keys(store, job):
                store.delete(key)
                report.objects_deleted += 1
            job.original_purged_at = now
            audit.record(
                session,
                user=None,
                action="purge",
                outcome="ok",
                request_id=None,
                job_id=job.id,
                detail=f"recording: retention of {job.unit} {recording_days} days",
            )
    return report
