"""Known voices through the service: an enrolment's uploads turned into a voice print, the audio kept nowhere.

Where the print is computed: in the API process, in the request, like the re-translation of one segment
(:mod:`verbatim.jobs.retranslate`), and not by the workers that run jobs. An enrolment is small (a few
recordings of one person, at most :data:`MAX_ENROLMENT_RECORDINGS` of :data:`MAX_ENROLMENT_SECONDS` each: a
few seconds of CAM++ on a CPU), its answer is needed at once (too little speech, a name already enrolled),
and its audio must never be stored: handing it to a worker would mean writing it to the object store or to
the broker (both persistent), and Celery here has no result backend to bring the print back. The model is
the diarizer's, from the process's model cache (:func:`verbatim.jobs.stages.get_diarizer`): in the embedded
deployment that is the very model the in-process worker keeps warm. One enrolment computes at a time per
process (:data:`_ENROLLING`), so that enrolments never starve the API's threads or the worker of CPU.

The uploads are copied to a private temporary folder (0700) under neutral names (``recording-1.<ext>``: the
client's file name is never used as a path, never logged, never audited), decoded there in the limited
child process of :mod:`verbatim.pipeline.decode_guard`, and the folder is removed before the answer.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Final

from sqlalchemy.orm import Session

from verbatim.api.services import safe_filename
from verbatim.errors import InvalidOptionError, VerbatimError
from verbatim.jobs.voices import EnrolledVoice, check_new_voice, enrol_voice
from verbatim.ops import audit
from verbatim.ops.db import User
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectTooLargeError

__all__ = ["MAX_ENROLMENT_RECORDINGS", "MAX_ENROLMENT_SECONDS", "Recording", "enrol_uploads"]

MAX_ENROLMENT_RECORDINGS: Final = 5
"""Most recordings one enrolment takes (a voice print needs 6 s of speech; a few recordings are plenty)."""
MAX_ENROLMENT_SECONDS: Final = 300.0
"""Longest enrolment recording (five minutes): longer ones are refused (422, ``audio_limit``)."""

_ENROLLING = threading.BoundedSemaphore(1)
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Recording:
    """One uploaded enrolment recording as the route received it."""

    stream: BinaryIO
    filename: str | None


def _extension(filename: str | None) -> str:
    """A harmless extension of the client's file name (a hint for the decoder), or none."""
    name = safe_filename(filename) or ""
    stem, dot, ext = name.rpartition(".")
    return f".{ext.lower()}" if dot and stem and _EXTENSION.fullmatch(ext) else ""


def _copy(recordings: list[Recording], folder: Path, max_bytes: int) -> list[Path]:
    """The uploads copied into ``folder`` under neutral names, at most ``max_bytes`` in all.

    Raises:
        ObjectTooLargeError: more than ``max_bytes`` together.
    """
    paths: list[Path] = []
    total = 0
    for number, recording in enumerate(recordings, start=1):
        path = folder / f"recording-{number}{_extension(recording.filename)}"
        with path.open("wb") as out:
            while chunk := recording.stream.read(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise ObjectTooLargeError(f"the recordings are larger than the {max_bytes} bytes allowed")
                out.write(chunk)
        paths.append(path)
    return paths


def enrol_uploads(
    session: Session,
    settings: Settings,
    *,
    user: User,
    name: str,
    role: str | None,
    recordings: list[Recording],
    request_id: str,
) -> EnrolledVoice:
    """Enrol a voice of the user's own unit from uploaded recordings; every outcome is audited.

    Checks first what costs nothing (name, role, a name already enrolled, the number of recordings), then
    copies, decodes and embeds; the temporary copies are removed whatever happens.

    Raises:
        InvalidOptionError: a malformed name or role, no recording or too many.
        VoiceExistsError: the unit already enrolled a voice shown under that name.
        ObjectTooLargeError: more bytes than the upload limit.
        AudioLimitError: a recording longer than :data:`MAX_ENROLMENT_SECONDS` (or out of the other bounds).
        AudioDecodeError: a recording that is empty or does not decode.
        EnrolmentError: too little speech in all.
    """
    from verbatim.jobs.stages import get_diarizer
    from verbatim.pipeline.decode import decode_limits

    detail = f"voices add unit={user.unit}"
    folder: Path | None = None
    try:
        _unit, name, role = check_new_voice(session, settings, unit=user.unit, name=name, role=role)
        if not recordings:
            raise InvalidOptionError("recordings: give at least one recording of the voice")
        if len(recordings) > MAX_ENROLMENT_RECORDINGS:
            raise InvalidOptionError(
                f"recordings: at most {MAX_ENROLMENT_RECORDINGS} recordings per enrolment, "
                f"got {len(recordings)}"
            )
        folder = Path(tempfile.mkdtemp(prefix="verbatim-voice-"))  # private (0o700)
        paths = _copy(recordings, folder, settings.max_upload_bytes)
        limits = decode_limits(settings)
        limits = replace(limits, max_duration_s=min(limits.max_duration_s, MAX_ENROLMENT_SECONDS))
        with _ENROLLING:
            model = get_diarizer(settings).embedding
            voice = enrol_voice(
                session, settings, model, unit=user.unit, name=name, role=role, recordings=paths,
                by=user, request_id=request_id, limits=limits,
            )  # fmt: skip
        session.commit()
        return voice
    except VerbatimError as e:
        session.rollback()
        audit.record(
            session, user=user, action="write", outcome="error", request_id=request_id,
            detail=f"{detail}; {type(e).__name__}",
        )  # fmt: skip
        raise
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
