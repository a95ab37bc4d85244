"""``/v1/voices``: the known voices of the caller's unit: list, enrol from recordings, remove.

A unit sees and uses its own voices only (an admin too: the voices of the admin's own unit); voice prints
never leave the server. Every call is audited by voice id and unit, never a name.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from verbatim.api.deps import CurrentUser, RequestIdDep, SessionDep, SettingsDep
from verbatim.api.permissions import require
from verbatim.api.schemas import VoiceList, VoicePublic
from verbatim.api.voices import MAX_ENROLMENT_RECORDINGS, MAX_ENROLMENT_SECONDS, Recording, enrol_uploads
from verbatim.jobs.voices import EnrolledVoice, list_voices, remove_voice

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
    )


@router.get("", response_model=VoiceList)
def get_voices(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, request_id: RequestIdDep
) -> VoiceList:
    """The voices your unit enrolled, oldest first: id, name, role, seconds of speech, date (no print)."""
    voices = list_voices(session, settings, unit=user.unit, by=user, request_id=request_id)
    return VoiceList(voices=[_public(v) for v in voices])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=VoicePublic,
    responses={
        409: {"description": "Your unit already enrolled a voice shown under this name (`voice_exists`)."},
        413: {"description": "The recordings are larger than the upload limit."},
        415: {"description": "A recording is empty or not readable audio (`audio_unreadable`)."},
        422: {
            "description": "A malformed name or role, no recording or too many, a recording too long "
            "(`audio_limit`), or too little speech in all (`voice_enrolment`)."
        },
    },
)
def create_voice(
    name: Annotated[str, Form(max_length=1000, description='The person\'s name ("Dupont").')],
    recordings: Annotated[
        list[UploadFile],
        File(
            description=f"Recordings of the person speaking alone (6 s of speech at least, all together; at "
            f"most {MAX_ENROLMENT_RECORDINGS} recordings of {MAX_ENROLMENT_SECONDS / 60:.0f} minutes each). "
            "Read to make the voice print, never stored."
        ),
    ],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
    role: Annotated[
        str | None,
        Form(max_length=1000, description='Shown before the name: "Enquêteur" gives "Enquêteur Dupont".'),
    ] = None,
) -> VoicePublic:
    """Enrol the voice of a member of your unit's staff who agreed (multipart: ``name``, ``role``, one or more
    ``recordings``): the speech is embedded with the diarizer's model, only the voice print is kept
    (encrypted), never the audio. Your unit's transcripts then name a speaker whose voice matches.
    Investigators, clerks and admins (``voices`` permission)."""
    require(session, user, "voices", request_id=request_id, action="write", detail="voices add")
    voice = enrol_uploads(
        session, settings, user=user, name=name, role=role, request_id=request_id,
        recordings=[Recording(r.file, r.filename) for r in recordings],
    )  # fmt: skip
    return _public(voice)


@router.delete("/{voice_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_voice(
    voice_id: Annotated[str, Path(max_length=64, description="The voice's id, as listed.")],
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> Response:
    """Remove one of your unit's voices (its print is deleted; 404 for another unit's, as for none).
    Investigators, clerks and admins (``voices`` permission)."""
    require(session, user, "voices", request_id=request_id, action="delete", detail="voices remove")
    remove_voice(
        session, settings, unit=user.unit, voice=voice_id, by=user, request_id=request_id, by_name=False
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
