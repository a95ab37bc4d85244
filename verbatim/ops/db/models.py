"""The service's tables: users, jobs, their artefacts, and the append-only audit log.

The schema is created and changed only by the Alembic migrations in ``migrations/`` (see
:func:`verbatim.ops.db.upgrade`); these classes describe it for queries, and a test checks that both agree.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from verbatim.ops.db.sealed import SealedJSON, SealedText

__all__ = [
    "AUDIT_OUTCOMES",
    "JOB_STATUSES",
    "ROLES",
    "Artifact",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "Job",
    "UTCDateTime",
    "User",
    "new_job_id",
    "utcnow",
]

ROLES: Final = ("investigator", "clerk", "diplomat", "admin")
JOB_STATUSES: Final = ("queued", "running", "succeeded", "failed")
AUDIT_OUTCOMES: Final = ("ok", "denied", "not_found", "error")

# Deterministic constraint names, so that later migrations (and SQLite batch mode) can address them.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (what every timestamp column holds)."""
    return datetime.now(UTC)


def new_job_id() -> str:
    """A fresh job id (a random UUID in its 36-character text form)."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware.

    SQLite has no timezone type: values are stored as naive UTC text there and given back their UTC tzinfo
    on the way out, so that code never compares naive and aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column; use verbatim.ops.db.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite only autoincrements an INTEGER PRIMARY KEY.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(Base):
    """An account: a person with a role in a unit, who authenticates with a bearer token.

    Only the token's SHA-256 is stored (``token_hash``); accounts are disabled, never deleted, so that the
    audit log keeps pointing at them.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str] = mapped_column(String(64), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, role={self.role!r}, unit={self.unit!r}, disabled={self.disabled!r})"


class Job(Base):
    """One recording to transcribe, and where its processing stands.

    ``filename`` is the uploader's original file name: personal data, never logged (it is left out of
    ``repr``). ``error`` is shown to users: a message they can act on, without personal data.
    ``worker_id`` and ``attempts`` identify the execution that holds a running job; ``heartbeat_at`` is
    refreshed by :func:`~verbatim.ops.db.set_progress` so that a job whose worker died can be claimed again.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        CheckConstraint("progress >= 0 AND progress <= 1", name="progress"),
        Index("ix_jobs_unit_created_at", "unit", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_job_id)
    unit: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    stage: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    # sealed when encryption at rest is on (verbatim.ops.db.sealed; text since migration 0009)
    options: Mapped[dict[str, Any]] = mapped_column(SealedJSON("jobs.options"), default=dict)
    filename: Mapped[str | None] = mapped_column(SealedText("jobs.filename", 512))
    audio_sha256: Mapped[str | None] = mapped_column(String(64))
    audio_size: Mapped[int | None] = mapped_column(BigInteger)
    duration: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    object_key: Mapped[str | None] = mapped_column(String(512))
    models: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    # damage decoding found in the recording (truncated...): [{"code", "message", ...}] (migration 0007)
    warnings: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    worker_id: Mapped[str | None] = mapped_column(String(255))
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    legal_hold_reference: Mapped[str | None] = mapped_column(SealedText("jobs.legal_hold_reference", 128))
    original_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    owner: Mapped[User] = relationship(lazy="raise")
    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="job",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Artifact.id",
        lazy="selectin",
    )

    def __repr__(self) -> str:
        return (
            f"Job(id={self.id!r}, unit={self.unit!r}, status={self.status!r}, progress={self.progress!r}, "
            f"attempts={self.attempts!r})"
        )


class Artifact(Base):
    """A file derived from a job (transcript JSON, TXT, SRT...), with its hash for the custody manifest."""

    __tablename__ = "artifacts"
    __table_args__ = (UniqueConstraint("job_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    job: Mapped[Job] = relationship(back_populates="artifacts")

    def __repr__(self) -> str:
        return f"Artifact(job_id={self.job_id!r}, kind={self.kind!r}, sha256={self.sha256!r})"


class JobShare(Base):
    """Read access of another unit to a job's pseudonymised copy (never to its original)."""

    __tablename__ = "job_shares"
    __table_args__ = (UniqueConstraint("job_id", "unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


RETENTION_KINDS = ("recording", "transcript")
"""What a retention period applies to: the recording (original, derived audio), or all of the job's data."""


class RetentionPolicy(Base):
    """How many days a unit keeps a kind of data after its job finished; unit ``*`` is the default."""

    __tablename__ = "retention_policies"
    __table_args__ = (
        UniqueConstraint("unit", "kind"),
        CheckConstraint(_in("kind", RETENTION_KINDS), name="kind"),
        CheckConstraint("days > 0", name="days"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"RetentionPolicy(unit={self.unit!r}, kind={self.kind!r}, days={self.days!r})"


class AuthFailure(Base):
    """Failed authentications of one key (a client address, a token prefix's digest) in its current burst,
    shared by every API process on the database (:mod:`verbatim.api.security`, migration 0010).

    Times are seconds since the epoch (the processes share no monotonic clock). Rows of finished bursts are
    pruned now and then; the audit log keeps what they said.
    """

    __tablename__ = "auth_failures"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    started: Mapped[float] = mapped_column(Float)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    audited: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)
    refused: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"AuthFailure(failures={self.failures!r}, blocked_until={self.blocked_until!r})"


class AuditEntry(Base):
    """One access, as it was: append-only (database triggers reject UPDATE and DELETE).

    The user's name, role and unit are copied, so that an entry says who acted even after the account
    changed. ``job_id`` is not a foreign key: deleting a job must not touch its audit trail.
    ``detail`` is short and never holds transcript text or personal data.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (CheckConstraint(_in("outcome", AUDIT_OUTCOMES), name="outcome"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    user_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str | None] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    job_id: Mapped[str | None] = mapped_column(String(36), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(256), default="", server_default="")

    def __repr__(self) -> str:
        return (
            f"AuditEntry(id={self.id!r}, at={self.at!r}, user_id={self.user_id!r}, action={self.action!r}, "
            f"job_id={self.job_id!r}, outcome={self.outcome!r})"
        )
