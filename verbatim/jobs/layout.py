"""Where a job's objects live, and the kinds of its artefacts: the one place a key is spelled.

Every object of a job sits under ``jobs/<id>/`` in the object store::

    jobs/<id>/original                          the uploaded recording (immutable)
    jobs/<id>/transcript.json                   the worker's transcript (evidence, never rewritten)
    jobs/<id>/transcript.revision.json          the current corrected revision
    jobs/<id>/transcript.pseudonymized.json     the pseudonymised copy
    jobs/<id>/pseudonymization-map.enc.json     its correspondence table (encrypted)
    jobs/<id>/audio.pseudonymized.wav           the released recording (replaced words covered by a tone)
    jobs/<id>/chunks/<n>.wav|json|lease         the parts of a long recording split across workers

Each stored object but the original and the leases is recorded as an artefact (its kind, key and SHA-256) in
the job's custody manifest; :class:`ArtifactKind` names those kinds.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from verbatim.ops.db import Artifact, Job

__all__ = [
    "CHUNK_PART_KINDS",
    "PSEUDONYMIZED_KINDS",
    "TRANSCRIPT_KINDS",
    "ArtifactKind",
    "artifact",
    "chunk_key",
    "chunk_kind",
    "chunks_prefix",
    "content_type",
    "job_prefix",
    "key_of",
    "original_key",
]


class ArtifactKind(StrEnum):
    """The kind of an artefact, as stored in the ``artifacts`` table (the values never change)."""

    TRANSCRIPT = "transcript"
    """The worker's transcript JSON."""
    TRANSCRIPT_LEGACY = "transcript_json"
    """The same, as jobs made before the kind was renamed recorded it."""
    REVISION = "transcript_revision"
    """The current revision: the transcript with every correction and speaker name applied."""
    PSEUDONYMIZED = "transcript_pseudonymized"
    """The pseudonymised copy of the current revision."""
    PSEUDONYMIZATION_MAP = "pseudonymization_map"
    """The encrypted correspondence table of the pseudonymised copy."""
    AUDIO_PSEUDONYMIZED = "audio_pseudonymized"
    """The released recording (replaced words covered by a tone)."""


TRANSCRIPT_KINDS: Final = (ArtifactKind.TRANSCRIPT, ArtifactKind.TRANSCRIPT_LEGACY)
"""Kinds under which a job's original transcript JSON is recorded."""
PSEUDONYMIZED_KINDS: Final = (
    ArtifactKind.PSEUDONYMIZED,
    ArtifactKind.PSEUDONYMIZATION_MAP,
    ArtifactKind.AUDIO_PSEUDONYMIZED,
)
"""The pseudonymised artefacts, made (and made again after a correction) together."""

_FILES: Final[dict[ArtifactKind, tuple[str, str]]] = {
    ArtifactKind.TRANSCRIPT: ("transcript.json", "application/json"),
    ArtifactKind.TRANSCRIPT_LEGACY: ("transcript.json", "application/json"),
    ArtifactKind.REVISION: ("transcript.revision.json", "application/json"),
    ArtifactKind.PSEUDONYMIZED: ("transcript.pseudonymized.json", "application/json"),
    ArtifactKind.PSEUDONYMIZATION_MAP: ("pseudonymization-map.enc.json", "application/json"),
    ArtifactKind.AUDIO_PSEUDONYMIZED: ("audio.pseudonymized.wav", "audio/wav"),
}

CHUNK_PART_KINDS: Final = {"wav": "chunk-audio", "json": "chunk-transcript"}
"""Artefact kind of each stored part of a split recording, by key suffix (``-<n>`` appended)."""


def job_prefix(job_id: str) -> str:
    """The prefix of every object of a job (its trailing slash: ``jobs/1/`` never matches ``jobs/10``)."""
    return f"jobs/{job_id}/"


def original_key(job_id: str) -> str:
    """Where a job's original recording is kept (immutable)."""
    return f"{job_prefix(job_id)}original"


def key_of(job_id: str, kind: ArtifactKind) -> str:
    """Where an artefact of a job is stored."""
    return job_prefix(job_id) + _FILES[kind][0]


def content_type(kind: ArtifactKind) -> str:
    """The media type an artefact is stored with."""
    return _FILES[kind][1]


def chunks_prefix(job_id: str) -> str:
    """The prefix of the parts of a split recording."""
    return f"{job_prefix(job_id)}chunks/"


def chunk_key(job_id: str, index: int, suffix: str) -> str:
    """Object key of part ``index`` of a job: ``wav`` (audio), ``json`` (result) or ``lease``."""
    return f"{chunks_prefix(job_id)}{index}.{suffix}"


def chunk_kind(suffix: str, index: int) -> str | None:
    """The artefact kind of a part's file (``chunk-audio-3``), ``None`` for what is not recorded (leases)."""
    kind = CHUNK_PART_KINDS.get(suffix)
    return None if kind is None else f"{kind}-{index}"


def artifact(job: Job, kinds: ArtifactKind | Iterable[ArtifactKind]) -> Artifact | None:
    """The job's artefact of one of ``kinds`` (the first recorded), or ``None``."""
    wanted = {kinds} if isinstance(kinds, ArtifactKind) else set(kinds)
    return next((a for a in job.artifacts if a.kind in wanted), None)
