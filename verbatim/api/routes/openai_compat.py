"""OpenAI-compatible ``/v1/audio/transcriptions`` and ``/v1/audio/translations``.

They answer synchronously, as OpenAI's do: the upload becomes an ordinary job (same intake, workers, audit
and custody as ``/v1/jobs``), and the request waits for it by polling the database with ``asyncio.sleep``,
so a long wait holds no thread. The form values that name a field of the typed request
(:class:`~verbatim.jobs.request.TranscriptionRequest`: ``language``, and ``prompt`` once the request has it)
become the job's options; ``model`` is accepted and ignored (the server's ASR model answers), and
``temperature`` and ``timestamp_granularities[]`` likewise.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from verbatim.api import services
from verbatim.api.deps import CurrentUser, RequestIdDep, StateDep
from verbatim.api.schemas import (
    OpenAISegment,
    OpenAITranscription,
    OpenAIVerboseTranscription,
    OpenAIWord,
)
from verbatim.jobs.request import TranscriptionRequest
from verbatim.ops import audit
from verbatim.ops.db import Job, User
from verbatim.pipeline.export import MEDIA_TYPES, render
from verbatim.pipeline.types import Transcript

__all__ = ["router"]

router = APIRouter(prefix="/v1/audio", tags=["openai-compatible"])

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]


def _answer(
    transcript: Transcript, fmt: ResponseFormat, task: Literal["transcribe", "translate"]
) -> Response:
    if fmt == "json":
        return JSONResponse(OpenAITranscription(text=transcript.text).model_dump())
    if fmt == "text":
        return PlainTextResponse(transcript.text + "\n")
    if fmt in ("srt", "vtt"):
        return Response(render(transcript, fmt), media_type=MEDIA_TYPES[fmt])
    verbose = OpenAIVerboseTranscription(
        task=task,
        language=transcript.language,
        duration=transcript.duration,
        text=transcript.text,
        segments=[
            OpenAISegment(
                id=s.id,
                start=s.start,
                end=s.end,
                text=s.text,
                avg_logprob=s.avg_logprob or 0.0,
                compression_ratio=s.compression_ratio or 0.0,
                no_speech_prob=s.no_speech_prob or 0.0,
                speaker=s.speaker,
            )
            for s in transcript.segments
        ],
        words=[OpenAIWord(word=w.text, start=w.start, end=w.end) for w in transcript.words],
    )
    return JSONResponse(verbose.model_dump())


async def _transcribe(
    state: StateDep,
    user: User,
    request_id: str,
    file: UploadFile,
    options: dict[str, object],
    fmt: ResponseFormat,
) -> Response:
    task: Literal["transcribe", "translate"] = (
        "translate" if options.get("task") == "translate" else "transcribe"
    )
    intake = services.Intake(
        stream=file.file,
        filename=file.filename,
        size=file.size,
        content_type=file.content_type,
        options=options,
    )

    def submit() -> Job:
        with state.sessions() as session:
            return services.submit_job(
                session, user=user, intake=intake, store=state.store, dispatcher=state.dispatcher,
                settings=state.settings, request_id=request_id,
            )  # fmt: skip

    job = await run_in_threadpool(submit)
    job = await services.wait_for_job(
        state.sessions, job.id, timeout_s=state.wait_timeout_s, interval_s=state.poll_interval_s
    )

    def fetch() -> Transcript:
        with state.sessions() as session:
            outcome = "ok"
            try:
                return services.transcript_of(state.store, job)
            except Exception:
                outcome = "error"
                raise
            finally:
                audit.record(
                    session, user=user, action="export", outcome=outcome, request_id=request_id,
                    job_id=job.id, detail=f"openai format={fmt}",
                )  # fmt: skip

    transcript = await run_in_threadpool(fetch)
    return _answer(transcript, fmt, task)


def _options(task: str, **given: object) -> dict[str, object]:
    """The job's request options: OpenAI's form values that name a field of the typed request (``language``,
    and any field added to it later, such as ``prompt``), the others ignored."""
    # OpenAI's API does not diarise; skipping it keeps these synchronous answers fast.
    options: dict[str, object] = {"task": task, "diarize": False}
    options.update(
        {k: v for k, v in given.items() if k in TranscriptionRequest.model_fields and v not in (None, "")}
    )
    return options


@router.post("/transcriptions")
async def transcriptions(
    state: StateDep,
    user: CurrentUser,
    request_id: RequestIdDep,
    file: UploadFile,
    model: Annotated[str, Form()] = "whisper-1",
    language: Annotated[str | None, Form()] = None,
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float | None, Form()] = None,
) -> Response:
    """Transcribe a recording and answer as OpenAI's API does (json, text, srt, vtt, verbose_json)."""
    return await _transcribe(
        state,
        user,
        request_id,
        file,
        _options("transcribe", language=language, prompt=prompt),
        response_format,
    )


@router.post("/translations")
async def translations(
    state: StateDep,
    user: CurrentUser,
    request_id: RequestIdDep,
    file: UploadFile,
    model: Annotated[str, Form()] = "whisper-1",
    prompt: Annotated[str | None, Form()] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float | None, Form()] = None,
) -> Response:
    """Translate the speech of a recording into English text (Whisper's translate task)."""
    return await _transcribe(
        state, user, request_id, file, _options("translate", prompt=prompt), response_format
    )
