"""``/v1/jobs``: upload a recording, follow it, fetch its transcript and custody manifest, delete it."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Response, UploadFile, status

from verbatim.api import pseudonymized, services
from verbatim.api.deps import CurrentUser, DispatcherDep, RequestIdDep, SessionDep, SettingsDep, StoreDep
from verbatim.api.revisions import job_filters
from verbatim.api.schemas import (
    CustodyManifest,
    JobCreate,
    JobCreated,
    JobList,
    JobPublic,
    JobShareCreate,
    JobSharePublic,
)
from verbatim.ops import audit

__all__ = ["router"]

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

ExportFormat = Literal["json", "txt", "srt", "vtt", "docx"]
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
        max_bytes=settings.max_upload_bytes, request_id=request_id,
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
    offset: Annotated[int, Query(ge=0)] = 0,
    q: Annotated[str | None, Query(max_length=200, description="Words the transcript contains.")] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[date | None, Query(description="Created on or after this day (UTC).")] = None,
    until: Annotated[date | None, Query(description="Created on or before this day (UTC).")] = None,
) -> JobList:
    """The jobs of your unit (of every unit for an admin), newest first.

    ``q`` searches the transcripts' current text (corrections and speaker names included), ignoring case
    and accents; ``language``, ``since`` and ``until`` filter further.
    """
    filters, note = job_filters(session, store, user=user, q=q, language=language, since=since, until=until)
    jobs = services.list_jobs(
        session, user=user, status=status_, limit=limit, offset=offset, request_id=request_id,
        filters=filters, note=note,
    )  # fmt: skip
    return JobList(jobs=[JobPublic.model_validate(j) for j in jobs], limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobPublic)
def get_job(job_id: str, user: CurrentUser, session: SessionDep, request_id: RequestIdDep) -> JobPublic:
    """A job's state: ``status`` (queued, running, succeeded, failed), ``progress`` (0 to 1), ``error``."""
    job = services.visible_job(session, user=user, job_id=job_id, action="read", request_id=request_id)
    audit.record(session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job.id)
    return JobPublic.model_validate(job)


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
            rendered = pseudonymized.render_pseudonymized_view(store, job, format, settings)
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
        headers={"Content-Disposition": f'attachment; filename="{rendered.filename}"'},
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
    """The chain-of-custody manifest; ``verify=true`` hashes the stored objects again."""
    detail = f"custody verify={verify}"
    job = services.visible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail
    )
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
    detail = f"share unit={body.unit}"
    job = services.visible_job(
        session, user=user, job_id=job_id, action="write", request_id=request_id, detail=detail
    )
    share = pseudonymized.share_job(session, user=user, job=job, unit=body.unit, request_id=request_id)
    return JobSharePublic.model_validate(share)


@router.get("/{job_id}/pseudonymization-map")
def get_pseudonymization_map(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> dict[str, object]:
    """The correspondence table (alias -> originals), decrypted, for entitled roles of the owning unit."""
    detail = "pseudonymization map"
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="read", request_id=request_id, detail=detail
    )
    pseudonymized.check_entitled(session, user=user, access=access, request_id=request_id)
    try:
        table = pseudonymized.pseudonymization_table(store, access.job, settings)
    except Exception as e:
        audit.record(
            session, user=user, action="read", outcome="error", request_id=request_id, job_id=job_id,
            detail=f"{detail}; {type(e).__name__}",
        )  # fmt: skip
        raise
    audit.record(
        session, user=user, action="read", outcome="ok", request_id=request_id, job_id=job_id, detail=detail
    )
    return table


@router.get(
    "/{job_id}/audio/pseudonymized", response_class=Response, responses={200: {"content": {"audio/wav": {}}}}
)
def get_released_audio(
    job_id: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    request_id: RequestIdDep,
) -> Response:
    """The released recording: every replaced word covered by a 1 kHz tone (owning unit and shared units).

    The original recording (``GET /v1/jobs/{id}/audio``) stays with the owning unit.
    """
    detail = "audio view=pseudonymized"
    access = pseudonymized.accessible_job(
        session, user=user, job_id=job_id, action="export", request_id=request_id, detail=detail
    )
    content = pseudonymized.released_audio(store, access.job)
    audit.record(
        session, user=user, action="export", outcome="ok", request_id=request_id, job_id=job_id, detail=detail
    )
    return Response(
        content,
        media_type="audio/wav",
        headers={"Content-Disposition": f'attachment; filename="{job_id}.pseudonymized.wav"'},
    )
