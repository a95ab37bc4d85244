"""Spans marked or unmarked by hand for the pseudonymised copies, from the transcript page.

A clerk who sees a name the recognizers missed marks it (it is replaced in every pseudonymised artefact:
text, JSON, translation, speaker names, the tone over the released recording, and its text hidden wherever
it appears); one who sees a word taken for a name that is no one's ("Pierre" the stone) unmarks it (left in
clear in that segment and its translation). Each is a correction row (:class:`~verbatim.ops.db.TranscriptEdit`
of kind ``mark`` or ``unmark``: who, when, the span's words, its text as ``before`` and ``after``), replayed
into the revision document (:data:`~verbatim.jobs.documents.MARKS_KEY`), so that the revision's hash changes
and the workers make the pseudonymised copies again, exactly as after a word correction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.orm import Session

from verbatim.anonymize.engine import HandMark
from verbatim.errors import InvalidOptionError
from verbatim.jobs.documents import (
    MARKS_KEY,
    EditConflictError,
    _Replay,
    _segments_by_id,
    commit_rows,
    load_current,
    lock_job_row,
)
from verbatim.ops.db import Job, TranscriptEdit, User, utcnow
from verbatim.ops.storage import ObjectStore

__all__ = ["MAX_MARK_WORDS", "SpanMark", "mark_spans", "marks_of"]

MAX_MARK_WORDS: Final = 12
"""The longest span marked at once (a name with its title and particles)."""


@dataclass(frozen=True)
class SpanMark:
    """A span to mark or unmark, as a client asks for it: ``before`` is the span's text as the client saw it
    (its words joined by spaces), to refuse a mark over words someone corrected meanwhile."""

    segment_id: int
    word_index: int
    word_count: int
    before: str
    marked: bool


def _span_text(doc: Mapping[str, Any], mark: SpanMark) -> str:
    segment = _segments_by_id(doc).get(mark.segment_id)
    words = segment.get("words", []) if segment is not None else []
    if not 1 <= mark.word_count <= MAX_MARK_WORDS:
        raise InvalidOptionError(f"word_count: from 1 to {MAX_MARK_WORDS} words")
    if segment is None or not 0 <= mark.word_index <= len(words) - mark.word_count:
        raise InvalidOptionError(f"no words {mark.word_index}+{mark.word_count} in segment {mark.segment_id}")
    chosen = words[mark.word_index : mark.word_index + mark.word_count]
    return " ".join(str(w["text"]).strip() for w in chosen)


def mark_spans(
    session: Session, store: ObjectStore, *, job: Job, user: User, marks: Sequence[SpanMark]
) -> list[TranscriptEdit]:
    """Record marks (a row each), store the revision that lists them; commit.

    A mark that changes nothing (the same span already marked the same way, last) is skipped.

    Raises:
        InvalidOptionError: no such words, too many words.
        EditConflictError: the span's current text is not ``before``.
        JobNotReadyError: the job has no transcript.
    """
    if not marks:
        raise InvalidOptionError("marks: give at least one span")
    lock_job_row(session, job)
    current = json.loads(load_current(store, job))
    replay = _Replay(current)
    rows: list[TranscriptEdit] = []
    for mark in marks:
        now = _span_text(current, mark)
        if now != " ".join(mark.before.split()):
            raise EditConflictError(
                f"words {mark.word_index}+{mark.word_count} of segment {mark.segment_id} were changed "
                "meanwhile; reload the page"
            )
        state = _state(current, mark)
        if state is not None and state == mark.marked:
            continue
        row = TranscriptEdit(
            job_id=job.id, at=utcnow(), user_id=user.id, user_name=user.name,
            kind="mark" if mark.marked else "unmark", segment_id=mark.segment_id, word_index=mark.word_index,
            word_count=mark.word_count, before=now, after=now,
        )  # fmt: skip
        replay.apply(row)
        rows.append(row)
    return commit_rows(session, store, job, rows)


def _state(doc: Mapping[str, Any], mark: SpanMark) -> bool | None:
    """Whether this very span is marked (True), unmarked (False) or neither (None) in ``doc``."""
    state = None
    for m in marks_of(doc):
        if (m.segment_id, m.word_index, m.word_count) == (mark.segment_id, mark.word_index, mark.word_count):
            state = m.marked
    return state


def marks_of(doc: Mapping[str, Any] | bytes | str) -> list[HandMark]:
    """The hand marks of a revision document (its JSON or parsed), in the order they were made."""
    parsed = json.loads(doc) if isinstance(doc, bytes | str) else doc
    out = []
    for entry in parsed.get(MARKS_KEY, []) or []:
        where = int(entry["segment_id"]), int(entry["word_index"]), int(entry["word_count"])
        out.append(HandMark(*where, marked=bool(entry["marked"])))
    return out
