"""Known voices of a unit: enrol, list, remove, and hand a job's unit's voices to the pipeline.

A unit enrols the voices of its own staff who agreed (``verbatim voices add``). Only the voice print is
kept, never the recordings, and it is kept encrypted with the key of the pseudonymisation tables (AES-256-GCM,
the envelope of :mod:`verbatim.anonymize.crypto`, under the schema ``verbatim.voice/1``), together with the
name and role: the row in the database (:class:`~verbatim.ops.db.voices.VoiceRecord`) shows neither. Each
envelope is bound to its unit and id (its associated data, and checked again once decrypted), so a row
copied to another unit, or edited, fails. Every enrolment, listing, removal and every match used in a
transcript is audited, by voice id (never a name).

Two ways to enrol: at once where the models are (:func:`enrol_voice`, the command line), or in two steps
through the service: the API records a ``pending`` voice (:func:`create_pending_voice`) and stores the
recordings, encrypted, under :func:`voice_upload_prefix`; a worker makes the print
(:func:`complete_voice`, or :func:`fail_voice` with an error code) and deletes the recordings whatever the
outcome. Only a ``ready`` voice names speakers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from verbatim.anonymize.crypto import (
    KeyError_,
    decrypt_document,
    encrypt_document,
    key_fingerprint,
    resolve_key,
)
from verbatim.errors import (
    AudioDecodeError,
    AudioLimitError,
    InvalidOptionError,
    ModelIntegrityError,
    ModelNotFoundError,
    VerbatimError,
)
from verbatim.ops.accounts import check_unit
from verbatim.ops.audit import record
from verbatim.ops.db import User, VoiceRecord, new_voice_id
from verbatim.pipeline.voices import (
    DEFAULT_MARGIN,
    DEFAULT_NARROWBAND_THRESHOLD,
    DEFAULT_THRESHOLD,
    MIN_ENROLMENT_SPEECH,
    EnrolmentError,
    KnownVoice,
    VoiceNaming,
    display_name,
)

if TYPE_CHECKING:
    from verbatim.models.diarization import EmbeddingModel
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.decode_guard import DecodeLimits
    from verbatim.pipeline.types import Transcript
    from verbatim.pipeline.voices import VoicePrint

__all__ = [
    "MAX_ENROLMENT_RECORDINGS",
    "MAX_ENROLMENT_SECONDS",
    "VOICE_SCHEMA",
    "EnrolledVoice",
    "VoiceExistsError",
    "VoiceNotFoundError",
    "audit_matches",
    "check_new_voice",
    "complete_voice",
    "create_pending_voice",
    "enrol_voice",
    "enrolment_error_code",
    "enrolment_limits",
    "fail_voice",
    "get_voice",
    "list_voices",
    "naming_for_unit",
    "remove_voice",
    "unit_voices",
    "voice_upload_prefix",
]

VOICE_SCHEMA: Final = "verbatim.voice/1"
MAX_ENROLMENT_RECORDINGS: Final = 5
"""Most recordings one enrolment through the service takes (a voice print needs 6 s of speech)."""
MAX_ENROLMENT_SECONDS: Final = 300.0
"""Longest enrolment recording through the service (five minutes): longer ones are refused
(``audio_limit``)."""
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,128}")
_ZERO_WIDTH = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


class VoiceExistsError(VerbatimError):
    """The unit already enrolled a voice shown under this name: its transcripts could not tell them apart."""


class VoiceNotFoundError(InvalidOptionError):
    """No such voice among the unit's (another unit's voice is never found: both read the same)."""


@dataclass(frozen=True)
class EnrolledVoice:
    """An enrolled voice as it is listed (never its print).

    Attributes:
        id: the enrolment's id.
        unit: the unit that enrolled it.
        name / role: as given at enrolment; ``display`` joins them ("Enquêteur Dupont").
        created_at: when.
        speech_seconds: seconds of speech the print rests on (``None`` until it is made).
        model_sha256: SHA-256 of the embedding weights that made the print (``None`` until it is made).
        status: ``pending`` (a worker makes the print), ``ready`` (names speakers) or ``failed``.
        error: the error code of a failed enrolment (``voice_enrolment``: too little speech).
    """

    id: str
    unit: str
    name: str
    role: str | None
    created_at: datetime
    speech_seconds: float | None
    model_sha256: str | None
    status: str = "ready"
    error: str | None = None

    @property
    def display(self) -> str:
        return display_name(self.name, self.role)


def _check_label(value: str, what: str) -> str:
    value = value.strip()
    if not _NAME.fullmatch(value) or _ZERO_WIDTH.search(value):
        raise InvalidOptionError(
            f"{what}: invalid: 1 to 128 characters, no control, zero-width or text-direction character"
        )
    return value


def _context(unit: str, voice_id: str) -> str:
    return f"voice:{unit}:{voice_id}"


def _open(key: bytes, row: VoiceRecord) -> dict[str, object]:
    """The decrypted document of a row, checked to belong to the row's unit and id.

    Raises:
        KeyError_: another key, or a row altered or moved to another unit.
    """
    try:
        document = decrypt_document(key, row.envelope.encode("utf-8"), schema=VOICE_SCHEMA)
    except InvalidOptionError as e:
        raise KeyError_(f"voice {row.id}: not a voice envelope") from e
    if document.get("unit") != row.unit or document.get("id") != row.id:
        raise KeyError_(f"voice {row.id}: the envelope belongs to another voice or unit (altered row)")
    return document


def _listed(row: VoiceRecord, document: Mapping[str, object]) -> EnrolledVoice:
    role = document.get("role")
    return EnrolledVoice(
        id=row.id,
        unit=row.unit,
        name=str(document["name"]),
        role=None if role is None else str(role),
        created_at=row.created_at,
        speech_seconds=row.speech_seconds,
        model_sha256=row.model_sha256,
        status=row.status,
        error=row.error,
    )


def enrolment_limits(settings: Settings) -> DecodeLimits:
    """The decoding bounds of an enrolment through the service: the settings', at most
    :data:`MAX_ENROLMENT_SECONDS` per recording (the API probes with them, the worker decodes with them)."""
    from dataclasses import replace

    from verbatim.pipeline.decode import decode_limits

    limits = decode_limits(settings)
    return replace(limits, max_duration_s=min(limits.max_duration_s, MAX_ENROLMENT_SECONDS))


def voice_upload_prefix(voice_id: str) -> str:
    """Where the service keeps an enrolment's recordings until a worker has read them (then deleted)."""
    return f"voices/{voice_id}/"


