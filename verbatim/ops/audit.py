"""The audit log: who did what to which job, when, and how it ended.

Every read, write, export and delete is recorded, with the outcome (``denied`` and ``not_found`` too), the
request id, and the user's name, role and unit as they were at the time. Entries are append-only: the
database rejects UPDATE and DELETE on them (triggers installed by the migrations). An entry never holds
transcript text, file names or other personal data: ``detail`` is a short technical note
(``format=srt``, ``status=failed``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError
from verbatim.ops.db.models import AUDIT_OUTCOMES, AuditEntry, User

__all__ = ["ACTIONS", "AUDIT_OUTCOMES", "entry_to_dict", "export_jsonl", "query", "record"]

ACTIONS: Final = ("read", "write", "export", "delete", "login", "admin", "purge")
MAX_DETAIL_CHARS: Final = 200
MAX_QUERY_LIMIT: Final = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def record(
    session: Session,
    *,
    user: User | None,
    action: str,
    outcome: str,
    request_id: str | None,
    job_id: str | None = None,
    detail: str = "",
    unit: str | None = None,
) -> AuditEntry:
    """Append an entry to the audit log, and commit (with whatever else the session holds).

    Args:
        session: the session to use.
        user: who acted; ``None`` when nobody could be identified (a missing or wrong token).
        action: read, write, export, delete, login or admin.
        outcome: ok, denied, not_found or error.
        request_id: the HTTP request's id (or the CLI invocation's), to join with the logs.
        job_id: the job concerned, if any.
        detail: a short technical note, no personal data; control characters removed, cut to 200 characters.
        unit: the unit concerned when no user acts (an operator at the command line enrolling a unit's
            voices); a user's own unit otherwise.

    Returns:
        The new entry.

    Raises:
        InvalidOptionError: an unknown action or outcome.
    """
    if action not in ACTIONS:
        raise InvalidOptionError(f"unknown audit action {action!r}: one of {', '.join(ACTIONS)}")
    if outcome not in AUDIT_OUTCOMES:
        raise InvalidOptionError(f"unknown audit outcome {outcome!r}: one of {', '.join(AUDIT_OUTCOMES)}")
    entry = AuditEntry(
        request_id=request_id,
        user_id=user.id if user is not None else None,
        user_name=user.name if user is not None else None,
        role=user.role if user is not None else None,
        unit=user.unit if user is not None else unit,
        action=action,
        job_id=job_id,
        outcome=outcome,
        detail=_CONTROL.sub(" ", detail).strip()[:MAX_DETAIL_CHARS],
    )
    session.add(entry)
    session.commit()
    return entry


def query(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    unit: str | None = None,
    user_id: int | None = None,
    job_id: str | None = None,
    action: str | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit entries in the order they were written, filtered.

    Args:
        session: the session to use.
        since: entries at or after this time (timezone-aware).
        until: entries strictly before this time.
        unit: entries of users of this unit.
        user_id: entries of this user.
        job_id: entries about this job.
        action: entries of this action.
        after_id: entries after this id (pagination: pass the last id of the previous page).
        limit: the most entries to return, 1 to 10000.

    Returns:
        The entries, oldest first.
    """
    if not 1 <= limit <= MAX_QUERY_LIMIT:
        raise InvalidOptionError(f"limit must be between 1 and {MAX_QUERY_LIMIT}")
    statement = select(AuditEntry).order_by(AuditEntry.id).limit(limit)
    if since is not None:
        statement = statement.where(AuditEntry.at >= since)
    if until is not None:
        statement = statement.where(AuditEntry.at < until)
    if unit is not None:
        statement = statement.where(AuditEntry.unit == unit)
    if user_id is not None:
        statement = statement.where(AuditEntry.user_id == user_id)
    if job_id is not None:
        statement = statement.where(AuditEntry.job_id == job_id)
    if action is not None:
        statement = statement.where(AuditEntry.action == action)
    if after_id is not None:
        statement = statement.where(AuditEntry.id > after_id)
    return list(session.scalars(statement))


def entry_to_dict(entry: AuditEntry) -> dict[str, Any]:
    """An entry as JSON-ready values (the form of ``GET /v1/audit`` and of the export)."""
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "request_id": entry.request_id,
        "user_id": entry.user_id,
        "user_name": entry.user_name,
        "role": entry.role,
        "unit": entry.unit,
        "action": entry.action,
        "job_id": entry.job_id,
        "outcome": entry.outcome,
        "detail": entry.detail,
    }


def _pages(
    session: Session, *, since: datetime | None, until: datetime | None, unit: str | None, batch: int
) -> Iterator[list[AuditEntry]]:
    after_id: int | None = None
    while True:
        page = query(session, since=since, until=until, unit=unit, after_id=after_id, limit=batch)
        if not page:
            return
        yield page
        after_id = page[-1].id
        session.expunge_all()  # keep memory flat over a long log


def export_jsonl(
    session: Session,
    stream: TextIO,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    unit: str | None = None,
    batch: int = 1000,
) -> int:
    """Write the audit log as JSON Lines (one entry per line, oldest first), page by page.

    Args:
        session: the session to use (its identity map is cleared between pages).
        stream: a text stream, e.g. ``sys.stdout``.
        since: entries at or after this time.
        until: entries strictly before this time.
        unit: entries of this unit only.
        batch: entries read per query.

    Returns:
        The number of entries written.
    """
    count = 0
    for page in _pages(session, since=since, until=until, unit=unit, batch=batch):
        for entry in page:
            stream.write(json.dumps(entry_to_dict(entry), ensure_ascii=False, sort_keys=True) + "\n")
        count += len(page)
    return count
