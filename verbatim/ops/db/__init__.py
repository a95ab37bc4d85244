"""The database: models, engine and sessions, migrations, and job state transitions.

Embedded mode uses SQLite under ``VERBATIM_HOME``; distributed mode PostgreSQL. The schema comes from the
Alembic migrations shipped here, applied with :func:`upgrade`::

    url = get_settings().resolved_database_url()
    upgrade(url)
    engine = make_engine(url)
    Session = session_factory(engine)
"""

from verbatim.ops.db.engine import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    session_factory,
    upgrade,
)
from verbatim.ops.db.jobs import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_STALE_AFTER,
    ArtifactRecord,
    claim_job,
    create_job,
    fail_job,
    finish_job,
    set_progress,
)
from verbatim.ops.db.models import (
    AUDIT_OUTCOMES,
    JOB_STATUSES,
    RETENTION_KINDS,
    ROLES,
    Artifact,
    AuditEntry,
    AuthFailure,
    Base,
    Job,
    JobShare,
    RetentionPolicy,
    User,
    new_job_id,
    utcnow,
)
from verbatim.ops.db.voices import VOICE_STATUSES, VoiceRecord, new_voice_id
from verbatim.ops.db.web import (
    EDIT_KINDS,
    TRIGRAM_INDEX,
    MediaTicket,
    TranscriptEdit,
    TranscriptSearch,
    TranscriptTrigram,
)

__all__ = [
    "AUDIT_OUTCOMES",
    "DEFAULT_MAX_ATTEMPTS",
    "DEFAULT_STALE_AFTER",
    "EDIT_KINDS",
    "JOB_STATUSES",
    "RETENTION_KINDS",
    "ROLES",
    "TRIGRAM_INDEX",
    "VOICE_STATUSES",
    "Artifact",
    "ArtifactRecord",
    "AuditEntry",
    "AuthFailure",
    "Base",
    "Job",
    "JobShare",
    "MediaTicket",
    "RetentionPolicy",
    "TranscriptEdit",
    "TranscriptSearch",
    "TranscriptTrigram",
    "User",
    "VoiceRecord",
    "claim_job",
    "create_job",
    "current_revision",
    "downgrade",
    "fail_job",
    "finish_job",
    "head_revision",
    "make_engine",
    "new_job_id",
    "new_voice_id",
    "session_factory",
    "set_progress",
    "upgrade",
    "utcnow",
]
