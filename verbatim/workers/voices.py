"""A worker's step of an enrolment through the service: make the print of a ``pending`` voice.

The API recorded the voice ``pending`` and stored its recordings, encrypted like a job's original, under
:func:`~verbatim.jobs.voices.voice_upload_prefix`; this reads them into a private temporary folder, makes the
print with the diarizer's model (the one the worker keeps warm), and marks the voice ``ready``, or
``failed`` with an error code (``voice_enrolment``: too little speech). The recordings are deleted from the
store and from the disk whatever the outcome: the audio is never kept. A message delivered again finds the
voice no longer pending and only makes sure nothing is left.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session, sessionmaker

from verbatim.jobs.voices import (
    VoiceNotFoundError,
    complete_voice,
    enrolment_error_code,
    enrolment_limits,
    fail_voice,
    voice_upload_prefix,
)
from verbatim.ops.db import VoiceRecord
from verbatim.ops.settings import Settings
from verbatim.ops.storage.base import ObjectStore

__all__ = ["ENROLLED", "FAILED", "SKIPPED", "pending_voice_ids", "process_voice"]

log = logging.getLogger("verbatim.worker")

ENROLLED: Final = "ready"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
"""The voice was not pending (removed meanwhile, or done by an earlier delivery)."""


def pending_voice_ids(sessions: sessionmaker[Session]) -> list[str]:
    """Voices waiting for their print, oldest first (re-submitted when the embedded worker starts)."""
    from sqlalchemy import select

    statement = select(VoiceRecord.id).where(VoiceRecord.status == "pending").order_by(VoiceRecord.created_at)
    with sessions() as session:
        return list(session.scalars(statement))


def process_voice(
    voice_id: str, *, settings: Settings, sessions: sessionmaker[Session], store: ObjectStore
) -> str:
    """Make the print of a pending voice; returns ``ready``, ``failed`` or ``skipped``.

    Never raises for a failed enrolment (the voice is marked failed); the stored recordings are deleted in
    every case.
    """
    prefix = voice_upload_prefix(voice_id)
    folder: Path | None = None
    try:
        with sessions() as session:
            row = session.get(VoiceRecord, voice_id)
            if row is None or row.status != "pending":
                return SKIPPED
        keys = store.list(prefix)
        if not keys:
            raise FileNotFoundError("the enrolment's recordings are gone")
        folder = Path(tempfile.mkdtemp(prefix="verbatim-voice-"))  # private (0o700)
        paths = []
        for key in keys:
            path = folder / key.rsplit("/", 1)[-1]  # recording-N[.ext], named by the API
            store.download_to(key, path)
            paths.append(path)
        from verbatim.jobs.stages import get_diarizer

        model = get_diarizer(settings).embedding
        with sessions() as session:
            complete_voice(
                session,
                settings,
                model,
                voice_id=voice_id,
                recordings=paths,
                limits=enrolment_limits(settings),
            )
            session.commit()
        log.info("voice enrolled voice=%s", voice_id)
        return ENROLLED
    except VoiceNotFoundError:
        return SKIPPED  # removed while its print was made
    except Exception as e:
        code = enrolment_error_code(e)
        if code == "internal":
            log.exception("voice enrolment failed voice=%s", voice_id)
        else:
            log.info("voice enrolment refused voice=%s code=%s", voice_id, code)
        with sessions() as session:
            fail_voice(session, voice_id=voice_id, code=code)
            session.commit()
        return FAILED
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        try:
            store.delete_prefix(prefix)
        except Exception:  # the store is down: they stay encrypted; removing the voice removes them too
            log.exception("enrolment recordings not deleted voice=%s", voice_id)
