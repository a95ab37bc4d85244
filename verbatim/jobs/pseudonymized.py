"""The pseudonymised artefacts of a job: its copy, its encrypted table and its released recording.

Each is stored as its own object with its SHA-256 (in the custody manifest with the transcript's). They are
made by the job's worker, and made again from the current revision after a correction
(:func:`refresh_after_corrections`) by a task on the workers' queue, never inside a read request: a read
that finds them older than the latest correction asks for that task and answers "being prepared"
(:class:`CopyBeingPreparedError`, 409). Logs carry sizes and counts per category, never a name or an original
text.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from verbatim.anonymize.crypto import resolve_key
from verbatim.errors import InvalidOptionError, JobNotReadyError
from verbatim.jobs.documents import Rendered, download_name, load_current, lock_job_row
from verbatim.jobs.layout import ArtifactKind, artifact, content_type, key_of
from verbatim.jobs.marks import marks_of
from verbatim.jobs.request import TranscriptionRequest
from verbatim.ops.db import Artifact, ArtifactRecord, Job, utcnow
from verbatim.ops.storage.base import ObjectNotFoundError, ObjectStore

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from verbatim.anonymize.engine import HandMark
    from verbatim.anonymize.policy import Policy
    from verbatim.anonymize.reveal import Revealed
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.types import Transcript

__all__ = [
    "CopyBeingPreparedError",
    "Rendered",
    "check_fresh",
    "is_stale",
    "make_pseudonymized",
    "pseudonymization_table",
    "put_pseudonymized",
    "refresh_after_corrections",
    "refresh_job",
    "released_audio_artifact",
    "render_pseudonymized_view",
    "reveal_copy",
    "store_pseudonymized",
]


class CopyBeingPreparedError(JobNotReadyError):
    """The pseudonymised artefacts predate the latest correction and are being made again (409: try again)."""


log = logging.getLogger("verbatim.jobs")


def _put(store: ObjectStore, job_id: str, kind: ArtifactKind, data: bytes) -> ArtifactRecord:
    key = key_of(job_id, kind)
    stored = store.put_bytes(key, data, content_type=content_type(kind), overwrite=True)
    digest = stored.sha256 or hashlib.sha256(data).hexdigest()
    return ArtifactRecord(kind=kind, object_key=key, sha256=digest, size=stored.size)


def make_pseudonymized(
    job_id: str,
    transcript: Transcript,
    *,
    policy: Policy,
    settings: Settings,
    recording: Path | None,
    hide: Sequence[str] = (),
    marks: Sequence[HandMark] = (),
) -> dict[ArtifactKind, bytes]:
    """Pseudonymise a transcript: the copy, the encrypted table and the released audio, by artefact kind.

    Args:
        job_id: the job (also binds the table's encryption).
        transcript: the transcript (the worker's, or a corrected revision).
        policy: the pseudonymisation policy (the job's request's).
        settings: for the pseudonymisation key.
        recording: the original recording on local disk, for the released copy (None: no audio copy).
        hide: names always hidden (the job's request's hide list).
        marks: spans marked or unmarked by hand (:func:`verbatim.jobs.marks.marks_of` the revision).
    """
    from verbatim.anonymize import pseudonymize_transcript
    from verbatim.anonymize.audio import release_recording
    from verbatim.anonymize.crypto import resolve_key
    from verbatim.anonymize.export import render_pseudonymized

    key = resolve_key(settings)
    copy, mapping = pseudonymize_transcript(transcript, policy, key=key, hide=hide, marks=marks)
    made = {
        ArtifactKind.PSEUDONYMIZED: render_pseudonymized(copy, "json", mapping),
        ArtifactKind.PSEUDONYMIZATION_MAP: mapping.encrypt(key, context=job_id),
    }
    if recording is not None and recording.is_file():
        made[ArtifactKind.AUDIO_PSEUDONYMIZED] = release_recording(recording, mapping.intervals)
    from verbatim.anonymize.policy import POLICIES

    log.info(
        "job pseudonymised job=%s policy=%s replaced=%s",
        job_id,
        policy.name if policy.name in POLICIES else "custom",  # a custom policy's name is the user's text
        dict(sorted(mapping.counts.items())),
    )
    return made


def put_pseudonymized(
    store: ObjectStore, job_id: str, made: dict[ArtifactKind, bytes]
) -> list[ArtifactRecord]:
    """Store what :func:`make_pseudonymized` made, each under its kind's key (replacing an older one)."""
    return [_put(store, job_id, kind, data) for kind, data in made.items()]


def store_pseudonymized(
    store: ObjectStore,
    job_id: str,
    transcript: Transcript,
    *,
    policy: Policy,
    settings: Settings,
    recording: Path | None,
    hide: Sequence[str] = (),
) -> list[ArtifactRecord]:
    """Pseudonymise a finished transcript and store the copy, the encrypted table and the released audio
    (arguments as :func:`make_pseudonymized`)."""
    made = make_pseudonymized(
        job_id, transcript, policy=policy, settings=settings, recording=recording, hide=hide
    )
    return put_pseudonymized(store, job_id, made)


def is_stale(job: Job) -> bool:
    """Whether the stored pseudonymised artefacts predate the transcript's latest correction."""
    copy, revision = artifact(job, ArtifactKind.PSEUDONYMIZED), artifact(job, ArtifactKind.REVISION)
    return copy is not None and revision is not None and copy.created_at < revision.created_at


def refresh_after_corrections(session: Session, store: ObjectStore, job: Job, settings: Settings) -> bool:
    """Make the stored pseudonymised copy, its correspondence table and the released recording again from the
    corrected transcript when a correction came after them; return whether they were made again.

    A correction can reveal a name the recognition missed (a misheard surname corrected by the clerk): the
    copy, the table and the tone over the released recording must then cover it too. The workers run this
    (:func:`refresh_job`) after each correction, and when a read found the copy stale. The slow part
    (pseudonymising, decoding and toning the recording) runs without any lock; the objects and their custody
    rows are then replaced under the job's correction lock, only if nobody did it meanwhile and no correction
    came since, so that the custody hashes always match the objects.
    """
    if not is_stale(job):
        return False
    from verbatim.pipeline.export import transcript_from_json

    revision = artifact(job, ArtifactKind.REVISION)
    seen = revision.sha256 if revision is not None else None
    current = load_current(store, job)
    transcript, marks = transcript_from_json(current), marks_of(current)
    request = TranscriptionRequest.from_stored(job.options, key=resolve_key(settings))
    policy, hide = request.policy(), request.hide
    released = artifact(job, ArtifactKind.AUDIO_PSEUDONYMIZED) and job.original_purged_at is None
    source = job.object_key if released else None
    job_id = job.id
    session.rollback()  # no transaction (nor SQLite lock) held during the slow part
    with tempfile.TemporaryDirectory(prefix="verbatim-release-") as tmp:
        recording: Path | None = None
        if source is not None:
            recording = Path(tmp) / "original"
            with store.open(source) as stream, recording.open("wb") as sink:
                shutil.copyfileobj(stream, sink, 1024 * 1024)
        made = make_pseudonymized(
            job_id, transcript, policy=policy, settings=settings, recording=recording, hide=hide, marks=marks
        )
    lock_job_row(session, job)  # re-reads the artefacts
    revision = artifact(job, ArtifactKind.REVISION)
    if not is_stale(job) or revision is None or revision.sha256 != seen:
        session.commit()  # done by another execution, or corrected again meanwhile (its own task follows)
        return False
    made = {kind: data for kind, data in made.items() if artifact(job, kind) is not None}
    now = utcnow()
    for record in put_pseudonymized(store, job.id, made):
        row = artifact(job, ArtifactKind(record.kind))
        assert row is not None
        row.sha256, row.size, row.created_at = record.sha256, record.size, now
    session.commit()
    return True


def refresh_job(
    job_id: str, *, sessions: sessionmaker[Session], store: ObjectStore, settings: Settings
) -> str:
    """The workers' task: make a job's pseudonymised artefacts again if a correction made them stale.

    Idempotent (a second delivery finds them fresh). Returns ``refreshed``, ``fresh`` or ``missing``.
    """
    with sessions() as session:
        job = session.get(Job, job_id)
        if job is None:
            return "missing"
        refreshed = refresh_after_corrections(session, store, job, settings)
    log.info("pseudonymised copies job=%s %s", job_id, "made again" if refreshed else "already fresh")
    return "refreshed" if refreshed else "fresh"


def render_pseudonymized_view(store: ObjectStore, job: Job, fmt: str, settings: Settings) -> Rendered:
    """The pseudonymised transcript in an export format: the stored copy, or one made now from the current
    revision with the job's policy, for a job that has none or whose copy predates the latest correction (the
    same aliases as the stored copy: they depend on the text only; the text alone is pseudonymised, no
    recording is touched), so that corrections reach the pseudonymised readers at once.

    Raises:
        JobNotReadyError: the job has not succeeded.
    """
    from verbatim.anonymize.export import COPY_SUFFIX, render_pseudonymized
    from verbatim.pipeline.export import FORMATS, MEDIA_TYPES, ExportOptions, render, transcript_from_json

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise InvalidOptionError(f"format: choose one of {', '.join(FORMATS)}")
    stored = artifact(job, ArtifactKind.PSEUDONYMIZED)
    name = download_name(job, fmt, pseudonymized=True)
    try:
        request = TranscriptionRequest.from_stored(job.options, key=resolve_key(settings))
    except InvalidOptionError:
        request = TranscriptionRequest()
    if stored is not None and not is_stale(job):
        if job.status != "succeeded":
            raise JobNotReadyError(f"The job is {job.status}; try again when it succeeded.")
        data = store.get_bytes(stored.object_key)
        if fmt == "json":
            return Rendered(data, MEDIA_TYPES[fmt], name)
        options = request.export_options(title=ExportOptions().title + COPY_SUFFIX)
        return Rendered(render(transcript_from_json(data), fmt, options=options), MEDIA_TYPES[fmt], name)
    from verbatim.anonymize import pseudonymize_transcript

    current = load_current(store, job)
    copy, mapping = pseudonymize_transcript(
        transcript_from_json(current), request.policy(), hide=request.hide, marks=marks_of(current)
    )
    return Rendered(
        render_pseudonymized(copy, fmt, mapping, options=request.export_options()), MEDIA_TYPES[fmt], name
    )


def check_fresh(job: Job) -> None:
    """Refuse stale pseudonymised artefacts.

    Raises:
        CopyBeingPreparedError: they predate the latest correction.
    """
    if is_stale(job):
        raise CopyBeingPreparedError(
            "The pseudonymised copy is being made again after a correction; try again in a moment."
        )


def pseudonymization_table(store: ObjectStore, job: Job, settings: Settings) -> dict[str, object]:
    """The decrypted correspondence table of a job (the caller checks the reader's entitlement).

    Raises:
        ObjectNotFoundError: no pseudonymised copy was made for this job.
        CopyBeingPreparedError: the table predates the latest correction.
    """
    from verbatim.anonymize.crypto import decrypt_document, resolve_key

    return decrypt_document(resolve_key(settings), _stored_table(store, job))


def _stored_table(store: ObjectStore, job: Job) -> bytes:
    """The encrypted correspondence table of a job, current with its latest correction."""
    stored = artifact(job, ArtifactKind.PSEUDONYMIZATION_MAP)
    if stored is None:
        raise ObjectNotFoundError(
            "This job has no correspondence table: upload with pseudonymize=true for a pseudonymised copy."
        )
    check_fresh(job)
    return store.get_bytes(stored.object_key)


def reveal_copy(store: ObjectStore, job: Job, settings: Settings, content: str) -> Revealed:
    """A pseudonymised text or transcript JSON of ``job`` re-identified with the job's table (the caller
    checks the reader's entitlement); the same code as ``verbatim pseudonymize --reveal``.

    Raises:
        ObjectNotFoundError: no pseudonymised copy was made for this job.
        CopyBeingPreparedError: the table predates the latest correction.
        InvalidOptionError: a copy this table does not match, or a transcript copy other than JSON.
    """
    from verbatim.anonymize.crypto import resolve_key
    from verbatim.anonymize.reveal import read_table, reveal_checked

    return reveal_checked(content, read_table(_stored_table(store, job), resolve_key(settings)), "content")


def released_audio_artifact(job: Job) -> Artifact:
    """The artefact of the released recording (replaced words covered by a tone).

    Raises:
        ObjectNotFoundError: no pseudonymised copy was made for this job.
    """
    stored = artifact(job, ArtifactKind.AUDIO_PSEUDONYMIZED)
    if stored is None:
        raise ObjectNotFoundError(
            "This job has no released recording: upload with pseudonymize=true to make a pseudonymised copy."
        )
    return stored
