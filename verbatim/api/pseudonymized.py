"""The access rules around a job's pseudonymised views (the views: :mod:`verbatim.jobs.pseudonymized`).

- The owning unit (and admins) read everything: originals, pseudonymised copies.
- A unit the job was shared with (``POST /v1/jobs/{id}/shares``, by the owning unit) reads only the
  pseudonymised transcript and recording; an original answers 403.
- The correspondence table is readable only by the owning unit's entitled roles (:data:`ENTITLED_ROLES`).

Every decision is audited (who, unit, action, job, outcome), never with a name or transcript text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verbatim.api.errors import JobNotFoundError, PermissionDeniedError
from verbatim.errors import InvalidOptionError
from verbatim.jobs.pseudonymized import is_stale
from verbatim.jobs.service import Dispatcher
from verbatim.ops import audit
from verbatim.ops.accounts import check_unit, unit_exists
from verbatim.ops.db import Job, JobShare, User
from verbatim.ops.roles import allowed, roles_with

__all__ = [
    "ENTITLED_ROLES",
    "Access",
    "accessible_job",
    "ask_refresh",
    "check_entitled",
    "entitled_job",
    "errors_audited",
    "is_shared",
    "list_shares",
    "refuse_original",
    "revoke_share",
    "share_job",
]

log = logging.getLogger("verbatim.api")

ENTITLED_ROLES: Final = roles_with("read_map")
"""Roles that may read the correspondence table of their own unit's jobs."""


@dataclass(frozen=True)
class Access:
    """A job a user may reach, and whether only through a share (pseudonymised copies only)."""

    job: Job
    shared: bool


def accessible_job(
    session: Session, *, user: User, job_id: str, action: str, request_id: str, detail: str = ""
) -> Access:
    """The job if the user's unit owns it, an admin asks, or it was shared with the user's unit.

    Raises:
        JobNotFoundError: none of these (answered 404, audited as not_found or denied).
    """
    job = session.get(Job, job_id)
    if job is not None and (user.is_admin or job.unit == user.unit):
        return Access(job, shared=False)
    if job is not None:
        share = session.scalar(select(JobShare).where(JobShare.job_id == job.id, JobShare.unit == user.unit))
        if share is not None:
            return Access(job, shared=True)
    audit.record(
        session, user=user, action=action, request_id=request_id, job_id=job_id,
        outcome="not_found" if job is None else "denied", detail=detail,
    )  # fmt: skip
    raise JobNotFoundError(f"No job {job_id} (or not one of your unit's).")


def refuse_original(
    session: Session, *, user: User, access: Access, action: str, request_id: str, detail: str
) -> None:
    """A reader through a share asking for an original: audited and refused (403).

    Raises:
        PermissionDeniedError: always when ``access.shared``.
    """
    if not access.shared:
        return
    audit.record(
        session, user=user, action=action, outcome="denied", request_id=request_id, job_id=access.job.id,
        detail=f"{detail}; shared unit reads pseudonymised copies only",
    )  # fmt: skip
    raise PermissionDeniedError(
        "This job was shared with your unit as a pseudonymised copy only: add view=pseudonymized."
    )


def share_job(session: Session, *, user: User, job: Job, unit: str, request_id: str) -> JobShare:
    """Share a job (read-only, pseudonymised copies) with another unit; idempotent; audited.

    Raises:
        InvalidOptionError: sharing with the owning unit itself.
    """
    unit = check_unit(unit)  # a unit's name or 422: no path, markup or control character reaches the log
    if unit == job.unit:
        raise InvalidOptionError("unit: the job already belongs to this unit")
    if not unit_exists(session, unit):
        audit.record(
            session, user=user, action="write", outcome="error", request_id=request_id, job_id=job.id,
            detail="share to a unit that has no user",
        )  # fmt: skip
        raise InvalidOptionError(f"unit: no unit named {unit!r} has a user (see `verbatim users list`)")
    existing = session.scalar(select(JobShare).where(JobShare.job_id == job.id, JobShare.unit == unit))
    if existing is None:
        existing = JobShare(job_id=job.id, unit=unit, created_by=user.id)
        session.add(existing)
        try:
            session.commit()
        except IntegrityError:  # a concurrent identical share
            session.rollback()
            existing = session.scalars(
                select(JobShare).where(JobShare.job_id == job.id, JobShare.unit == unit)
            ).one()
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"share unit={unit}",
    )  # fmt: skip
    session.refresh(existing)
    return existing


