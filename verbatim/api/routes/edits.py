"""Routes of the transcript page: corrections and their history, speaker names, the recording itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from verbatim.api import media, pseudonymized
from verbatim.api.deps import (
    CurrentUser,
    DispatcherDep,
    RequestIdDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    get_current_user,
)
from verbatim.api.errors import (
    JobNotFoundError,
    NotAuthenticatedError,
    RetranslateTimeoutError,
    ServiceUnavailableError,
)
from verbatim.api.schemas_web import (
    AudioTicket,
    CorrectionsCreate,
    EditList,
    EditPublic,
    MergeOp,
    RetranslateCreate,
    RevertOp,
    SegmentSpeakerOp,
    SegmentSpeakersCreate,
    SpanMarksCreate,
    SpanOp,
    SpeakerPublic,
    SpeakersPublic,
    SpeakersUpdate,
    SplitOp,
    TimesOp,
    UserPublic,
    WordEditsCreate,
    WordOp,
    WordsSpeakerOp,
)
from verbatim.api.security import bounded_range
from verbatim.api.services import visible_job
from verbatim.jobs import documents, marks
from verbatim.jobs import pseudonymized as copies
from verbatim.jobs.documents import content_disposition, download_name
from verbatim.jobs.layout import ArtifactKind, artifact
from verbatim.jobs.retranslate import recorded_ids
from verbatim.jobs.service import Dispatcher
from verbatim.ops import audit
from verbatim.ops.db import Job, TranscriptEdit, User

__all__ = ["account_router", "router"]

router = APIRouter(prefix="/v1/jobs", tags=["corrections"])

_bearer = HTTPBearer(auto_error=False, description="A token from `verbatim users add`.")


def _revision_hash(job: Job) -> str | None:
    revision = artifact(job, ArtifactKind.REVISION)
    return None if revision is None else revision.sha256


def _history(session: SessionDep, job: Job) -> list[EditPublic]:
    rows = session.scalars(
        select(TranscriptEdit).where(TranscriptEdit.job_id == job.id).order_by(TranscriptEdit.id)
    ).all()
    cancelled = documents.cancelled_edits(rows)
    return [EditPublic.model_validate(r).model_copy(update={"reverted": r.id in cancelled}) for r in rows]


@router.get("/{job_id}/edits", response_model=EditList)
def list_edits(job_id: str, user: CurrentUser, session: SessionDep, request_id: RequestIdDep) -> EditList:
    """Every correction of the transcript, oldest first: who, when, where, the text before and after."""
    job = visible_job(session, user=user, job_id=job_id, action="read", request_id=request_id, detail="edits")
    history = _history(session, job)
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"edits count={len(history)}",
    )  # fmt: skip
    return EditList(edits=history, revision_sha256=_revision_hash(job))


def _audited_write(
    session: SessionDep, *, user: User, job: Job, request_id: str, detail: str, error: Exception
) -> None:
    """Audit a failed correction (the caller audits success): the outcome and the error's kind, no text."""
    session.rollback()  # nothing half-done is committed with the audit entry (and a row lock is released)
    audit.record(
        session, user=user, action="write", outcome="error", request_id=request_id, job_id=job.id,
        detail=f"{detail}; {type(error).__name__}",
    )  # fmt: skip


def _recorded(
    session: SessionDep,
    dispatcher: Dispatcher,
    *,
    user: User,
    job: Job,
    request_id: str,
    detail: str,
    write: Callable[[], list[TranscriptEdit]],
) -> EditList:
    """Run a correction (``write`` records its rows and commits), audit it either way, have the workers make
    the pseudonymised copies again; the rows recorded and the new revision's hash."""
    try:
        rows = write()
    except Exception as e:
        _audited_write(session, user=user, job=job, request_id=request_id, detail=detail, error=e)
        raise
    pseudonymized.ask_refresh(dispatcher, job)  # its pseudonymised copies follow, made by the workers
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"{detail} recorded={len(rows)}",
    )  # fmt: skip
    return EditList(edits=[EditPublic.model_validate(r) for r in rows], revision_sha256=_revision_hash(job))


