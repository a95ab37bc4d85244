"""Request and response bodies of the routes the web pages use: corrections, speaker names, audio tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from verbatim.api.schemas import MAX_SQL_INT

__all__ = [
    "AudioTicket",
    "CorrectionsCreate",
    "EditList",
    "EditPublic",
    "RetranslateCreate",
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


_SEGMENT = Field(ge=0, le=MAX_SQL_INT)
_INDEX = Field(ge=0, le=MAX_SQL_INT)


class SpanOp(BaseModel):
    """Replace words ``word_index`` .. ``word_index + word_count`` by the words of ``after``: ``word_count``
    0 inserts before ``word_index``; an empty ``after`` deletes."""

    op: Literal["span"]
    segment_id: int = _SEGMENT
    word_index: int = _INDEX
    word_count: int = Field(ge=0, le=10_000)
    before: str = Field(max_length=20_000, description="The words as you saw them, one space apart (409).")
    after: str = Field(max_length=2_000)


class SplitOp(BaseModel):
    """Cut a turn before word ``word_index`` (the words from there make a new turn)."""

    op: Literal["split"]
    segment_id: int = _SEGMENT
    word_index: int = Field(ge=1, le=MAX_SQL_INT)
    before: str = Field(max_length=20_000, description="The turn's text as you saw it (409).")


class MergeOp(BaseModel):
    """Merge a turn with the next one."""

    op: Literal["merge"]
    segment_id: int = _SEGMENT
    next_segment_id: int = _SEGMENT


class TimesOp(BaseModel):
    """Set a word's (``word_index``) or a turn's (``null``) start and end, in seconds."""

    op: Literal["times"]
    segment_id: int = _SEGMENT
    word_index: int | None = Field(default=None, ge=0, le=MAX_SQL_INT)
    before: tuple[float, float] = Field(description="Start and end as you saw them (409).")
    after: tuple[float, float]


class WordsSpeakerOp(BaseModel):
    """Give words ``word_index`` .. ``word_index + word_count`` of a turn to another speaker (splits it)."""

    op: Literal["words_speaker"]
    segment_id: int = _SEGMENT
    word_index: int = _INDEX
    word_count: int = Field(ge=1, le=10_000)
    before: str = Field(max_length=64, description="The turn's speaker id as you saw it (409).")
    after: str = Field(max_length=64, description="One of the transcript's speaker ids.")


class WordOp(WordEditCreate):
    op: Literal["word"]


class SegmentSpeakerOp(SegmentSpeakerCreate):
    op: Literal["segment_speaker"]


class RevertOp(BaseModel):
    """Cancel a correction row by one more row (a revert of a revert restores it: a redo)."""

    op: Literal["revert"]
    edit_id: int = Field(ge=1, le=2**63 - 1)


Correction = Annotated[
    SpanOp | SplitOp | MergeOp | TimesOp | WordsSpeakerOp | WordOp | SegmentSpeakerOp | RevertOp,
    Field(discriminator="op"),
]


class CorrectionsCreate(BaseModel):
    """Operations recorded in order, all or none (one undo step)."""

    operations: list[Correction] = Field(min_length=1, max_length=200)


class RetranslateCreate(BaseModel):
    before: str = Field(max_length=20_000, description="The translation as you saw it (409 when it changed).")


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
    other_segment_id: int | None = None
    reverts: int | None = Field(default=None, description="The row a revert cancels.")
    before: str
    after: str
    revision_sha256: str | None
    reverted: bool = Field(default=False, description="Cancelled by a revert in force.")


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
