"""What the routes do, apart from HTTP: intake of an upload, access to a unit's jobs, transcripts, custody.

Every function that touches a job writes its audit entry (who, role, unit, action, job, outcome, request id)
and raises domain errors; :mod:`verbatim.api.errors` turns those into statuses. Nothing here logs or audits a
file name or transcript text.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final

from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from verbatim.anonymize.crypto import resolve_key
from verbatim.api.errors import JobNotFoundError, ServiceUnavailableError, WaitTimeoutError
from verbatim.api.schemas import ArtifactPublic, CustodyManifest, OriginalPublic
from verbatim.digest import sha256_stream
from verbatim.errors import AudioDecodeError, InvalidOptionError, LegalHoldError
from verbatim.jobs.documents import Rendered, download_name, load_current, load_original
from verbatim.jobs.layout import job_prefix, original_key
from verbatim.jobs.request import TranscriptionRequest, parse_request
from verbatim.jobs.service import Dispatcher
from verbatim.models.identity import public_identities
from verbatim.ops import audit
from verbatim.ops.db import Job, JobShare, User, create_job, fail_job, new_job_id, utcnow
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore, ObjectTooLargeError
from verbatim.pipeline.decode import decode_limits
from verbatim.pipeline.decode_guard import DecodeLimits, probe_isolated
from verbatim.pipeline.export import FORMATS, MEDIA_TYPES, render, transcript_from_json
from verbatim.pipeline.types import Transcript

__all__ = [
    "Intake",
    "Rendered",
    "custody_manifest",
    "delete_job",
    "job_counts",
    "list_jobs",
    "load_transcript",
    "probe_audio",
    "render_transcript",
    "submit_job",
    "transcript_of",
    "visible_job",
    "wait_for_job",
]

log = logging.getLogger("verbatim.api")

FINAL_STATUSES: Final = ("succeeded", "failed")


def probe_audio(stream: BinaryIO, *, limits: DecodeLimits | None = None, split: bool = False) -> int:
    """Number of audio channels of a recording read from ``stream``, checked in a limited child process
    (a file that crashes FFmpeg fails this upload, never the server).

    Returns:
        The channel count of the first audio stream.

    Raises:
        AudioLimitError: out of bounds: sample rate, channels (``split``), duration (answered 422).
        AudioDecodeError: not a container FFmpeg reads, one without an audio stream, or nothing decodes.
    """
    return probe_isolated(stream, limits=limits or DecodeLimits(), split=split).channels


MAX_FILENAME_CHARS = 255


def safe_filename(name: str | None) -> str | None:
    """The uploader's file name as it may be kept for display: its last path segment, without control or
    format characters, at most 255 characters (the extension kept); ``None`` when nothing is left.

    The name is never used as a storage key (objects are keyed by job id); it is shown to the job's readers
    and written in the transcript, so it must not carry a path, a line break or a terminal escape.
    """
    if not name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = name.strip().strip(".")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and 0 < len(ext) <= 10 else ""
        keep = MAX_FILENAME_CHARS - (len(ext) + 1 if ext else 0)
        name = (stem if ext else name)[:keep] + (f".{ext}" if ext else "")
    return name or None


@dataclass(frozen=True)
class Intake:
    """An upload as a route received it."""

    stream: BinaryIO
    filename: str | None
    size: int | None
    content_type: str | None
    options: dict[str, object]


def submit_job(
    session: Session,
    *,
    user: User,
    intake: Intake,
    store: ObjectStore,
    dispatcher: Dispatcher,
    settings: Settings,
    request_id: str,
) -> Job:
    """Validate, store, record and dispatch one upload; audit the outcome.

    Order: options first (a typo answers before any byte is stored; the defaults the settings choose are
    resolved and stored with the job), then size and content (nothing stored when refused), then the
    original under a fresh job id (hashed on the way, never overwritten), the job row, and the dispatch.

    Raises:
        InvalidOptionError: a bad option (its name in the message).
        ObjectTooLargeError: more than ``max_bytes``.
        AudioLimitError: out of ``limits`` (sample rate, channels, duration).
        AudioDecodeError: not audio or video, or the decoder crashed on it.
        ServiceUnavailableError: the job could not be handed to the workers (it is marked failed).
    """
    job_id = new_job_id()
    max_bytes = settings.max_upload_bytes
    try:
        request = parse_request(intake.options, settings)
        if intake.size is not None and intake.size > max_bytes:
            raise ObjectTooLargeError(f"the upload is larger than the {max_bytes} bytes allowed")
        probe_audio(intake.stream, limits=decode_limits(settings), split=request.channels == "split")
        key = original_key(job_id)
        stored = store.put_stream(
            key,
            intake.stream,
            max_bytes=max_bytes,
            content_type=intake.content_type or "application/octet-stream",
            overwrite=False,
        )
        try:
            job = create_job(
                session,
                owner=user,
                options=request.to_stored(key=resolve_key(settings) if request.hide else None),
                filename=safe_filename(intake.filename),
                audio_sha256=stored.sha256,
                audio_size=stored.size,
                object_key=key,
                job_id=job_id,
            )
        except Exception:
            session.rollback()
            store.delete(key)
            raise
    except (InvalidOptionError, ObjectTooLargeError, AudioDecodeError) as e:
        audit.record(
            session, user=user, action="write", outcome="error", request_id=request_id, job_id=None,
            detail=f"upload refused: {type(e).__name__}",
        )  # fmt: skip
        raise
    try:
        dispatcher.submit(job.id)
    except Exception as e:
        log.exception("job %s could not be dispatched", job.id)
        fail_job(
            session, job_id=job.id, worker_id=None, error="The job could not be queued; upload it again."
        )
        audit.record(
            session, user=user, action="write", outcome="error", request_id=request_id, job_id=job.id,
            detail="dispatch failed",
        )  # fmt: skip
        raise ServiceUnavailableError("The job could not be queued; try again later.") from e
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"upload size={stored.size}",
    )  # fmt: skip
    session.refresh(job)
    return job


def visible_job(
    session: Session, *, user: User, job_id: str, action: str, request_id: str, detail: str = ""
) -> Job:
    """The job if the user's unit owns it (an admin sees all); audit a refusal.

    A missing job and another unit's job raise the same error (answered 404), so existence does not leak;
    the audit log tells them apart (``not_found`` / ``denied``). The caller audits the success, after acting.

    Raises:
        JobNotFoundError: no such job visible to this user.
    """
    job = session.get(Job, job_id)
    if job is None or (not user.is_admin and job.unit != user.unit):
        audit.record(
            session, user=user, action=action, request_id=request_id, job_id=job_id,
            outcome="not_found" if job is None else "denied", detail=detail,
        )  # fmt: skip
        raise JobNotFoundError(f"No job {job_id} (or not one of your unit's).")
    return job


def list_jobs(
    session: Session,
    *,
    user: User,
    status: str | None,
    limit: int,
    offset: int,
    request_id: str,
    filters: Sequence[ColumnElement[bool]] = (),
    note: str = "",
    scope: str = "unit",
) -> list[Job]:
    """A page of jobs, newest first; audited as one read.

    ``scope``: ``unit``, the user's unit's jobs (every unit's for an admin); ``shared``, the jobs other units
    shared with the user's unit. ``filters`` are further conditions on ``Job`` (language, dates, a text
    search); ``note`` says which in the audit entry (never the searched text itself).
    """
    statement = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    if scope == "shared":
        statement = statement.join(JobShare, JobShare.job_id == Job.id).where(JobShare.unit == user.unit)
    elif not user.is_admin:
        statement = statement.where(Job.unit == user.unit)
    if status is not None:
        statement = statement.where(Job.status == status)
    for condition in filters:
        statement = statement.where(condition)
    jobs = list(session.scalars(statement))
    shared = " scope=shared" if scope == "shared" else ""
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id,
        detail=f"list{shared} count={len(jobs)}{note}",
    )  # fmt: skip
    return jobs


def load_transcript(store: ObjectStore, job: Job) -> bytes:
    """The stored transcript JSON of a succeeded job, byte for byte (see
    :func:`verbatim.jobs.documents.load_original`)."""
    return load_original(store, job)


def render_transcript(store: ObjectStore, job: Job, fmt: str, *, subtitles: str = "original") -> Rendered:
    """The transcript in one of the export formats; JSON is the stored document itself. ``subtitles``:
    ``translation`` makes SRT/VTT show the segments' translation."""
    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidOptionError(f"format: choose one of {', '.join(FORMATS)}")
    # The current revision: the original with its corrections and speaker names (the original when none).
    data = load_current(store, job)
    subtitled = "translation" if subtitles == "translation" else "original"
    options = _request_of(job).export_options(subtitles=subtitled)
    if fmt == "json":
        content = data
    else:
        transcript = transcript_from_json(data)
        transcript = transcript.with_(models=public_identities(transcript.models))  # older jobs kept paths
        content = render(transcript, fmt, options=options)
    return Rendered(content, MEDIA_TYPES[fmt], download_name(job, fmt))


