"""``/v1/voices``: the known voices of the caller's unit: list, enrol from recordings, remove.

A unit sees and uses its own voices only (an admin too: the voices of the admin's own unit); voice prints
never leave the server. Every call is audited by voice id and unit, never a name. An enrolment is checked
and accepted here (202, the voice ``pending``); a worker makes the print (:mod:`verbatim.api.voices`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from verbatim.api.deps import CurrentUser, DispatcherDep, RequestIdDep, SessionDep, SettingsDep, StoreDep
from verbatim.api.messages import message
from verbatim.api.permissions import require
from verbatim.api.schemas import VoiceAccepted, VoiceList, VoicePublic
from verbatim.api.voices import MAX_ENROLMENT_RECORDINGS, MAX_ENROLMENT_SECONDS, Recording, accept_enrolment
from verbatim.jobs.voices import EnrolledVoice, get_voice, list_voices, remove_voice, voice_upload_prefix

__all__ = ["router"]

router = APIRouter(prefix="/v1/voices", tags=["voices"])


def _public(voice: EnrolledVoice) -> VoicePublic:
    return VoicePublic(
        id=voice.id,
        name=voice.name,
        role=voice.role,
        display=voice.display,
        speech_seconds=voice.speech_seconds,
        created_at=voice.created_at,
        status=voice.status,  # type: ignore[arg-type]  # the column's check constraint holds it to three
        error=voice.error,
        message=None if voice.error is None else message(voice.error, "fr"),
    )


def _url(voice_id: str) -> str:
    return f"/v1/voices/{voice_id}"


@router.get("", response_model=VoiceList)
def get_voices(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, request_id: RequestIdDep
) -> VoiceList:
    """The voices your unit enrolled, oldest first: id, name, role, status (pending, ready, failed), seconds
    of speech, date (no print). Only a ready voice names speakers."""
    voices = list_voices(session, settings, unit=user.unit, by=user, request_id=request_id)
    return VoiceList(voices=[_public(v) for v in voices])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=VoiceAccepted,
    responses={
        409: {"description": "Your unit already enrolled a voice shown under this name (`voice_exists`)."},
        413: {"description": "The recordings are larger than the upload limit."},
        415: {"description": "A recording is empty or not readable audio (`audio_unreadable`)."},
        422: {
            "description": "A malformed name or role, no recording or too many, a recording too long "
            "(`audio_limit`)."
        },
        503: {"description": "The enrolment could not be handed to the workers (`service_unavailable`)."},
    },
)
def create_voice(
    name: Annotated[str, Form(max_length=1000, description='The person\'s name ("Dupont").')],
    recordings: Annotated[
        list[UploadFile],
        File(
            description=f"Recordings of the person speaking alone (6 s of speech at least, all together; at "
            f"most {MAX_ENROLMENT_RECORDINGS} recordings of {MAX_ENROLMENT_SECONDS / 60:.0f} minutes each). "
            "Kept encrypted only until a worker made the voice print, then deleted: never stored."
        ),
    ],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    dispatcher: DispatcherDep,
    request_id: RequestIdDep,
    response: Response,
    role: Annotated[
        str | None,
        Form(max_length=1000, description='Shown before the name: "Enquêteur" gives "Enquêteur Dupont".'),
    ] = None,
) -> VoiceAccepted:
    """Enrol the voice of a member of your unit's staff who agreed (multipart: ``name``, ``role``, one or more
    ``recordings``). The name, the number of recordings and that each one decodes are checked at once; the
    answer (202) is the voice, ``pending``, and its ``url``: follow it until it is ``ready`` or ``failed``
    (``voice_enrolment``: too little speech, 6 s at least). A worker embeds the speech with the diarizer's
    model; only the voice print is kept (encrypted), the recordings are deleted whatever the outcome. Your
    unit's transcripts then name a speaker whose voice matches. Investigators, clerks and admins (``voices``
    permission)."""
    require(session, user, "voices", request_id=request_id, action="write", detail="voices add")
    voice = accept_enrolment(
        session, settings, store=store, dispatcher=dispatcher, user=user, name=name, role=role,
        request_id=request_id, recordings=[Recording(r.file, r.filename) for r in recordings],
    )  # fmt: skip
    response.headers["Location"] = _url(voice.id)
    return VoiceAccepted(**_public(voice).model_dump(), url=_url(voice.id))


@router.get(
    "/{voice_id}",
    response_model=VoicePublic,
    responses={404: {"description": "No such voice in your unit (`voice_not_found`)."}},
)
def get_one_voice(
    voice_id: Annotated[str, Path(max_length=64, description="The voice's id, as listed.")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> VoicePublic:
    """One of your unit's voices: its status (``pending`` while a worker makes the print, ``ready``, or
    ``failed`` with ``error`` and its French ``message``); 404 for another unit's, as for none."""
    voice = get_voice(session, settings, unit=user.unit, voice_id=voice_id, by=user, request_id=request_id)
    return _public(voice)


@router.delete("/{voice_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_voice(
    voice_id: Annotated[str, Path(max_length=64, description="The voice's id, as listed.")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    request_id: RequestIdDep,
) -> Response:
    """Remove one of your unit's voices, whatever its status (its print, and recordings still waiting for a
    worker, are deleted; 404 for another unit's, as for none). Investigators, clerks and admins (``voices``
    permission)."""
    require(session, user, "voices", request_id=request_id, action="delete", detail="voices remove")
    removed = remove_voice(
        session, settings, unit=user.unit, voice=voice_id, by=user, request_id=request_id, by_name=False
    )
    session.commit()
    if removed.status == "pending":  # the worker finds it gone; its recordings go now
        store.delete_prefix(voice_upload_prefix(removed.id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