def list_shares(session: Session, job: Job) -> list[JobShare]:
    """The units a job is shared with, oldest share first."""
    return list(session.scalars(select(JobShare).where(JobShare.job_id == job.id).order_by(JobShare.id)))


def is_shared(session: Session, job: Job, unit: str) -> bool:
    """Whether the job is shared with exactly ``unit``."""
    return (
        session.scalar(select(JobShare.id).where(JobShare.job_id == job.id, JobShare.unit == unit))
        is not None
    )


def revoke_share(
    session: Session, *, user: User, job: Job, unit: str, request_id: str, label: str | None = None
) -> None:
    """End a unit's access to a job's pseudonymised copies (at once: every later request is refused); audited.

    Args:
        label: how the audit log names the unit (a malformed name of an old share, encoded); ``unit``.

    Raises:
        JobNotFoundError: the job is not shared with that unit (404).
    """
    share = session.scalar(select(JobShare).where(JobShare.job_id == job.id, JobShare.unit == unit))
    detail = f"unshare unit={label or unit}"
    if share is None:
        audit.record(
            session, user=user, action="write", outcome="not_found", request_id=request_id, job_id=job.id,
            detail=detail,
        )  # fmt: skip
        raise JobNotFoundError(f"Job {job.id} is not shared with unit {label or unit}.")
    session.delete(share)
    session.commit()
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )


def ask_refresh(dispatcher: Dispatcher, job: Job) -> bool:
    """Have the job's pseudonymised artefacts made again by the workers when a correction made them stale;
    return whether they are stale (the read then serves a copy made now, or answers "being prepared").

    A queue that cannot be reached is logged, not raised: the next read asks again.
    """
    if not is_stale(job):
        return False
    try:
        dispatcher.refresh(job.id)
    except Exception:
        log.warning("could not queue the refresh of pseudonymised copies job=%s", job.id, exc_info=True)
    return True


def check_entitled(
    session: Session, *, user: User, access: Access, request_id: str, detail: str = "pseudonymization map"
) -> None:
    """Only entitled roles of the owning unit read a correspondence table or re-identify a copy with it
    (audited refusal, 403): never a unit the job was shared with, whatever its role."""
    if access.shared or not allowed(user.role, "read_map"):
        audit.record(
            session, user=user, action="read", outcome="denied", request_id=request_id, job_id=access.job.id,
            detail=f"{detail}: not entitled",
        )  # fmt: skip
        raise PermissionDeniedError("Your role or unit is not entitled to this job's correspondence table.")


def entitled_job(session: Session, *, user: User, job_id: str, request_id: str, detail: str) -> Job:
    """The job whose correspondence table the user may use: 404 as for any job out of reach, then 403 for a
    role without ``read_map`` or a unit the job is only shared with (both audited)."""
    access = accessible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail
    )
    check_entitled(session, user=user, access=access, request_id=request_id, detail=detail)
    return access.job


@contextmanager
def errors_audited(
    session: Session, *, user: User, request_id: str, job_id: str, detail: str
) -> Iterator[None]:
    """Audit a read that fails (outcome ``error``, the error's type only) and let its error through."""
    try:
        yield
    except Exception as e:
        audit.record(
            session, user=user, action="read", outcome="error", request_id=request_id, job_id=job_id,
            detail=f"{detail}; {type(e).__name__}",
        )  # fmt: skip
        raise
