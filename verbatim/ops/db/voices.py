"""The table of enrolled voices: one row per voice a unit enrolled, its print and name encrypted.

A voice print is biometric data of a member of the unit's staff who agreed to it. The row holds only what
is needed to find it without decrypting (its id, its unit, when and with which embedding model it was made)
and an encrypted envelope (:mod:`verbatim.jobs.voices`) holding the print, the name and the role: a copy of
the database shows neither a voice nor who it belongs to. The enrolment recordings themselves are never
stored by the database: the service keeps them, encrypted, in the object store only while a worker
makes the print (a voice is ``pending`` until then, ``ready`` or ``failed`` after), and deletes them then.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Final

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verbatim.ops.db.models import Base, UTCDateTime, utcnow

__all__ = ["VOICE_STATUSES", "VoiceRecord", "new_voice_id"]

VOICE_STATUSES: Final = ("pending", "ready", "failed")
"""A voice is ``pending`` while a worker makes its print, then ``ready`` (used to name speakers) or
``failed`` (``error`` says why; never used)."""


def new_voice_id() -> str:
    """A fresh voice id (a random UUID in its 36-character text form)."""
    return str(uuid.uuid4())


class VoiceRecord(Base):
    """An enrolled voice of a unit.

    Attributes:
        id: the enrolment's id (shown by ``verbatim voices list``, recorded in transcripts and the audit log).
        unit: the unit that enrolled it; only that unit's jobs are compared with it.
        created_at / created_by: when, and by which account (``None`` from the command line).
        model_sha256: SHA-256 of the speaker-embedding weights that made the print (a print made by other
            weights is not comparable, and is not used); ``None`` until the print is made.
        speech_seconds: seconds of speech the print rests on; ``None`` until the print is made.
        status: ``pending`` (a worker makes the print), ``ready`` or ``failed``.
        error: the error code of a failed enrolment (``voice_enrolment``: too little speech...).
        key_id: fingerprint of the key that encrypted the envelope (never the key).
        envelope: the encrypted JSON envelope of ``{id, unit, name, role, embedding}`` (no embedding while
            pending or failed).
    """

    __tablename__ = "voices"
    __table_args__ = (CheckConstraint("status IN ('pending', 'ready', 'failed')", name="status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_voice_id)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    speech_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="ready", server_default="ready")
    error: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str] = mapped_column(String(64))
    envelope: Mapped[str] = mapped_column(Text)

    def __repr__(self) -> str:  # no name, no print: personal data
        return f"VoiceRecord(id={self.id!r}, unit={self.unit!r})"
