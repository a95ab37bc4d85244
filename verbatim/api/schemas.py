"""Request and response bodies: one family per entity (``...Create`` in, ``...Public`` out).

Public schemas list what a client may see; a job's file name is shown to the users of its unit (it is theirs)
but never logged or audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from verbatim.jobs.request import SEALED_HIDE, RequestForm, form_model

__all__ = [
    "MAX_REVEAL_CHARS",
    "MAX_SQL_INT",
    "ArtifactPublic",
    "AuditEntryPublic",
    "AuditPage",
    "CustodyManifest",
    "HealthPublic",
    "JobCreate",
    "JobCreated",
    "JobList",
    "JobPublic",
    "JobShareCreate",
    "JobSharePublic",
    "OpenAISegment",
    "OpenAITranscription",
    "OpenAIVerboseTranscription",
    "OpenAIWord",
    "OriginalPublic",
    "RevealRequest",
    "RevealedCopy",
    "VoiceAccepted",
    "VoiceList",
    "VoicePublic",
]

JobStatus = Literal["queued", "running", "succeeded", "failed"]

MAX_SQL_INT = 2**63 - 1
"""The largest integer a query parameter may carry into SQL (a signed 64-bit column, SQLite's and
PostgreSQL's ``BIGINT``): larger ones are refused with a 422 instead of failing in the database driver."""


if TYPE_CHECKING:
    JobCreate = RequestForm
else:
    JobCreate = form_model("JobCreate")
"""The form fields of ``POST /v1/jobs`` besides ``file``: one per field of the typed request
(:class:`verbatim.jobs.request.TranscriptionRequest`), validated by its ``parse_request``."""


class JobShareCreate(BaseModel):
    """``POST /v1/jobs/{id}/shares``: give another unit read access to the job's pseudonymised copy."""

    unit: str = Field(min_length=1, max_length=64)


MAX_REVEAL_CHARS = 5_000_000
"""The largest pseudonymised text or transcript JSON the reveal route accepts (characters)."""


class RevealRequest(BaseModel):
    """``POST /v1/jobs/{id}/pseudonymized/reveal``: a pseudonymised copy of this job to re-identify."""

    content: str = Field(
        min_length=1,
        max_length=MAX_REVEAL_CHARS,
        description="A pseudonymised plain text of the job, or its pseudonymised transcript JSON (a string).",
    )


class RevealedCopy(BaseModel):
    """The re-identified copy, with how many replacements were undone and how many were not found."""

    content: str
    restored: int
    missing: int


class JobSharePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: str
    unit: str
    created_at: datetime


class JobShareList(BaseModel):
    shares: list[JobSharePublic]


class VoicePublic(BaseModel):
    """An enrolled voice as its unit sees it: who and when, never its print."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str = Field(description='The person\'s name ("Dupont").')
    role: str | None = Field(default=None, description='Shown before the name ("Enquêteur").')
    display: str = Field(description='What transcripts show for a matching speaker ("Enquêteur Dupont").')
    speech_seconds: float | None = Field(
        default=None, description="Seconds of speech the voice print rests on (null until it is made)."
    )
    created_at: datetime
    status: Literal["pending", "ready", "failed"] = Field(
        description="pending: a worker is making the voice print; ready: it names your unit's speakers; "
        "failed: see error (a pending or failed voice never names anyone)."
    )
    error: str | None = Field(
        default=None,
        description="Why the enrolment failed: an error code (voice_enrolment: too little speech; "
        "audio_unreadable; audio_limit; model_unavailable; service_unavailable; internal).",
    )
    message: str | None = Field(default=None, description="The error in French, for the user.")


class VoiceAccepted(VoicePublic):
    """An enrolment accepted: the voice is pending; follow it at ``url`` until it is ready or failed."""

    url: str = Field(description="Where to follow the enrolment (GET): /v1/voices/{id}.")


class VoiceList(BaseModel):
    voices: list[VoicePublic]


class JobCreated(BaseModel):
    id: str
    status: JobStatus


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: JobStatus
    progress: float
    stage: str | None = Field(
        default=None,
        description="The stage at work while the job runs: decode, transcribe, languages, diarise, "
        "translate or pseudonymise; for a failed job, the stage it failed in; null when queued or succeeded.",
    )
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    language: str | None
    duration: float | None
    audio_sha256: str | None
    audio_size: int | None
    filename: str | None
    unit: str
    options: dict[str, Any]
    legal_hold: bool = False
    original_purged_at: datetime | None = None
    warnings: list[dict[str, Any]] | None = Field(
        default=None,
        description="What was wrong with the recording though it decoded (`truncated`: the audio ends "
        "before what its header declares; `corrupt`: damaged data skipped).",
    )
    access: Literal["unit", "shared"] = Field(
        default="unit",
        description="`shared`: another unit shared this job with yours (its pseudonymised copies only).",
    )

    @field_validator("options")
    @classmethod
    def _without_hide_list(cls, value: dict[str, Any]) -> dict[str, Any]:
        # The names to hide are the very names a shared copy must not show: never in the job's view.
        return {k: v for k, v in value.items() if k not in ("hide", SEALED_HIDE)}


class LegalHoldUpdate(BaseModel):
    """Put a job on legal hold or release it."""

    model_config = ConfigDict(extra="forbid")

    hold: bool
    reference: str | None = Field(
        default=None, max_length=128, description="The order or case reference behind the hold (no names)."
    )


class JobList(BaseModel):
    jobs: list[JobPublic]
    limit: int
    offset: int


class OriginalPublic(BaseModel):
    object_key: str | None
    sha256: str | None
    size: int | None
    verified: bool | None = Field(
        default=None, description="With ?verify=true: whether the stored bytes hash to sha256 now."
    )
    purged_at: datetime | None = Field(
        default=None, description="When the retention purge deleted the recording (its hash stays on record)."
    )


class ArtifactPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str
    object_key: str
    sha256: str
    size: int
    created_at: datetime
    verified: bool | None = None


class CustodyManifest(BaseModel):
    """What a court needs to trust a transcript: where it came from, and by which models."""

    schema_: str = Field(default="verbatim.custody/1", alias="schema")
    job_id: str
    unit: str
    status: JobStatus
    original: OriginalPublic
    artifacts: list[ArtifactPublic]
    models: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    generated_at: datetime

    model_config = ConfigDict(populate_by_name=True)


class AuditEntryPublic(BaseModel):
    id: int
    at: str
    request_id: str | None
    user_id: int | None
    user_name: str | None
    role: str | None
    unit: str | None
    action: str
    job_id: str | None
    outcome: str
    detail: str


class AuditPage(BaseModel):
    entries: list[AuditEntryPublic]
    next_after_id: int | None = Field(description="Pass as after_id for the next page; null at the end.")


class HealthPublic(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    version: str = Field(description="The version of verbatim that answers (`verbatim --version`).")


class OpenAITranscription(BaseModel):
    text: str


class OpenAIWord(BaseModel):
    word: str
    start: float
    end: float


class OpenAISegment(BaseModel):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int] = Field(default_factory=list)
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    speaker: str | None = None


class OpenAIVerboseTranscription(BaseModel):
    task: Literal["transcribe", "translate"]
    language: str
    duration: float
    text: str
    segments: list[OpenAISegment]
    words: list[OpenAIWord]
