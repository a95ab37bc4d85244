"""Enforcing the role table (:mod:`verbatim.ops.roles`) in the routes: an audited 403."""

from __future__ import annotations

from sqlalchemy.orm import Session

from verbatim.api.errors import PermissionDeniedError
from verbatim.ops import audit
from verbatim.ops.db import User
from verbatim.ops.roles import PERMISSIONS, allowed, roles_with

__all__ = ["require"]


def require(
    session: Session,
    user: User,
    permission: str,
    *,
    request_id: str,
    action: str,
    job_id: str | None = None,
    detail: str = "",
) -> None:
    """Refuse (403, audited as ``denied``) a user whose role lacks ``permission``.

    Checked before the job is looked up: the answer depends on the user's own role only, so it tells nothing
    about the job.

    Raises:
        PermissionDeniedError: the role lacks the permission.
    """
    if allowed(user.role, permission):
        return
    audit.record(
        session, user=user, action=action, outcome="denied", request_id=request_id, job_id=job_id,
        detail=f"{detail}; role may not {permission}".lstrip("; "),
    )  # fmt: skip
    raise PermissionDeniedError(
        f"Your role ({user.role}) may not {PERMISSIONS[permission]}; "
        f"that is for: {', '.join(roles_with(permission))}."
    )
