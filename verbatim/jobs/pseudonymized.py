"""The pseudonymised artefacts of a job: its copy, its encrypted table and its released recording.

Each is stored as its own object with its SHA-256 (in the custody manifest with the transcript's). Logs carry
sizes and counts per category, never a name or an original text.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from verbatim.jobs.layout import ArtifactKind, content_type, key_of
from verbatim.ops.db import ArtifactRecord
from verbatim.ops.storage.base import ObjectStore

if TYPE_CHECKING:
    from verbatim.anonymize.policy import Policy
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.types import Transcript

__all__ = ["make_pseudonymized", "put_pseudonymized", "store_pseudonymized"]

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
) -> dict[ArtifactKind, bytes]:
    """Pseudonymise a transcript: the copy, the encrypted table and the released audio, by artefact kind.

    Args:
        job_id: the job (also binds the table's encryption).
        transcript: the transcript (the worker's, or a corrected revision).
        policy: the pseudonymisation policy (the job's request's).
        settings: for the pseudonymisation key.
        recording: the original recording on local disk, for the released copy (None: no audio copy).
    """
    from verbatim.anonymize import pseudonymize_transcript
    from verbatim.anonymize.audio import release_recording
    from verbatim.anonymize.crypto import resolve_key
    from verbatim.anonymize.export import render_pseudonymized

    key = resolve_key(settings)
    copy, mapping = pseudonymize_transcript(transcript, policy, key=key)
    made = {
        ArtifactKind.PSEUDONYMIZED: render_pseudonymized(copy, "json", mapping),
        ArtifactKind.PSEUDONYMIZATION_MAP: mapping.encrypt(key, context=job_id),
    }
    if recording is not None and recording.is_file():
        made[ArtifactKind.AUDIO_PSEUDONYMIZED] = release_recording(recording, mapping.intervals)
    log.info(
        "job pseudonymised job=%s policy=%s replaced=%s",
        job_id,
        policy.name,
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
) -> list[ArtifactRecord]:
    """Pseudonymise a finished transcript and store the copy, the encrypted table and the released audio
    (arguments as :func:`make_pseudonymized`)."""
    made = make_pseudonymized(job_id, transcript, policy=policy, settings=settings, recording=recording)
    return put_pseudonymized(store, job_id, made)
