"""``/v1/jobs``: upload a recording, follow it, fetch its transcript and custody manifest, delete it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Final, Literal
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Response, UploadFile, status

from verbatim.api import pseudonymized, services
from verbatim.api.deps import CurrentUser, DispatcherDep, RequestIdDep, SessionDep, SettingsDep, StoreDep
from verbatim.api.permissions import require
from verbatim.api.schemas import (
    MAX_SQL_INT,
    CustodyManifest,
    JobCreate,
    JobCreated,
    JobList,
    JobPublic,
    JobShareCreate,
    JobShareList,
    JobSharePublic,
    RevealedCopy,
    RevealRequest,
)
from verbatim.errors import InvalidOptionError
from verbatim.jobs import pseudonymized as copies
from verbatim.jobs.documents import content_disposition
from verbatim.jobs.search import job_filters
from verbatim.ops import audit
from verbatim.ops.accounts import check_unit
from verbatim.ops.db import Job

MAX_LEGACY_UNIT_CHARS: Final = 256
"""Longest malformed unit name looked up among old shares (longer: 422 at once)."""

__all__ = ["router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

ExportFormat = Literal["json", "txt", "srt", "vtt", "docx", "odt", "pdf"]
TranscriptView = Literal["original", "pseudonymized"]


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=JobCreated)
def create_job(
    file: UploadFile,
    form: Annotated[JobCreate, Form()],
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> JobCreated:
    """Upload a recording (multipart ``file``) with its options; the job is queued for the workers."""
    intake = services.Intake(
        stream=file.file,
        filename=file.filename,
        size=file.size,
        content_type=file.content_type,
        options=form.options(),
    )
    job = services.submit_job(
        session, user=user, intake=intake, store=store, dispatcher=dispatcher,
        settings=settings, request_id=request_id,
    )  # fmt: skip
    return JobCreated(id=job.id, status=job.status)  # type: ignore[arg-type]


@router.get("", response_model=JobList)
def list_jobs(
    user: CurrentUser,
    session: SessionDep,
    request_id: RequestIdDep,
    store: StoreDep,
    status_: Annotated[
        Literal["queued", "running", "succeeded", "failed"] | None, Query(alias="status")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
    q: Annotated[str | None, Query(max_length=200, description="Words the transcript contains.")] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[date | None, Query(description="Created on or after this day (UTC).")] = None,
    until: Annotated[date | None, Query(description="Created on or before this day (UTC).")] = None,
    scope: Annotated[
        Literal["unit", "shared"],
        Query(
            description="`unit`: your unit's jobs (every unit's for an admin); `shared`: jobs other units "
            "shared with yours (pseudonymised copies only)."
        ),
    ] = "unit",
) -> JobList:
    """The jobs of your unit (of every unit for an admin), newest first; ``scope=shared``: the jobs other
    units shared with yours.

    ``q`` searches the transcripts' current text (corrections and speaker names included), ignoring case
    and accents; ``language``, ``since`` and ``until`` filter further. A search covers your unit's
    transcripts only (it reads the original text): with ``scope=shared`` it is refused (422).
    """
    if scope == "shared" and q is not None and q.strip():
        raise InvalidOptionError(
            "q: search covers your unit's transcripts only; shared jobs are listed without it"
        )
    filters, note = job_filters(session, store, user=user, q=q, language=language, since=since, until=until)
    jobs = services.list_jobs(
        session, user=user, status=status_, limit=limit, offset=offset, request_id=request_id,
        filters=filters, note=note, scope=scope,
    )  # fmt: skip
    if scope == "shared":
        return JobList(jobs=[shared_job_public(j) for j in jobs], limit=limit, offset=offset)
    return JobList(jobs=[JobPublic.model_validate(j) for j in jobs], limit=limit, offset=offset)


def shared_job_public(job: Job) -> JobPublic:
    """A job as a unit it was shared with sees it: no file name (it often names a party)."""
    public = JobPublic.model_validate(job)
    return public.model_copy(update={"filename": None, "access": "shared"})


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, user: CurrentUser, session: SessionDep, request_id: RequestIdDep) -> JobPublic:
    """A job's state: ``status`` (queued, running, succeeded, failed), ``progress`` (0 to 1), ``error``.

    A unit the job was shared with sees it too (``access`` is ``shared``), without its file name.
    """
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id
    )
    job = access.job
    audit.record(session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id)
    return shared_job_public(job) if access.shared else JobPublic.model_validate(job)


@router.get(
    "/{job_id}/transcript",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/plain": {}, "text/vtt": {}}}},
)
def get_transcript(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    request_id: RequestIdDep,
    dispatcher: DispatcherDep,
    settings: SettingsDep,
    format: ExportFormat = "json",
    view: TranscriptView = "original",
    subtitles: Literal["original", "translation"] = "original",
) -> Response:
    """The transcript in one export format; 409 while the job has not succeeded.

    ``view=pseudonymized`` gives the pseudonymised copy (the only view of a unit the job was shared with).
    ``subtitles=translation``: SRT/VTT of the translation (a job submitted with ``translate_to``).
    """
    detail = f"format={format} view={view}"
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="export", request_id=request_id, detail=detail
    )
    job = access.job
    if view == "original":
        pseudonymized.refuse_original(
            session, user=user, access=access, action="export", request_id=request_id, detail=detail
        )
    try:
        if view == "pseudonymized":
            pseudonymized.ask_refresh(dispatcher, job)  # stale: a copy of the current revision made now
            rendered = copies.render_pseudonymized_view(store, job, format, settings)
        else:
            rendered = services.render_transcript(store, job, format, subtitles=subtitles)
    except Exception as e:
        audit.record(
            session, user=user, action="export", outcome="error", request_id=request_id, job_id=job.id,
            detail=f"{detail}; {type(e).__name__}",
        )  # fmt: skip
        raise
    audit.record(
        session, user=user, action="export", outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": content_disposition(rendered.filename)},
    )


@router.get("/{job_id}/custody", response_model=CustodyManifest, response_model_by_alias=True)
def get_custody(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    request_id: RequestIdDep,
    verify: bool = False,
) -> CustodyManifest:
    """The chain-of-custody manifest; ``verify=true`` hashes the stored objects again.

    Units the job was shared with read it too: it holds hashes, model identities and times, no content.
    """
    detail = f"custody verify={verify}"
    job = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail
    ).job
    manifest = services.custody_manifest(store, job, verify=verify)
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )
    return manifest


@router.delete("/{job_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_job(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    request_id: RequestIdDep,
) -> Response:
    """Delete a job, its recording and its artefacts; its audit trail is kept."""
    require(session, user, "delete", request_id=request_id, action="delete", job_id=job_id)
    job = services.visible_job(session, user=user, job_id=job_id, action="delete", request_id=request_id)
    removed = services.delete_job(session, store=store, job=job)
    audit.record(
        session, user=user, action="delete", outcome="ok", request_id=request_id, job_id=job_id,
        detail=f"objects={removed}",
    )  # fmt: skip
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{job_id}/shares", status_code=status.HTTP_201_CREATED, response_model=JobSharePublic)
def share_job(
    job_id: str,
    body: JobShareCreate,
    user: CurrentUser,
    session: SessionDep,
    request_id: RequestIdDep,
) -> JobSharePublic:
    """Share the job read-only with another unit: its readers get the pseudonymised copies only."""
    detail = "share"  # the unit is recorded once validated (pseudonymized.share_job)
    require(session, user, "share", request_id=request_id, action="write", job_id=job_id, detail=detail)
    job = services.visible_job(
        session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail
    )
    share = pseudonymized.share_job(session, user=user, job=job, unit=body.unit, request_id=request_id)
    return JobSharePublic.model_validate(share)


@router.get("/{job_id}/shares", response_model=JobShareList)
def list_job_shares(
    job_id: str, user: CurrentUser, session: SessionDep, request_id: RequestIdDep
) -> JobShareList:
    """The units the job is shared with (owning unit and admins)."""
    detail = "shares"
    job = services.visible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail
    )
    shares = [JobSharePublic.model_validate(s) for s in pseudonymized.list_shares(session, job)]
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id, detail=detail
    )
    return JobShareList(shares=shares)


@router.delete(
    "/{job_id}/shares/{unit:path}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response
)
def revoke_job_share(
    job_id: str, unit: str, user: CurrentUser, session: SessionDep, request_id: RequestIdDep
) -> Response:
    """Stop sharing the job with a unit: its readers lose access at once (owning unit and admins).

    A share made before unit names were checked may hold any name, ``/`` included (sent as ``%2F``): such a
    name is revoked when the job has a share with exactly that name; otherwise a malformed name is 422.
    """
    try:
        unit = check_unit(unit)
        malformed: InvalidOptionError | None = None
    except InvalidOptionError as e:
        if len(unit) > MAX_LEGACY_UNIT_CHARS:
            raise
        malformed = e
    # a malformed name is said percent-encoded and bounded in the audit log
    label = unit if malformed is None else quote(unit, safe="")[:96]
    detail = f"unshare unit={label}"
    require(session, user, "share", request_id=request_id, action="write", job_id=job_id, detail=detail)
    job = services.visible_job(
        session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail
    )
    if malformed is not None and not pseudonymized.is_shared(session, job, unit):
        raise malformed  # 422, nothing audited: no such name can be shared today
    pseudonymized.revoke_share(session, user=user, job=job, unit=unit, request_id=request_id, label=label)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/{job_id}/pseudonymization-map")
def get_pseudonymization_map(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> dict[str, object]:
    """The correspondence table (alias -> originals), decrypted, for entitled roles of the owning unit; 409
    while it is made again after a correction (try again in a moment)."""
    detail = "pseudonymization map"
    job = pseudonymized.entitled_job(session, user=user, job_id=job_id, request_id=request_id, detail=detail)
    with pseudonymized.errors_audited(
        session, user=user, request_id=request_id, job_id=job_id, detail=detail
    ):
        pseudonymized.ask_refresh(dispatcher, job)
        table = copies.pseudonymization_table(store, job, settings)
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job_id, detail=detail
    )
    return table


@router.post("/{job_id}/pseudonymized/reveal", response_model=RevealedCopy)
def reveal_pseudonymized(
    job_id: str,
    body: RevealRequest,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
) -> RevealedCopy:
    """Re-identify a pseudonymised copy of this job (a plain text, or the transcript JSON as a string) with
    the job's correspondence table: for the roles that read the table (``read_map``) of the owning unit only,
    403 for others; audited with the counts, never the text. 422 for a copy the table does not match."""
    detail = "pseudonymization reveal"
    job = pseudonymized.entitled_job(session, user=user, job_id=job_id, request_id=request_id, detail=detail)
    with pseudonymized.errors_audited(
        session, user=user, request_id=request_id, job_id=job_id, detail=detail
    ):
        pseudonymized.ask_refresh(dispatcher, job)
        revealed = copies.reveal_copy(store, job, settings, body.content)
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job_id,
        detail=f"{detail} restored={revealed.restored} missing={revealed.missing}",
    )  # fmt: skip
    return RevealedCopy(content=revealed.content, restored=revealed.restored, missing=revealed.missing)