_ERROR_CODES: Final[tuple[tuple[type[BaseException], str], ...]] = (
    (EnrolmentError, "voice_enrolment"),
    (AudioLimitError, "audio_limit"),
    (AudioDecodeError, "audio_unreadable"),
    (ModelNotFoundError, "model_unavailable"),
    (ModelIntegrityError, "model_unavailable"),
)


def enrolment_error_code(error: BaseException) -> str:
    """The error code a failed enrolment keeps (the API's catalogue: ``voice_enrolment`` for too little
    speech; ``internal`` for anything unexpected)."""
    for kind, code in _ERROR_CODES:
        if isinstance(error, kind):
            return code
    return "internal"


def check_new_voice(
    session: Session, settings: Settings, *, unit: str, name: str, role: str | None
) -> tuple[str, str, str | None]:
    """The unit, name and role of a new enrolment, checked before any recording is read.

    Returns:
        (unit, name, role) as they are kept (trimmed; an empty role is ``None``).

    Raises:
        InvalidOptionError: a malformed unit, name or role.
        VoiceExistsError: the unit already enrolled a voice shown under the same name (compared without
            case): a transcript could not tell the two apart.
    """
    unit = check_unit(unit)
    name = _check_label(name, "name")
    role = _check_label(role, "role") if role is not None and role.strip() else None
    rows = [row for row in _rows(session, unit) if row.status != "failed"]  # a failed one may be retried
    if rows:
        key = resolve_key(settings)
        shown = display_name(name, role)
        if any(_listed(row, _open(key, row)).display.casefold() == shown.casefold() for row in rows):
            raise VoiceExistsError(
                f"unit {unit} already enrolled a voice shown as {shown!r}: remove it first, or give another "
                "name or role"
            )
    return unit, name, role


