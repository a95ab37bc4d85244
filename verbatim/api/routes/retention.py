"""``PUT /v1/jobs/{id}/legal-hold``: keep a job from any purge or deletion until the hold is released."""

from __future__ import annotations

from fastapi import APIRouter

from verbatim.api import services
from verbatim.api.deps import CurrentUser, RequestIdDep, SessionDep
from verbatim.api.errors import PermissionDeniedError
from verbatim.api.schemas import JobPublic, LegalHoldUpdate
from verbatim.jobs.retention import set_legal_hold
from verbatim.ops import audit
from verbatim.ops.roles import allowed, roles_with

__all__ = ["HOLD_ROLES", "router"]

router = APIRouter(prefix="/v1/jobs", tags=["retention"])

HOLD_ROLES = roles_with("hold")
"""Who places and releases holds: court clerks (for their unit's jobs) and admins."""


@router.put("/{job_id}/legal-hold", response_model=JobPublic)
def put_legal_hold(
    job_id: str, body: LegalHoldUpdate, user: CurrentUser, session: SessionDep, request_id: RequestIdDep
) -> JobPublic:
    """Place or release a legal hold: a held job is never purged by retention, nor deleted."""
    job = services.visible_job(session, user=user, job_id=job_id, action="admin", request_id=request_id)
    if not allowed(user.role, "hold"):
        audit.record(
            session, user=user, action="admin", outcome="denied", request_id=request_id, job_id=job_id,
            detail="legal hold",
        )  # fmt: skip
        raise PermissionDeniedError("Only clerks and admins place or release legal holds.")
    set_legal_hold(session, job=job, hold=body.hold, reference=body.reference, by=user, request_id=request_id)
    session.refresh(job)
    return JobPublic.model_validate(job)
