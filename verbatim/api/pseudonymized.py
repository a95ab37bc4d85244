"""Pseudonymised views of a job and the access rules around them.

- The owning unit (and admins) read everything: originals, pseudonymised copies.
- A unit the job was shared with (``POST /v1/jobs/{id}/shares``, by the owning unit) reads only the
  pseudonymised transcript and recording; an original answers 403.
- The correspondence table is readable only by the owning unit's entitled roles (:data:`ENTITLED_ROLES`).

Every decision is audited (who, unit, action, job, outcome), never with a name or transcript text.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from verbatim.api.errors import JobNotFoundError, JobNotReadyError, PermissionDeniedError
from verbatim.api.revisions import REVISION_KIND, load_current, lock_job_row
from verbatim.api.services import Rendered
from verbatim.errors import InvalidOptionError
from verbatim.ops import audit
from verbatim.ops.accounts import check_unit, unit_exists
from verbatim.ops.db import Artifact, Job, JobShare, User, utcnow
from verbatim.ops.roles import allowed, roles_with
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore
from verbatim.pipeline.export import FORMATS, MEDIA_TYPES
from verbatim.workers.pseudonymized import AUDIO_KIND, MAP_KIND, PSEUDONYMIZED_KIND

__all__ = [
    "ENTITLED_ROLES",
    "Access",
    "accessible_job",
    "check_entitled",
    "list_shares",
    "pseudonymization_table",
    "refresh_after_corrections",
    "refuse_original",
    "released_audio_artifact",
    "render_pseudonymized_view",
    "revoke_share",
    "share_job",
]

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


def revoke_share(session: Session, *, user: User, job: Job, unit: str, request_id: str) -> None:
    """End a unit's access to a job's pseudonymised copies (at once: every later request is refused); audited.

    Raises:
        JobNotFoundError: the job is not shared with that unit (404).
    """
    share = session.scalar(select(JobShare).where(JobShare.job_id == job.id, JobShare.unit == unit))
    detail = f"unshare unit={unit}"
    if share is None:
        audit.record(
            session, user=user, action="write", outcome="not_found", request_id=request_id, job_id=job.id,
            detail=detail,
        )  # fmt: skip
        raise JobNotFoundError(f"Job {job.id} is not shared with unit {unit}.")
    session.delete(share)
    session.commit()
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )


def _artifact_key(job: Job, kind: str) -> str | None:
    return next((a.object_key for a in job.artifacts if a.kind == kind), None)


def _artifact(job: Job, kind: str) -> Artifact | None:
    return next((a for a in job.artifacts if a.kind == kind), None)


def _stale(job: Job) -> bool:
    """Whether the stored pseudonymised artefacts predate the transcript's latest correction."""
    copy, revision = _artifact(job, PSEUDONYMIZED_KIND), _artifact(job, REVISION_KIND)
    return copy is not None and revision is not None and copy.created_at < revision.created_at


def refresh_after_corrections(session: Session, store: ObjectStore, job: Job, settings: Settings) -> bool:
    """Make the stored pseudonymised copy, its correspondence table and the released recording again from the
    corrected transcript when a correction came after them; return whether they were made again.

    A correction can reveal a name the recognition missed (a misheard surname corrected by the clerk): the
    copy, the table and the tone over the released recording must then cover it too. This runs when one of
    them is read (a correction stays quick; most corrections are never followed by a release). The slow part
    (pseudonymising, decoding and toning the recording) runs without any lock; the objects and their custody
    rows are then replaced under the job's correction lock, only if no other reader did it meanwhile and no
    correction came since, so that the custody hashes always match the objects.
    """
    if not _stale(job):
        return False
    from verbatim.pipeline.export import transcript_from_json
    from verbatim.workers.pseudonymized import make_pseudonymized, put_pseudonymized

    revision = _artifact(job, REVISION_KIND)
    seen = revision.sha256 if revision is not None else None
    transcript = transcript_from_json(load_current(store, job))
    options = job.options or {}
    policy = str(options.get("pseudonymization_policy") or settings.pseudonymization.default_policy)
    source = job.object_key if _artifact(job, AUDIO_KIND) and job.original_purged_at is None else None
    job_id = job.id
    session.rollback()  # no transaction (nor SQLite lock) held during the slow part
    with tempfile.TemporaryDirectory(prefix="verbatim-release-") as tmp:
        recording: Path | None = None
        if source is not None:
            recording = Path(tmp) / "original"
            with store.open(source) as stream, recording.open("wb") as sink:
                shutil.copyfileobj(stream, sink, 1024 * 1024)
        made = make_pseudonymized(
            job_id, transcript, policy_name=policy, settings=settings, recording=recording
        )
    lock_job_row(session, job)  # re-reads the artefacts
    revision = _artifact(job, REVISION_KIND)
    if not _stale(job) or revision is None or revision.sha256 != seen:
        session.commit()  # done by another reader, or corrected again meanwhile (the next read makes it)
        return False
    made = {kind: data for kind, data in made.items() if _artifact(job, kind) is not None}
    now = utcnow()
    for record in put_pseudonymized(store, job.id, made):
        artifact = _artifact(job, record.kind)
        assert artifact is not None
        artifact.sha256, artifact.size, artifact.created_at = record.sha256, record.size, now
    session.commit()
    return True