def enrol_voice(
    session: Session,
    settings: Settings,
    model: EmbeddingModel,
    *,
    unit: str,
    name: str,
    recordings: Sequence[Path],
    role: str | None = None,
    by: User | None = None,
    request_id: str | None = None,
    min_speech: float = MIN_ENROLMENT_SPEECH,
    limits: DecodeLimits | None = None,
) -> EnrolledVoice:
    """Enrol a voice for a unit: decode the recordings, make the print, store it encrypted, audit.

    Args:
        session: a session on the migrated database (committed here).
        settings: where the key comes from, and the decoding limits.
        model: the diarizer's CAM++ model (:attr:`SpeakerDiarizer.embedding`).
        unit: the unit enrolling the voice (of its own staff).
        name: the person's name ("Dupont").
        recordings: recordings of that person speaking alone; read, never stored.
        role: shown before the name ("Enquêteur").
        by: the account enrolling it (``None``: the operator at the command line).
        request_id: the request's or command's id, for the audit log.
        min_speech: least seconds of speech, all recordings together.
        limits: bounds of the decoding (default: the settings'); the API narrows the duration.

    Returns:
        The enrolled voice.

    Raises:
        InvalidOptionError: a malformed unit, name or role, or no recording.
        VoiceExistsError: the unit already enrolled a voice shown under the same name (checked before any
            recording is read).
        AudioDecodeError: a recording that cannot be decoded.
        EnrolmentError: a recording without speech, or too little speech in all.
        KeyError_: the key cannot be used.
    """
    unit, name, role = check_new_voice(session, settings, unit=unit, name=name, role=role)
    if not recordings:
        raise InvalidOptionError("recordings: give at least one recording of the voice")
    key = resolve_key(settings)
    voice_id = new_voice_id()
    row = VoiceRecord(id=voice_id, unit=unit, created_by=by.id if by is not None else None, status="ready")
    document: dict[str, object] = {"id": voice_id, "unit": unit, "name": name, "role": role}
    made = _print_into(row, document, key, model, recordings, settings, limits, min_speech)
    return _added(session, row, document, by, request_id, f"speech_s={made.speech_seconds:.1f}")


def _added(
    session: Session,
    row: VoiceRecord,
    document: Mapping[str, object],
    by: User | None,
    request_id: str | None,
    outcome_detail: str,
) -> EnrolledVoice:
    """Add a new voice's row, audited ``voices add id=... unit=... <outcome_detail>``; the voice as listed."""
    session.add(row)
    session.flush()
    record(
        session,
        user=by,
        action="write",
        outcome="ok",
        request_id=request_id,
        detail=f"voices add id={row.id} unit={row.unit} {outcome_detail}",
        unit=row.unit,
    )
    return _listed(row, document)


def _seal(row: VoiceRecord, document: Mapping[str, object], key: bytes) -> None:
    row.key_id = key_fingerprint(key)
    row.envelope = encrypt_document(
        key, dict(document), context=_context(row.unit, row.id), schema=VOICE_SCHEMA
    ).decode("utf-8")


def _print_into(
    row: VoiceRecord,
    document: dict[str, object],
    key: bytes,
    model: EmbeddingModel,
    recordings: Sequence[Path],
    settings: Settings,
    limits: DecodeLimits | None,
    min_speech: float,
) -> VoicePrint:
    """Decode the recordings, make the print, and seal it into ``row`` (with ``document``'s name and role)."""
    from verbatim.pipeline.decode import decode, decode_limits
    from verbatim.pipeline.voices import voice_print

    limits = decode_limits(settings) if limits is None else limits
    audios = [decode(path, limits=limits) for path in recordings]
    made = voice_print(model, audios, min_speech=min_speech)
    document["embedding"] = [round(float(x), 7) for x in made.embedding]
    document["narrowband"] = (
        None if made.narrowband is None else [round(float(x), 7) for x in made.narrowband]
    )
    row.model_sha256 = model.sha256
    row.speech_seconds = made.speech_seconds
    _seal(row, document, key)
    return made


def create_pending_voice(
    session: Session,
    settings: Settings,
    *,
    unit: str,
    name: str,
    role: str | None,
    by: User | None,
    request_id: str | None = None,
    voice_id: str | None = None,
) -> EnrolledVoice:
    """Record a ``pending`` voice (name and role encrypted, no print yet) for a worker to complete; audited
    ``voices add id=... status=pending``. The caller stores the recordings under
    :func:`voice_upload_prefix` (of ``voice_id``, chosen beforehand with :func:`new_voice_id`), then
    dispatches. The row is committed (with its audit entry).

    Raises:
        InvalidOptionError: a malformed unit, name or role.
        VoiceExistsError: the unit already enrolled (or is enrolling) a voice shown under the same name.
    """
    unit, name, role = check_new_voice(session, settings, unit=unit, name=name, role=role)
    key = resolve_key(settings)
    row = VoiceRecord(
        id=voice_id or new_voice_id(),
        unit=unit,
        created_by=by.id if by is not None else None,
        status="pending",
    )
    document = {"id": row.id, "unit": unit, "name": name, "role": role}
    _seal(row, document, key)
    return _added(session, row, document, by, request_id, "status=pending")


