"""Searching transcripts: each job's current text, folded (case and accents aside), in an index table.

Jobs are indexed when someone searches (:func:`ensure_indexed`) and again at each correction
(:func:`verbatim.jobs.documents.index_document`); the searched text is never logged.
"""

from __future__ import annotations

import json
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError, JobNotReadyError
from verbatim.jobs.documents import fold, index_document, load_current
from verbatim.ops.db import Job, TranscriptSearch, User
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore

__all__ = ["ensure_indexed", "fold", "job_filters", "search_filter"]

MAX_QUERY_CHARS: Final = 200
INDEX_BATCH: Final = 25
"""Jobs read per indexing query (see :func:`ensure_indexed`)."""
INDEX_BUDGET_S: Final = 2.0
"""Seconds one search may spend indexing jobs not indexed yet (the rest on the next searches)."""


def ensure_indexed(
    session: Session,
    store: ObjectStore,
    *,
    user: User,
    batch: int = INDEX_BATCH,
    budget_s: float = INDEX_BUDGET_S,
) -> int:
    """Index the succeeded jobs the user may see that are not in the search index yet.

    Jobs are indexed here, when someone searches, rather than by the worker: the worker stays unaware of
    the web pages, and jobs finished before this table existed are found too; corrections re-index their
    job at once. So that a search stays bounded, indexing goes by batches of ``batch`` jobs and stops
    after ``budget_s`` seconds (the rest is indexed by the next searches); in steady state only the jobs
    finished since the last search are read.

    Returns:
        The number of jobs indexed by this call.
    """
    deadline = _time.monotonic() + budget_s
    count = 0
    while True:
        statement = (
            select(Job)
            .outerjoin(TranscriptSearch, TranscriptSearch.job_id == Job.id)
            .where(Job.status == "succeeded", TranscriptSearch.job_id.is_(None))
            .order_by(Job.created_at.desc())
            .limit(batch)
        )
        if not user.is_admin:
            statement = statement.where(Job.unit == user.unit)
        jobs = session.scalars(statement).all()
        for job in jobs:
            try:
                doc = json.loads(load_current(store, job))
            except (ObjectNotFoundError, JobNotReadyError, ValueError):
                doc = {}  # indexed as empty: a missing transcript is reported by its own routes
            index_document(session, job, doc)
            count += 1
        if jobs:
            session.commit()
        if len(jobs) < batch or _time.monotonic() >= deadline:
            return count


def search_filter(query: str, *, unit: str | None = None) -> ColumnElement[bool]:
    """A condition on ``Job`` that keeps jobs whose current text contains ``query`` (case and accents aside).

    Args:
        query: the words to find.
        unit: only look at this unit's transcripts (``None``: every unit's, for an admin).

    Raises:
        InvalidOptionError: an empty or overlong query.
    """
    folded = fold(query)
    if not folded or len(folded) > MAX_QUERY_CHARS:
        raise InvalidOptionError(f"q: give 1 to {MAX_QUERY_CHARS} characters to search for")
    matching = select(TranscriptSearch.job_id).where(TranscriptSearch.text.contains(folded, autoescape=True))
    if unit is not None:
        matching = matching.where(TranscriptSearch.unit == unit)
    return Job.id.in_(matching)


def job_filters(
    session: Session,
    store: ObjectStore,
    *,
    user: User,
    q: str | None,
    language: str | None,
    since: date | None,
    until: date | None,
) -> tuple[list[ColumnElement[bool]], str]:
    """Conditions on ``Job`` for the job list's filters, and a note for the audit entry (names only).

    A text search first indexes the user's jobs not indexed yet (a bounded batch, see
    :func:`ensure_indexed`).
    """
    filters: list[ColumnElement[bool]] = []
    used: list[str] = []
    if language:
        filters.append(Job.language == language.strip().lower())
        used.append("language")
    if since is not None:
        filters.append(Job.created_at >= datetime.combine(since, time.min, UTC))
        used.append("since")
    if until is not None:
        filters.append(Job.created_at < datetime.combine(until + timedelta(days=1), time.min, UTC))
        used.append("until")
    if q is not None and q.strip():
        condition = search_filter(q, unit=None if user.is_admin else user.unit)
        ensure_indexed(session, store, user=user)
        filters.append(condition)
        used.append("search")
    return filters, (f" filters={'+'.join(used)}" if used else "")
