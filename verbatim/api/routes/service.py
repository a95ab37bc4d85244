"""Operations and administration: ``/healthz``, ``/metrics``, ``/v1/audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from verbatim import __version__
from verbatim.api.deps import CurrentUser, RequestIdDep, SessionDep, SessionFactoryDep, StateDep
from verbatim.api.errors import ServiceUnavailableError
from verbatim.api.metrics import render_metrics
from verbatim.api.permissions import require
from verbatim.api.schemas import MAX_SQL_INT, AuditEntryPublic, AuditPage, HealthPublic
from verbatim.ops import audit

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthPublic)
def healthz(state: StateDep) -> HealthPublic:
    """Liveness and readiness: the database answers. The one route without a token."""
    try:
        with state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        raise ServiceUnavailableError("The database does not answer.") from e
    return HealthPublic(status="ok", database="ok", version=__version__)


@router.get("/metrics", response_class=Response, responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}})
def metrics(
    user: CurrentUser, sessions: SessionFactoryDep, session: SessionDep, request_id: RequestIdDep
) -> Response:
    """Prometheus metrics: jobs by state, queue depth, audio seconds processed, processing seconds.

    Every unit's activity together: admins only (give the scraper an admin account of its own); not
    audited when served, as a scrape touches no job and comes every few seconds (a refusal is).
    """
    require(session, user, "administer", request_id=request_id, action="admin", detail="metrics")
    return Response(render_metrics(sessions), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/audit", response_model=AuditPage)
def get_audit(
    user: CurrentUser,
    session: SessionDep,
    request_id: RequestIdDep,
    after_id: Annotated[int | None, Query(ge=0, le=MAX_SQL_INT)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    job_id: Annotated[str | None, Query(max_length=36)] = None,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[str | None, Query(max_length=16)] = None,
) -> AuditPage:
    """The audit log, oldest first, a page at a time (admins only; others get 403)."""
    require(session, user, "administer", request_id=request_id, action="admin", detail="audit")
    entries = audit.query(session, after_id=after_id, limit=limit, job_id=job_id, unit=unit, action=action)
    # Recorded after the query, so that reading the log does not add to the page being read.
    audit.record(session, user=user, action="admin", outcome="ok", request_id=request_id, detail="audit read")
    return AuditPage(
        entries=[AuditEntryPublic.model_validate(audit.entry_to_dict(e)) for e in entries],
        next_after_id=entries[-1].id if len(entries) == limit else None,
    )