def _pending(session: Session, voice_id: str) -> VoiceRecord:
    row = session.get(VoiceRecord, voice_id)
    if row is None or row.status != "pending":
        raise VoiceNotFoundError(f"no pending voice {voice_id}")
    return row


def complete_voice(
    session: Session,
    settings: Settings,
    model: EmbeddingModel,
    *,
    voice_id: str,
    recordings: Sequence[Path],
    min_speech: float = MIN_ENROLMENT_SPEECH,
    limits: DecodeLimits | None = None,
) -> EnrolledVoice:
    """Make the print of a ``pending`` voice from its recordings and mark it ``ready`` (the worker's step);
    audited ``voices enrolled id=... speech_s=...`` under the account that asked.

    Raises:
        VoiceNotFoundError: no such voice, or it is not pending any more (removed meanwhile, done).
        AudioDecodeError: a recording that cannot be decoded.
        EnrolmentError: a recording without speech, or too little speech in all.
        KeyError_: the key cannot be used.
    """
    row = _pending(session, voice_id)
    key = resolve_key(settings)
    document = dict(_open(key, row))
    made = _print_into(row, document, key, model, recordings, settings, limits, min_speech)
    row.status = "ready"
    row.error = None
    _audit_outcome(session, row, "ok", f" speech_s={made.speech_seconds:.1f}")
    return _listed(row, document)


def _audit_outcome(session: Session, row: VoiceRecord, outcome: str, detail: str) -> None:
    """Audit the end of a worker's enrolment under the account that asked: ``voices enrolled id=... unit=...``
    followed by ``detail`` (the row's new state flushed first)."""
    session.flush()
    record(
        session,
        user=session.get(User, row.created_by) if row.created_by is not None else None,
        action="write",
        outcome=outcome,
        request_id=None,
        detail=f"voices enrolled id={row.id} unit={row.unit}{detail}",
        unit=row.unit,
    )


def fail_voice(session: Session, *, voice_id: str, code: str) -> bool:
    """Mark a ``pending`` voice ``failed`` with an error code (it never names anyone); audited
    ``error``. Returns false when the voice is not pending (removed meanwhile, or done)."""
    row = session.get(VoiceRecord, voice_id)
    if row is None or row.status != "pending":
        return False
    row.status = "failed"
    row.error = code
    _audit_outcome(session, row, "error", f"; {code}")
    return True


def _rows(session: Session, unit: str) -> list[VoiceRecord]:
    statement = select(VoiceRecord).where(VoiceRecord.unit == unit).order_by(VoiceRecord.created_at)
    return list(session.scalars(statement))


def list_voices(
    session: Session,
    settings: Settings,
    *,
    unit: str,
    by: User | None = None,
    request_id: str | None = None,
) -> list[EnrolledVoice]:
    """The voices a unit enrolled, oldest first (decrypted to show their names); the listing is audited.

    Raises:
        InvalidOptionError: a malformed unit.
        KeyError_: the key cannot decrypt them, or a row was altered.
    """
    unit = check_unit(unit)
    rows = _rows(session, unit)
    key = resolve_key(settings) if rows else b""
    listed = [_listed(row, _open(key, row)) for row in rows]
    record(
        session,
        user=by,
        action="read",
        outcome="ok",
        request_id=request_id,
        detail=f"voices list unit={unit} count={len(listed)}",
        unit=unit,
    )
    return listed


def get_voice(
    session: Session,
    settings: Settings,
    *,
    unit: str,
    voice_id: str,
    by: User | None = None,
    request_id: str | None = None,
) -> EnrolledVoice:
    """One of a unit's voices by id (its status: pending, ready or failed); audited ``voices read``.

    Another unit's voice is never found; the refusal is audited ``denied`` (``not_found`` when no unit has
    that id), like another unit's job.

    Raises:
        VoiceNotFoundError: no such voice in this unit.
        KeyError_: the key cannot decrypt it, or the row was altered.
    """
    unit = check_unit(unit)
    row = session.get(VoiceRecord, voice_id) if len(voice_id) <= 64 else None
    if row is None or row.unit != unit:
        record(
            session,
            user=by,
            action="read",
            outcome="denied" if row is not None else "not_found",
            request_id=request_id,
            detail=f"voices read unit={unit}",
            unit=unit,
        )
        raise VoiceNotFoundError(f"no voice {voice_id!r} enrolled in unit {unit}")
    listed = _listed(row, _open(resolve_key(settings), row))
    record(
        session,
        user=by,
        action="read",
        outcome="ok",
        request_id=request_id,
        detail=f"voices read id={row.id} unit={unit} status={row.status}",
        unit=unit,
    )
    return listed