def render_pseudonymized_view(store: ObjectStore, job: Job, fmt: str, settings: Settings) -> Rendered:
    """The pseudonymised transcript in an export format: the stored copy, or one made now from the original
    with the job's policy (then the same aliases as a stored copy would have: they depend on the text only).
    """
    from verbatim.anonymize.export import COPY_SUFFIX, render_pseudonymized
    from verbatim.pipeline.export import ExportOptions, render, transcript_from_json

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidOptionError(f"format: choose one of {', '.join(FORMATS)}")
    key = _artifact_key(job, PSEUDONYMIZED_KIND)
    name = f"{job.id}.pseudonymized.{fmt}"
    # A stored copy older than the latest correction (see refresh_after_corrections) is not served: the copy
    # is made now from the current revision, so corrections reach the pseudonymised readers too.
    if key is not None and not _stale(job):
        if job.status != "succeeded":
            raise JobNotReadyError(f"The job is {job.status}; try again when it succeeded.")
        data = store.get_bytes(key)
        if fmt == "json":
            return Rendered(data, MEDIA_TYPES[fmt], name)
        options = ExportOptions(title=ExportOptions().title + COPY_SUFFIX)
        return Rendered(render(transcript_from_json(data), fmt, options=options), MEDIA_TYPES[fmt], name)
    from verbatim.anonymize import get_policy, pseudonymize_transcript

    original = transcript_from_json(load_current(store, job))
    policy = get_policy(
        str((job.options or {}).get("pseudonymization_policy") or settings.pseudonymization.default_policy)
    )
    copy, mapping = pseudonymize_transcript(original, policy)
    return Rendered(render_pseudonymized(copy, fmt, mapping), MEDIA_TYPES[fmt], name)


def pseudonymization_table(store: ObjectStore, job: Job, settings: Settings) -> dict[str, object]:
    """The decrypted correspondence table of a job (caller checks the reader's entitlement).

    Raises:
        ObjectNotFoundError: no pseudonymised copy was made for this job.
    """
    from verbatim.anonymize.crypto import decrypt_document, resolve_key

    key = _artifact_key(job, MAP_KIND)
    if key is None:
        raise ObjectNotFoundError(
            "This job has no correspondence table: upload with pseudonymize=true for a pseudonymised copy."
        )
    return decrypt_document(resolve_key(settings), store.get_bytes(key))


def released_audio_artifact(job: Job) -> Artifact:
    """The artefact of the released recording (replaced words covered by a tone).

    Raises:
        ObjectNotFoundError: no pseudonymised copy was made for this job.
    """
    artifact = next((a for a in job.artifacts if a.kind == AUDIO_KIND), None)
    if artifact is None:
        raise ObjectNotFoundError(
            "This job has no released recording: upload with pseudonymize=true to make a pseudonymised copy."
        )
    return artifact


def check_entitled(session: Session, *, user: User, access: Access, request_id: str) -> None:
    """Only entitled roles of the owning unit read a correspondence table (audited refusal, 403)."""
    if access.shared or not allowed(user.role, "read_map"):
        audit.record(
            session, user=user, action="read", outcome="denied", request_id=request_id, job_id=access.job.id,
            detail="pseudonymization map: not entitled",
        )  # fmt: skip
        raise PermissionDeniedError("Your role or unit is not entitled to this job's correspondence table.")
