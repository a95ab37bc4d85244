"""Searching transcripts: each job's current text, folded (case and accents aside), in an index table.

Jobs are indexed when someone searches (:func:`ensure_indexed`) and again at each correction
(:func:`verbatim.jobs.documents.index_document`); the searched text is never logged.
"""

from __future__ import annotations

import json
import time as _time
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from verbatim.errors import InvalidOptionError, JobNotReadyError
from verbatim.jobs.documents import fold, index_document, load_current
from verbatim.ops.db import Job, TranscriptSearch, TranscriptTrigram, User
from verbatim.ops.db.sealed import keyring_of, query_hashes, trigrams
from verbatim.ops.keys import Keyring
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore

__all__ = ["ensure_indexed", "fold", "job_filters", "search_filter"]

MAX_QUERY_CHARS: Final = 200
CLEAR_ROWS: Final = text("transcript_search.text NOT LIKE 'vb1:%'")
"""Rows of the search table in clear (encryption at rest off when they were written)."""
CONFIRM_BATCH: Final = 50
"""Candidate texts decrypted per fetch when a search confirms its candidates (sealed text)."""
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


def search_filter(
    query: str, *, unit: str | None = None, session: Session | None = None
) -> ColumnElement[bool]:
    """A condition on ``Job`` that keeps jobs whose current text contains ``query`` (case and accents aside).

    Without encryption at rest, a substring match on the search table's text. With it (the session's
    engine has a keyring), the text is sealed: the jobs holding the keyed hash of every trigram of the
    query are looked up in ``transcript_trigrams``, then confirmed by opening their text (a query under 3
    characters opens every text of the unit); the condition names the jobs found.

    Args:
        query: the words to find.
        unit: only look at this unit's transcripts (``None``: every unit's, for an admin).
        session: the session the condition is for (needed to search sealed text).

    Raises:
        InvalidOptionError: an empty or overlong query.
    """
    folded = fold(query)
    if not folded or len(folded) > MAX_QUERY_CHARS:
        raise InvalidOptionError(f"q: give 1 to {MAX_QUERY_CHARS} characters to search for")
    ring = keyring_of(session) if session is not None else None
    if session is None or ring is None:
        matching = select(TranscriptSearch.job_id).where(
            TranscriptSearch.text.contains(folded, autoescape=True),
            # the predicate of the partial pg_trgm index (migration 0009), literally, so that it serves
            CLEAR_ROWS,
        )
        if unit is not None:
            matching = matching.where(TranscriptSearch.unit == unit)
        return Job.id.in_(matching)
    return Job.id.in_(_sealed_matches(session, ring, folded, unit))


def _sealed_matches(session: Session, ring: Keyring, folded: str, unit: str | None) -> list[str]:
    grams = trigrams(folded)
    candidates = select(TranscriptSearch.job_id, TranscriptSearch.text)
    if grams:
        holding = (
            select(TranscriptTrigram.job_id)
            .where(TranscriptTrigram.h.in_(query_hashes(ring, grams)))
            .group_by(TranscriptTrigram.job_id)
            .having(func.count() == len(grams))
        )
        if unit is not None:
            holding = holding.where(TranscriptTrigram.unit == unit)
        candidates = candidates.where(TranscriptSearch.job_id.in_(holding))
    if unit is not None:
        candidates = candidates.where(TranscriptSearch.unit == unit)
    # the hashes may collide, and a text holding every trigram need not hold them in order: confirm, by
    # batches (a common query matches every job: their texts are never all in memory at once)
    rows = session.execute(candidates.execution_options(yield_per=CONFIRM_BATCH))
    return [job_id for job_id, clear in rows if folded in clear]


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
        search_filter(q)  # an invalid query is refused before any indexing
        ensure_indexed(session, store, user=user)
        filters.append(search_filter(q, unit=None if user.is_admin else user.unit, session=session))
        used.append("search")
    return filters, (f" filters={'+'.join(used)}" if used else "")