def remove_voice(
    session: Session,
    settings: Settings,
    *,
    unit: str,
    voice: str,
    by: User | None = None,
    request_id: str | None = None,
    by_name: bool = True,
) -> EnrolledVoice:
    """Remove one of a unit's voices, named by its id or by its name (or shown name, as listed); audited.

    ``by_name=False`` (the HTTP API) takes an id only. Another unit's voice is never found; the refusal is
    audited ``denied`` (``not_found`` when no unit has that id), like another unit's job.

    Raises:
        VoiceNotFoundError: no such voice in this unit.
        InvalidOptionError: a name that several of its voices share (give the id).
    """
    unit = check_unit(unit)
    rows = _rows(session, unit)
    key = resolve_key(settings) if rows else b""
    found = [(row, _listed(row, _open(key, row))) for row in rows]
    wanted = voice.strip()
    by_id = [f for f in found if f[0].id == wanted]
    chosen = by_id or [
        f for f in found if by_name and wanted.casefold() in (f[1].name.casefold(), f[1].display.casefold())
    ]
    if not chosen:
        elsewhere = session.get(VoiceRecord, wanted) if len(wanted) <= 64 else None
        record(
            session,
            user=by,
            action="delete",
            outcome="denied" if elsewhere is not None else "not_found",
            request_id=request_id,
            detail=f"voices remove unit={unit}",
            unit=unit,
        )
        raise VoiceNotFoundError(f"no voice {voice!r} enrolled in unit {unit} (see `verbatim voices list`)")
    if len(chosen) > 1:
        ids = ", ".join(f[0].id for f in chosen)
        raise InvalidOptionError(f"several voices of unit {unit} are named {voice!r}: give the id ({ids})")
    row, listed = chosen[0]
    session.delete(row)
    session.flush()
    record(
        session,
        user=by,
        action="delete",
        outcome="ok",
        request_id=request_id,
        detail=f"voices remove id={row.id} unit={unit}",
        unit=unit,
    )
    return listed


def unit_voices(session: Session, settings: Settings, *, unit: str) -> tuple[KnownVoice, ...]:
    """The decrypted voice prints of one unit (and of no other), for the pipeline.

    Raises:
        KeyError_: the key cannot decrypt them, or a row was altered.
    """
    rows = [row for row in _rows(session, check_unit(unit)) if row.status == "ready"]
    if not rows:
        return ()
    key = resolve_key(settings)
    voices = []
    for row in rows:
        document = _open(key, row)
        embedding = np.asarray(document["embedding"], dtype=np.float32)
        narrow = document.get("narrowband")
        role = document.get("role")
        voices.append(
            KnownVoice(
                row.id,
                display_name(str(document["name"]), None if role is None else str(role)),
                embedding,
                model_sha256=row.model_sha256 or "",
                narrowband=None if narrow is None else np.asarray(narrow, dtype=np.float32),
            )
        )
    return tuple(voices)


def naming_for_unit(session: Session, settings: Settings, *, unit: str) -> VoiceNaming | None:
    """What the pipeline needs to name a job's speakers after its unit's voices; ``None`` when the unit
    enrolled none."""
    voices = unit_voices(session, settings, unit=unit)
    if not voices:
        return None
    conf = settings.voices
    return VoiceNaming(
        voices,
        threshold=DEFAULT_THRESHOLD if conf.threshold is None else conf.threshold,
        margin=DEFAULT_MARGIN if conf.margin is None else conf.margin,
        narrowband_threshold=DEFAULT_NARROWBAND_THRESHOLD
        if conf.narrowband_threshold is None
        else conf.narrowband_threshold,
    )


def audit_matches(
    session: Session,
    transcript: Transcript,
    *,
    unit: str,
    job_id: str | None = None,
    by: User | None = None,
    request_id: str | None = None,
) -> int:
    """One audit entry per enrolled voice that named a speaker of ``transcript`` (id, speaker, similarity).

    Returns:
        The number of entries written.
    """
    for speaker, match in sorted(transcript.voices.items()):
        record(
            session,
            user=by,
            action="read",
            outcome="ok",
            request_id=request_id,
            job_id=job_id,
            detail=f"voices match id={match.voice_id} unit={unit} speaker={speaker} "
            f"similarity={match.similarity:.3f}",
            unit=unit,
        )
    return len(transcript.voices)
