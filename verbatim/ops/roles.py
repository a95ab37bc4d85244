"""Who may do what: the one table of permissions by role.

Every route that changes or reveals more than a unit's ordinary reading checks its permission here (through
``verbatim.api.permissions.require``); the README prints this table (``verbatim.ops.roles.markdown_table``
keeps the two in step: a test compares them). Unit isolation is separate and comes first: a role acts on its
own unit's jobs only, an admin on every unit's.
"""

from __future__ import annotations

from typing import Final

from verbatim.ops.db.models import ROLES

__all__ = ["PERMISSIONS", "ROLE_TABLE", "allowed", "markdown_table", "roles_with"]

PERMISSIONS: Final = {
    "upload": "upload recordings (jobs, OpenAI-compatible routes)",
    "read": "read the unit's jobs, transcripts, exports, custody manifests, recordings",
    "correct": "correct words and name speakers",
    "share": "share a job with another unit, revoke a share",
    "delete": "delete a job",
    "hold": "place or release a legal hold",
    "read_map": "read a pseudonymisation correspondence table",
    "voices": "enrol and remove the known voices of the unit's staff",
    "administer": "read the audit log and the metrics of every unit",
}
"""Each permission and what it covers."""

ROLE_TABLE: Final[dict[str, frozenset[str]]] = {
    "upload": frozenset({"investigator", "clerk", "diplomat", "admin"}),
    "read": frozenset({"investigator", "clerk", "diplomat", "admin"}),
    "correct": frozenset({"investigator", "clerk", "diplomat", "admin"}),
    # Consular staff transcribe and translate; what leaves their unit, and what is destroyed, is decided
    # by the investigating and judicial roles.
    "share": frozenset({"investigator", "clerk", "admin"}),
    "delete": frozenset({"investigator", "clerk", "admin"}),
    "hold": frozenset({"clerk", "admin"}),
    "read_map": frozenset({"investigator", "clerk", "admin"}),
    # A voice print is biometric data of a member of staff: enrolled and removed by the same roles that
    # decide what leaves the unit (every role of the unit sees the list and has its voices named).
    "voices": frozenset({"investigator", "clerk", "admin"}),
    "administer": frozenset({"admin"}),
}
"""Permission -> the roles that hold it."""


def allowed(role: str, permission: str) -> bool:
    """Whether ``role`` holds ``permission``.

    Raises:
        KeyError: an unknown permission (a programming error, never a user's input).
    """
    return role in ROLE_TABLE[permission]


def roles_with(permission: str) -> tuple[str, ...]:
    """The roles holding ``permission``, in the order of :data:`~verbatim.ops.db.models.ROLES`."""
    return tuple(r for r in ROLES if r in ROLE_TABLE[permission])


def markdown_table() -> str:
    """The table as the README prints it."""
    lines = [
        "| permission | what it covers | " + " | ".join(ROLES) + " |",
        "|---|---|" + "---|" * len(ROLES),
    ]
    for permission, covers in PERMISSIONS.items():
        marks = " | ".join("yes" if allowed(r, permission) else "—" for r in ROLES)
        lines.append(f"| `{permission}` | {covers} | {marks} |")
    return "\n".join(lines)
