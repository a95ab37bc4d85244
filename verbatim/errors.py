"""Domain exceptions. Each carries a message a user can act on; the edges (CLI, HTTP, worker) turn them into
exit codes, HTTP statuses or job states, once."""

from __future__ import annotations

__all__ = [
    "AudioDecodeError",
    "AudioLimitError",
    "DocumentEngineError",
    "EmptyAudioError",
    "InvalidOptionError",
    "JobNotReadyError",
    "LegalHoldError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "TranslationUnavailableError",
    "VerbatimError",
]


class VerbatimError(Exception):
    """Base class of every error verbatim raises on purpose."""


class AudioDecodeError(VerbatimError):
    """The input could not be read as audio (missing, corrupt, not audio, no audio stream)."""


class AudioLimitError(AudioDecodeError):
    """The recording is readable but out of the accepted bounds (sample rate, channels, duration)."""


class EmptyAudioError(AudioDecodeError):
    """The input decodes to no samples at all."""


class ModelNotFoundError(VerbatimError):
    """A model was asked for that is not installed, or its files are missing."""


class ModelIntegrityError(VerbatimError):
    """A model's files do not match their expected SHA-256 (corrupt or tampered)."""


class InvalidOptionError(VerbatimError):
    """An option has a value verbatim cannot honour (unknown language, bad speaker count, ...)."""


class TranslationUnavailableError(InvalidOptionError):
    """A translation was asked for a language pair that no installed model covers."""


class JobNotReadyError(VerbatimError):
    """The job has no transcript (yet): still queued or running, or failed; or an artefact of it is being
    made again."""


class LegalHoldError(VerbatimError):
    """The job is on legal hold: nothing of it may be deleted until the hold is released."""


class DocumentEngineError(VerbatimError):
    """The engine that makes a document (LibreOffice, for a PDF) is missing or failed."""
