"""A corrected segment translated again, on demand, by the route that made its translation.

The clerk corrects the original; the translation made before is kept and marked outdated. Asked for, one
segment is translated again by a worker (the models run there, never in the API process:
:func:`verbatim.workers.retranslate.run_retranslation`), which also records it, in its own transaction, as a
correction row of kind ``translation`` (:func:`verbatim.jobs.documents.record_translation`), refused when the
transcript is no longer the revision the API checked the request against. The API waits for the worker's
status a bounded time, then reads the row from the database. No transcript or translation text crosses the
broker or the result backend: the request is ids and a revision hash, the status (:func:`recorded_payload`,
:func:`error_payload`, read back by :func:`recorded_ids`) an error's kind or the ids of the rows recorded.

The routes:

- a **text** model that covers the pair translates the *corrected* text (names marked as such kept);
- otherwise, into English, **Whisper's speech translation** hears the segment's audio again: it cannot read
  the corrected words, so a correction of the text changes its output only through the segment's (possibly
  corrected) times. Only the segment's window (:data:`MARGIN_S` either side) is decoded, by a seek
  (:func:`verbatim.pipeline.decode.decode_window`): the samples Whisper hears are those a decode of the whole
  recording gives, at the cost of the segment, not of hours of audio. The stored recording (decrypted and
  authenticated by the store when encrypted at rest) must still have the SHA-256 recorded at upload;
- a segment already in the target language gets its corrected text (model ``original``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verbatim.errors import (
    AudioDecodeError,
    InvalidOptionError,
    JobNotReadyError,
    ModelIntegrityError,
    ModelNotFoundError,
    TranslationUnavailableError,
    VerbatimError,
)
from verbatim.jobs.documents import EditConflictError
from verbatim.ops.db import Job
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore, StorageError
from verbatim.ops.storage.encrypted import IntegrityError

__all__ = [
    "MARGIN_S",
    "Retranslation",
    "RetranslationFailedError",
    "error_payload",
    "recorded_ids",
    "recorded_payload",
    "retranslate_segment",
    "segment_window",
]

MARGIN_S = 1.0
"""Seconds of audio decoded either side of the segment: more than the 0.2 s pad speech translation adds,
and enough that the pad comes out the same as on the whole recording (it needs 0.4 s of audio after)."""


@dataclass(frozen=True)
class Retranslation:
    """A segment's new translation: ``text``, by ``model`` (a text model's name, ``<asr>:translate``, or
    ``original``)."""

    text: str
    model: str


class RetranslationFailedError(VerbatimError):
    """The worker failed to translate the segment again for a reason that is not the user's (its logs say
    which, by job id)."""


# The errors a worker's status may name, by kind, with the message the API gives for it: the worker's own
# message never crosses the broker (it could quote the transcript). Most specific first (the first the error
# is an instance of names it).
_ERRORS: tuple[tuple[str, type[Exception], str], ...] = (
    (
        "edit_conflict",
        EditConflictError,
        "The transcript was corrected while the segment was translated again; reload and try again.",
    ),
    (
        "translation_unavailable",
        TranslationUnavailableError,
        "No model on this server translates this segment again (pair not covered, or recording no longer "
        "stored).",
    ),
    (
        "invalid_option",
        InvalidOptionError,
        "This segment does not exist or has no translation to make again.",
    ),
    (
        "audio_unreadable",
        AudioDecodeError,
        "The stored recording does not match the SHA-256 recorded at upload, or its segment does not decode; "
        "ask an administrator to check the object store.",
    ),
    (
        "model_integrity",
        ModelIntegrityError,
        "A model needed on the worker is altered; tell the administrator.",
    ),
    (
        "model_unavailable",
        ModelNotFoundError,
        "A model needed on the worker is missing; tell the administrator.",
    ),
    ("job_not_ready", JobNotReadyError, "The job has no transcript (deleted or not succeeded)."),
    ("object_not_found", ObjectNotFoundError, "An object of the job is missing from the object store."),
    ("integrity", IntegrityError, "An encrypted object failed authentication on the worker."),
    ("storage", StorageError, "The object store could not be reached by the worker."),
)


def recorded_payload(edit_ids: Sequence[int]) -> dict[str, Any]:
    """A worker's status for a re-translation recorded (JSON): the ids of the rows (none when the translation
    came out as it was)."""
    return {"ok": True, "edit_ids": [int(i) for i in edit_ids]}


def error_payload(error: BaseException) -> dict[str, Any]:
    """A worker's status for a failure (JSON): the error's kind only (``internal`` when it is not one of the
    expected ones); no message, which could quote the transcript."""
    return {"error": next((name for name, kind, _ in _ERRORS if isinstance(error, kind)), "internal")}


def recorded_ids(payload: Mapping[str, Any]) -> list[int]:
    """The ids of the rows a worker recorded, or the error it met raised again here.

    Raises:
        The domain error of :func:`retranslate_segment` or of the recording the worker met (its kind, with
        a fixed message), or
        RetranslationFailedError: an unexpected failure on the worker.
    """
    name = payload.get("error")
    if name is None and payload.get("ok") is True:
        return [int(i) for i in payload.get("edit_ids") or []]
    for known, kind, message in _ERRORS:
        if name == known:
            raise kind(message)
    raise RetranslationFailedError(
        "The segment could not be translated again (worker error); the worker's logs name the job."
    )


def segment_window(start: float, end: float) -> tuple[int, int]:
    """The samples (16 kHz, ``[first, last)``) decoded to translate a segment of ``[start, end]`` again."""
    from verbatim.pipeline.types import SAMPLE_RATE

    first = max(0, round((start - MARGIN_S) * SAMPLE_RATE))
    return first, max(first, round((end + MARGIN_S) * SAMPLE_RATE))


def retranslate_segment(
    settings: Settings, store: ObjectStore, job: Job, doc: Mapping[str, Any], segment_id: int
) -> Retranslation:
    """The translation of segment ``segment_id`` of ``doc`` (the current revision) made again.

    Raises:
        InvalidOptionError: no such segment, or it has no translation.
        TranslationUnavailableError: no route translates the pair on this server, or the recording the
            speech route must hear is no longer stored.
        AudioDecodeError: the stored recording is not the one uploaded (SHA-256), or its window does not
            decode.
        IntegrityError: an encrypted recording failed authentication (from the store).
    """
    from verbatim.jobs.stages import get_asr, get_translator
    from verbatim.pipeline.export.json_format import transcript_from_dict
    from verbatim.pipeline.translate import ORIGINAL, speech_translate, translate_protected

    segment = next((s for s in doc.get("segments", []) if int(s["id"]) == segment_id), None)
    if segment is None:
        raise InvalidOptionError(f"no segment {segment_id} in this transcript")
    translation = segment.get("translation")
    if not isinstance(translation, dict):
        raise InvalidOptionError(f"segment {segment_id} has no translation to make again")
    target = str(translation["language"])
    source = str(segment.get("language") or doc.get("language") or "")
    text = str(segment.get("text") or "")
    if source == target or not text.strip():
        return Retranslation(text, ORIGINAL)
    translator = get_translator(settings, None)
    info = None
    try:
        info = translator.route(source, target)
    except TranslationUnavailableError:
        if target != "en":
            raise
    names = [
        str(s.get("name")) for s in doc.get("speakers", []) if s.get("name") and s.get("name") != s.get("id")
    ]
    if info is not None:
        out = translate_protected(
            translator.text_model(info), [text], source=source, target=target, terms=names, beam_size=5
        )
        return Retranslation(out[0], info.name)
    model = str(doc.get("models", {}).get("asr", {}).get("name") or "") or None
    try:
        asr = get_asr(settings, model)
    except Exception:  # the job's model was removed: the configured one
        asr = get_asr(settings)
    if job.object_key is None:
        raise TranslationUnavailableError("The recording is no longer stored: it cannot be heard again.")
    from verbatim.pipeline.decode import decode_window

    transcript = transcript_from_dict(dict(doc))
    seg = next(s for s in transcript.segments if s.id == segment_id)
    first, last = segment_window(seg.start, seg.end)
    with tempfile.TemporaryDirectory(prefix="verbatim-retranslate-") as folder:
        # a fixed neutral name: decoding errors quote it, and the user's file name must not reach logs
        path = Path(folder) / "recording"
        try:
            stored = store.download_to(job.object_key, path)  # the store decrypts and authenticates
        except ObjectNotFoundError as e:
            raise TranslationUnavailableError(
                "The recording is missing from storage: it cannot be heard again."
            ) from e
        if job.audio_sha256 and stored.sha256 != job.audio_sha256:
            raise AudioDecodeError(
                "The stored recording does not match the SHA-256 recorded at upload (chain of custody "
                "broken); ask an administrator to check the object store."
            )
        audio = decode_window(path, first, last, sha256=stored.sha256)
    texts = speech_translate(asr, audio, [seg.with_(language=source)], beam_size=5, first_sample=first)
    name = asr.identity().get("name", "whisper")
    return Retranslation(texts[0], f"{name}:translate")
