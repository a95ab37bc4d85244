"""Request and response bodies of the routes the web pages use: corrections, speaker names, audio tickets."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from verbatim.api.schemas import MAX_SQL_INT

__all__ = [
    "AudioTicket",
    "EditList",
    "EditPublic",
    "SpeakerPublic",
    "SpeakersPublic",
    "SpeakersUpdate",
    "UserPublic",
    "WordEditCreate",
    "WordEditsCreate",
]


class WordEditCreate(BaseModel):
    """One word to correct, named by its segment id and its index among the segment's words."""

    segment_id: int = Field(ge=0, le=MAX_SQL_INT)
    word_index: int = Field(ge=0, le=MAX_SQL_INT)
    before: str = Field(
        max_length=400, description="The word as you saw it (refused with 409 if it changed)."
    )
    after: str = Field(max_length=400, description="The corrected word.")


class WordEditsCreate(BaseModel):
    edits: list[WordEditCreate] = Field(min_length=1, max_length=200)


class SegmentSpeakerCreate(BaseModel):
    segment_id: int = Field(ge=0)
    before: str = Field(max_length=64, description="The speaker id the client saw (409 when it changed).")
    after: str = Field(max_length=64, description="One of the transcript's speaker ids.")


class SegmentSpeakersCreate(BaseModel):
    edits: list[SegmentSpeakerCreate] = Field(min_length=1, max_length=500)


class SpanMarkCreate(BaseModel):
    """A span of a segment's words to mark as personal data in the pseudonymised copies, or leave in clear."""

    segment_id: int = Field(ge=0, le=MAX_SQL_INT)
    word_index: int = Field(ge=0, le=MAX_SQL_INT, description="The span's first word.")
    word_count: int = Field(default=1, ge=1, le=12, description="How many words, from word_index.")
    before: str = Field(
        max_length=2000, description="The span's words as you saw them, joined by spaces (409 if changed)."
    )
    marked: bool = Field(
        description="true: personal data, replaced in every pseudonymised artefact and its text hidden "
        "wherever it appears; false: left in clear here (a word that is no one's name)."
    )


class SpanMarksCreate(BaseModel):
    marks: list[SpanMarkCreate] = Field(min_length=1, max_length=100)


class SpeakersUpdate(BaseModel):
    names: dict[str, str] = Field(
        min_length=1, max_length=50, description='Speaker id → display name, e.g. {"S1": "Enquêteur"}.'
    )


class EditPublic(BaseModel):
    """One correction in a transcript's history."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    user_name: str | None
    kind: str
    segment_id: int | None
    word_index: int | None
    speaker: str | None
    word_count: int | None = None
    before: str
    after: str
    revision_sha256: str | None


class EditList(BaseModel):
    edits: list[EditPublic]
    revision_sha256: str | None = Field(description="Hash of the current revision; null when uncorrected.")


class SpeakerPublic(BaseModel):
    id: str
    name: str


class SpeakersPublic(BaseModel):
    speakers: list[SpeakerPublic]
    edits: list[EditPublic]


class AudioTicket(BaseModel):
    """A URL that streams a job's recording without an Authorization header, until ``expires_at``."""

    url: str
    expires_at: datetime
    pseudonymized: bool = Field(
        default=False,
        description="The released recording (for a unit the job was shared with).",
    )


class UserPublic(BaseModel):
    """Who is signed in."""

    name: str
    role: str
    unit: str