@router.post("/{job_id}/edits", response_model=EditList)
def correct_words(
    job_id: str,
    body: WordEditsCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> EditList:
    """Correct words; each names the text it replaces (409 if someone changed it meanwhile).

    Answers the corrections recorded by this request and the hash of the new revision.
    """
    where = ",".join(f"{e.segment_id}:{e.word_index}" for e in body.edits[:10])
    detail = f"edit words={len(body.edits)} at={where}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)
    edits = [documents.WordEdit(e.segment_id, e.word_index, e.before, e.after) for e in body.edits]
    return _recorded(
        session, dispatcher, user=user, job=job, request_id=request_id, detail=detail,
        write=lambda: documents.edit_words(session, store, job=job, user=user, edits=edits),
    )  # fmt: skip


def _operation(op: object) -> documents.Operation:
    """The documents layer's operation of a request's item."""
    match op:
        case SpanOp():
            return documents.SpanEdit(op.segment_id, op.word_index, op.word_count, op.before, op.after)
        case SplitOp():
            return documents.SplitEdit(op.segment_id, op.word_index, op.before)
        case MergeOp():
            return documents.MergeEdit(op.segment_id, op.next_segment_id)
        case TimesOp():
            return documents.TimesEdit(op.segment_id, op.word_index, op.before, op.after)
        case WordsSpeakerOp():
            return documents.WordsSpeakerEdit(
                op.segment_id, op.word_index, op.word_count, op.before, op.after
            )
        case WordOp():
            return documents.WordEdit(op.segment_id, op.word_index, op.before, op.after)
        case SegmentSpeakerOp():
            return documents.SegmentSpeakerEdit(op.segment_id, op.before, op.after)
        case RevertOp():
            return documents.RevertEdit(op.edit_id)
    raise TypeError(type(op).__name__)  # pragma: no cover (the schema's union is closed)


@router.post("/{job_id}/corrections", response_model=EditList)
def record_corrections(
    job_id: str,
    body: CorrectionsCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> EditList:
    """The editor's operations, in order, all or none: replace, insert or delete a span of words
    (``span``), give words to another speaker (``words_speaker``: splits the turn), split a turn at a word
    (``split``) or merge it with the next (``merge``), set a word's or a turn's times (``times``), correct a
    word (``word``), give a turn to another speaker (``segment_speaker``), cancel any correction row
    (``revert``; a revert of a revert restores the row: undo and redo).

    Each is checked against what the client saw (409 when the text changed meanwhile, or when a revert would
    leave a later correction without its text) and recorded as correction rows (who, when, before, after),
    replayed on the worker's transcript. Answers the rows recorded (one undo step) and the new revision's
    hash.
    """
    kinds = ",".join(sorted({o.op for o in body.operations}))
    where = ",".join(str(getattr(o, "segment_id", getattr(o, "edit_id", ""))) for o in body.operations[:10])
    detail = f"correct operations={len(body.operations)} kinds={kinds} at={where}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)
    operations = [_operation(o) for o in body.operations]
    return _recorded(
        session, dispatcher, user=user, job=job, request_id=request_id, detail=detail,
        write=lambda: documents.record(session, store, job=job, user=user, operations=operations),
    )  # fmt: skip


def _retranslated(
    dispatcher: Dispatcher,
    settings: SettingsDep,
    *,
    job: Job,
    segment_id: int,
    user: User,
    revision: str | None,
) -> list[int]:
    """The ids of the rows a worker recorded for a new translation of a segment, awaited a bounded time (the
    model never runs here, and no text crosses the broker: ids and a hash go, ids and an error's kind come
    back)."""
    timeout = settings.retranslate_timeout_s
    try:
        answer = dispatcher.retranslate(
            job.id, segment_id, user_id=user.id, revision_sha256=revision, timeout_s=timeout
        )
    except TimeoutError as e:
        raise RetranslateTimeoutError(
            f"No worker translated the segment again within {timeout:.0f} s; if one does later, its "
            "translation is recorded and shows on reload: reload before trying again."
        ) from e
    except Exception as e:
        raise ServiceUnavailableError(
            "The re-translation could not be handed to the workers; try again later."
        ) from e
    return recorded_ids(answer)


@router.post("/{job_id}/segments/{segment_id}/retranslate", response_model=EditList)
def retranslate(
    job_id: str,
    segment_id: int,
    body: RetranslateCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> EditList:
    """Translate a (corrected) segment again, now, by the route that translates its pair (a text model
    reads the corrected text; Whisper's speech translation hears the segment again). Recorded as a
    correction row of the translation (``kind = translation``: before, after, the model in ``speaker``).

    A worker makes and records it (409 when the transcript was corrected meanwhile), the request waits for
    its status (``VERBATIM_RETRANSLATE_TIMEOUT_S``; past it 504: a worker already at it still records the
    row, which shows on reload). No text goes through the broker: the row is read here from the database.
    """
    detail = f"retranslate segment={segment_id}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)

    def write() -> list[TranscriptEdit]:
        revision = _revision_hash(job)  # read first: the document read next is this revision or a later one
        documents.check_translation(json.loads(documents.load_current(store, job)), segment_id, body.before)
        session.commit()  # ends the read transaction: no database connection held while a worker translates
        ids = _retranslated(
            dispatcher, settings, job=job, segment_id=segment_id, user=user, revision=revision
        )
        session.expire(job)  # its revision as the worker left it
        return list(
            session.scalars(
                select(TranscriptEdit).where(TranscriptEdit.id.in_(ids)).order_by(TranscriptEdit.id)
            )
        )

    return _recorded(
        session, dispatcher, user=user, job=job, request_id=request_id, detail=detail, write=write
    )


@router.post("/{job_id}/segment-speakers", response_model=EditList)
def reassign_segments(
    job_id: str,
    body: SegmentSpeakersCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> EditList:
    """Give segments (a misattributed turn) to another speaker; each names the speaker it replaces (409 if
    it changed meanwhile). Recorded in the history like a word correction, replayed on the original."""
    detail = f"reassign segments={len(body.edits)} at={','.join(str(e.segment_id) for e in body.edits[:10])}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)
    edits = [documents.SegmentSpeakerEdit(e.segment_id, e.before, e.after) for e in body.edits]
    return _recorded(
        session, dispatcher, user=user, job=job, request_id=request_id, detail=detail,
        write=lambda: documents.reassign_segments(session, store, job=job, user=user, edits=edits),
    )  # fmt: skip


@router.post("/{job_id}/marks", response_model=EditList)
def mark_spans(
    job_id: str,
    body: SpanMarksCreate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> EditList:
    """Mark spans by hand as personal data (``marked: true``) or leave detected ones in clear (``false``) in
    every pseudonymised artefact: text, JSON, translation, speaker names, the released recording's tones.

    Each names the words it covers as the client saw them (409 if they changed). Recorded in the history
    like a word correction (who, when, the span's text), audited (positions only); the pseudonymised copies
    are made again by the workers.
    """
    where = ",".join(
        f"{'+' if m.marked else '-'}{m.segment_id}:{m.word_index}+{m.word_count}" for m in body.marks[:10]
    )
    detail = f"mark spans={len(body.marks)} at={where}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)
    spans = [marks.SpanMark(m.segment_id, m.word_index, m.word_count, m.before, m.marked) for m in body.marks]
    return _recorded(
        session, dispatcher, user=user, job=job, request_id=request_id, detail=detail,
        write=lambda: marks.mark_spans(session, store, job=job, user=user, marks=spans),
    )  # fmt: skip


@router.put("/{job_id}/speakers", response_model=SpeakersPublic)
def name_speakers(
    job_id: str,
    body: SpeakersUpdate,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> SpeakersPublic:
    """Name speakers (``{"names": {"S1": "Enquêteur"}}``): the page, the history and every export use it."""
    detail = f"rename speakers={len(body.names)}"
    job = visible_job(session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail)
    try:
        rows = documents.rename_speakers(session, store, job=job, user=user, names=body.names)
        current = json.loads(documents.load_current(store, job))
    except Exception as e:
        _audited_write(session, user=user, job=job, request_id=request_id, detail=detail, error=e)
        raise
    pseudonymized.ask_refresh(dispatcher, job)  # its pseudonymised copies follow, made by the workers
    audit.record(
        session, user=user, action="write", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"{detail} recorded={len(rows)}",
    )  # fmt: skip
    speakers = [
        SpeakerPublic(id=str(s["id"]), name=str(s.get("name") or s["id"])) for s in current["speakers"]
    ]
    return SpeakersPublic(speakers=speakers, edits=[EditPublic.model_validate(r) for r in rows])


@router.post("/{job_id}/audio-ticket", response_model=AudioTicket)
def audio_ticket(
    job_id: str, request: Request, user: CurrentUser, session: SessionDep, request_id: RequestIdDep
) -> AudioTicket:
    """A URL of the recording valid for a few minutes, for an ``<audio src>`` (which sends no header).

    The owning unit gets the original recording; a unit the job was shared with gets the released one
    (replaced words covered by a tone), the only recording it may hear.
    """
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail="audio ticket"
    )
    job = access.job
    if access.shared:
        copies.released_audio_artifact(job)  # 404 with the reason when there is none to hear
    ticket, expires_at = media.issue_ticket(session, job=job, user=user)
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id,
        detail=f"audio ticket view={'pseudonymized' if access.shared else 'original'}",
    )  # fmt: skip
    route = "get_released_audio" if access.shared else "get_audio"
    url = request.url_for(route, job_id=job.id).include_query_params(ticket=ticket)
    return AudioTicket(url=f"{url.path}?{url.query}", expires_at=expires_at, pseudonymized=access.shared)


def _listener(
    request: Request,
    session: SessionDep,
    request_id: str,
    credentials: HTTPAuthorizationCredentials | None,
    ticket: str | None,
    job_id: str,
) -> User:
    """Who asks for a recording: the bearer of a token, or of an audio ticket for this job."""
    if ticket is not None and credentials is None:
        try:
            return media.redeem_ticket(session, ticket=ticket, job_id=job_id)
        except NotAuthenticatedError:
            audit.record(
                session, user=None, action="login", outcome="denied", request_id=request_id,
                detail=f"invalid audio ticket; GET {request.url.path.replace(job_id, '{job_id}')}",
            )  # fmt: skip
            raise
    return get_current_user(request, session, request_id, credentials)


def _recording(
    session: SessionDep,
    store: StoreDep,
    *,
    user: User,
    job: Job,
    key: str,
    size: int,
    range_: str | None,
    request_id: str,
    action: str,
    detail: str,
    filename: str | None = None,
) -> Response:
    """A stored recording with HTTP ranges (206), streamed from the store, never held whole; audited."""
    try:
        byte_range = media.parse_range(range_, size)
    except media.RangeNotSatisfiableError:
        audit.record(
            session, user=user, action=action, outcome="error", request_id=request_id, job_id=job.id,
            detail=f"{detail}; not satisfiable",
        )  # fmt: skip
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    with store.open(key) as stream:
        kind = media.media_type(stream.read(16))
    audit.record(
        session, user=user, action=action, outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-store"}
    if filename is not None:
        headers["Content-Disposition"] = content_disposition(filename)
    if byte_range is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(
            media.stream_range(store, key, media.ByteRange(0, size - 1)), media_type=kind, headers=headers
        )
    headers["Content-Range"] = f"bytes {byte_range.start}-{byte_range.end}/{size}"
    headers["Content-Length"] = str(byte_range.length)
    return StreamingResponse(
        media.stream_range(store, key, byte_range),
        status_code=status.HTTP_206_PARTIAL_CONTENT,
        media_type=kind,
        headers=headers,
    )


@router.get(
    "/{job_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}}, 206: {"description": "The range asked for."}},
)
def get_audio(
    job_id: str,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    request_id: RequestIdDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ticket: str | None = None,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The original recording, byte for byte, with HTTP ranges (206); a bearer token or an audio ticket.

    Owning unit only: a unit the job was shared with hears the released recording
    (``/v1/jobs/{id}/audio/pseudonymized``).
    """
    user = _listener(request, session, request_id, credentials, ticket, job_id)
    detail = f"audio range={bounded_range(range_)}"
    job = visible_job(session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail)
    if job.object_key is None or job.audio_size is None:
        raise JobNotFoundError(f"Job {job.id} has no recording.")
    return _recording(
        session, store, user=user, job=job, key=job.object_key, size=job.audio_size, range_=range_,
        request_id=request_id, action="read", detail=detail,
    )  # fmt: skip


@router.get(
    "/{job_id}/audio/pseudonymized",
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}}, 206: {"description": "The range asked for."}},
)
def get_released_audio(
    job_id: str,
    request: Request,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ticket: str | None = None,
    range_: Annotated[str | None, Header(alias="range")] = None,
) -> Response:
    """The released recording: every replaced word covered by a 1 kHz tone (owning unit and shared units),
    with HTTP ranges; a bearer token or an audio ticket.

    It exists for a job submitted with ``pseudonymize=true`` (404 otherwise, with the reason). The original
    recording (``GET /v1/jobs/{id}/audio``) stays with the owning unit.
    """
    user = _listener(request, session, request_id, credentials, ticket, job_id)
    detail = f"audio view=pseudonymized range={bounded_range(range_)}"
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="export", request_id=request_id, detail=detail
    )
    copies.released_audio_artifact(access.job)  # 404 with the reason when there is none
    # Only a first request (no range, or from byte 0) waits for a copy made again after a correction (409
    # meanwhile): a player's later ranges must keep reading the bytes it started with.
    if (range_ is None or range_.strip().startswith("bytes=0-")) and pseudonymized.ask_refresh(
        dispatcher, access.job
    ):
        copies.check_fresh(access.job)
    artifact = copies.released_audio_artifact(access.job)
    return _recording(
        session, store, user=user, job=access.job, key=artifact.object_key, size=artifact.size,
        range_=range_, request_id=request_id, action="export", detail=detail,
        filename=download_name(access.job, "wav", pseudonymized=True),
    )  # fmt: skip


account_router = APIRouter(prefix="/v1", tags=["account"])


@account_router.get("/me", response_model=UserPublic)
def who_am_i(user: CurrentUser, session: SessionDep, request_id: RequestIdDep) -> UserPublic:
    """The signed-in user's name, role and unit (the web pages' sign-in; audited as a login)."""
    audit.record(session, user=user, action="login", outcome="ok", request_id=request_id, detail="sign-in")
    return UserPublic(name=user.name, role=user.role, unit=user.unit)