def _request_of(job: Job) -> TranscriptionRequest:
    """The job's stored request (the defaults for a job whose stored options no longer validate)."""
    try:
        return TranscriptionRequest.from_stored(job.options)
    except InvalidOptionError:
        return TranscriptionRequest()


def delete_job(session: Session, *, store: ObjectStore, job: Job) -> int:
    """Delete a job's objects and its row (its audit trail stays); return the number of objects removed."""
    if job.legal_hold:
        raise LegalHoldError("The job is on legal hold: it cannot be deleted until the hold is released.")
    removed = store.delete_prefix(job_prefix(job.id))
    session.delete(job)
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        # secure_delete zeroes the freed pages of the database file; the deleted rows' text also sits in the
        # write-ahead log until a checkpoint: copy it back and empty the log now.
        session.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        session.commit()
    return removed


def _hash_object(store: ObjectStore, key: str) -> str | None:
    try:
        with store.open(key) as stream:
            return sha256_stream(stream)
    except ObjectNotFoundError:
        return None


def custody_manifest(store: ObjectStore, job: Job, *, verify: bool) -> CustodyManifest:
    """The chain-of-custody manifest of a job: original and artefacts with their SHA-256, models, times.

    Args:
        store: where the objects are.
        job: the job.
        verify: hash the stored objects again (reads them whole) and say whether they still match.
    """

    def check(key: str | None, expected: str | None) -> bool | None:
        if not verify or key is None:
            return None
        return expected is not None and _hash_object(store, key) == expected

    purged = job.original_purged_at
    original = OriginalPublic(
        object_key=job.object_key,
        sha256=job.audio_sha256,
        size=job.audio_size,
        verified=None if purged else check(job.object_key, job.audio_sha256),
        purged_at=purged,
    )
    artifacts = [
        ArtifactPublic.model_validate(a).model_copy(update={"verified": check(a.object_key, a.sha256)})
        for a in job.artifacts
    ]
    return CustodyManifest(
        job_id=job.id,
        unit=job.unit,
        status=job.status,  # type: ignore[arg-type]
        original=original,
        artifacts=artifacts,
        models=public_identities(job.models),  # no server path of a model file
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        generated_at=utcnow(),
    )


async def wait_for_job(
    sessions: sessionmaker[Session], job_id: str, *, timeout_s: float, interval_s: float
) -> Job:
    """Poll the database until the job is finished, sleeping without blocking the event loop.

    Raises:
        WaitTimeoutError: still not finished after ``timeout_s``.
        JobNotFoundError: the job was deleted meanwhile.
    """

    def read() -> Job | None:
        with sessions() as session:
            return session.get(Job, job_id)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        job = await asyncio.to_thread(read)
        if job is None:
            raise JobNotFoundError(f"Job {job_id} was deleted while it was awaited.")
        if job.status in FINAL_STATUSES:
            return job
        if loop.time() >= deadline:
            raise WaitTimeoutError(
                f"Job {job_id} is still {job.status} after {timeout_s:.0f} s; follow it at /v1/jobs/{job_id}."
            )
        await asyncio.sleep(interval_s)


def transcript_of(store: ObjectStore, job: Job) -> Transcript:
    """The parsed transcript of a succeeded job (for the OpenAI-compatible answers)."""
    return transcript_from_json(load_transcript(store, job))


def job_counts(session: Session) -> dict[str, int]:
    """Jobs by status, every unit together."""
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).all()
    return {str(status): int(count) for status, count in rows}
