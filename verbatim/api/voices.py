"""Known voices through the service: an enrolment's uploads checked and handed to the workers.

The API runs no model in the request (DESIGN.md): it checks what is cheap (the permission, the name and
role, a name already enrolled, the number of recordings, and that each recording decodes within the bounds,
in the limited child process of :mod:`verbatim.pipeline.decode_guard`), stores the recordings in the object
store, encrypted like a job's original, under :func:`~verbatim.jobs.voices.voice_upload_prefix` with neutral
names (``recording-1.<ext>``: the client's file name is never used as a key, never logged, never audited),
records the voice ``pending`` and dispatches it. A worker makes the print with the diarizer's model
(:func:`verbatim.workers.voices.process_voice`), marks the voice ``ready`` or ``failed`` (too little speech:
``voice_enrolment``), and deletes the recordings whatever the outcome. A pending or failed voice never
names a speaker.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import BinaryIO, Final

from sqlalchemy.orm import Session

from verbatim.api.errors import ServiceUnavailableError
from verbatim.api.services import probe_audio, safe_filename
from verbatim.errors import InvalidOptionError, VerbatimError
from verbatim.jobs.service import Dispatcher
from verbatim.jobs.voices import (
    MAX_ENROLMENT_RECORDINGS,
    MAX_ENROLMENT_SECONDS,
    EnrolledVoice,
    check_new_voice,
    create_pending_voice,
    enrolment_limits,
    fail_voice,
    voice_upload_prefix,
)
from verbatim.ops import audit
from verbatim.ops.db import User, new_voice_id
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectStore, ObjectTooLargeError

__all__ = ["MAX_ENROLMENT_RECORDINGS", "MAX_ENROLMENT_SECONDS", "Recording", "accept_enrolment"]

log = logging.getLogger("verbatim.api")

_EXTENSION: Final = re.compile(r"[A-Za-z0-9]{1,10}")


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


def accept_enrolment(
    session: Session,
    settings: Settings,
    *,
    store: ObjectStore,
    dispatcher: Dispatcher,
    user: User,
    name: str,
    role: str | None,
    recordings: list[Recording],
    request_id: str,
) -> EnrolledVoice:
    """Check an enrolment, store its recordings (encrypted), record the voice ``pending`` and hand it to the
    workers; every refusal is audited, and nothing refused is left in the store.

    Raises:
        InvalidOptionError: a malformed name or role, no recording or too many.
        VoiceExistsError: the unit already enrolled (or is enrolling) a voice shown under that name.
        ObjectTooLargeError: more bytes than the upload limit, all recordings together.
        AudioLimitError: a recording longer than :data:`MAX_ENROLMENT_SECONDS` (or out of the other bounds).
        AudioDecodeError: a recording that is empty or does not decode.
        ServiceUnavailableError: the enrolment could not be handed to the workers (the voice is failed).
    """
    detail = f"voices add unit={user.unit}"
    voice_id = new_voice_id()
    prefix = voice_upload_prefix(voice_id)
    stored = False
    try:
        _unit, name, role = check_new_voice(session, settings, unit=user.unit, name=name, role=role)
        if not recordings:
            raise InvalidOptionError("recordings: give at least one recording of the voice")
        if len(recordings) > MAX_ENROLMENT_RECORDINGS:
            raise InvalidOptionError(
                f"recordings: at most {MAX_ENROLMENT_RECORDINGS} recordings per enrolment, "
                f"got {len(recordings)}"
            )
        limits = enrolment_limits(settings)
        for recording in recordings:
            probe_audio(recording.stream, limits=limits)
        left = settings.max_upload_bytes
        stored = True
        for number, recording in enumerate(recordings, start=1):
            put = store.put_stream(
                f"{prefix}recording-{number}{_extension(recording.filename)}",
                recording.stream,
                max_bytes=left,
                overwrite=False,
            )
            left -= put.size
        voice = create_pending_voice(
            session, settings, unit=user.unit, name=name, role=role, by=user, request_id=request_id,
            voice_id=voice_id,
        )  # fmt: skip
    except ObjectTooLargeError:
        _refused(session, user, request_id, detail, "ObjectTooLargeError")
        _remove(store, prefix)
        raise ObjectTooLargeError(
            f"the recordings are larger than the {settings.max_upload_bytes} bytes allowed"
        ) from None
    except VerbatimError as e:
        _refused(session, user, request_id, detail, type(e).__name__)
        if stored:
            _remove(store, prefix)
        raise
    except Exception:
        session.rollback()
        if stored:
            _remove(store, prefix)
        raise
    try:
        dispatcher.enrol(voice.id)
    except Exception as e:
        log.exception("voice %s could not be dispatched", voice.id)
        fail_voice(session, voice_id=voice.id, code="service_unavailable")
        session.commit()
        _remove(store, prefix)
        raise ServiceUnavailableError("The enrolment could not be queued; try again later.") from e
    return voice


def _refused(session: Session, user: User, request_id: str, detail: str, kind: str) -> None:
    session.rollback()
    audit.record(
        session, user=user, action="write", outcome="error", request_id=request_id, detail=f"{detail}; {kind}"
    )


def _remove(store: ObjectStore, prefix: str) -> None:
    try:
        store.delete_prefix(prefix)
    except Exception:
        log.exception("enrolment recordings not removed from the store")
