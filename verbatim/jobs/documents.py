"""A job's documents: its original transcript, its corrections replayed on it, its current revision.

The worker's transcript JSON is evidence and is never rewritten. Each correction is a row
(:class:`~verbatim.ops.db.TranscriptEdit`: who, when, before, after); the *current revision* is the original
document with every correction applied in order, stored as one more object (artifact kind
``transcript_revision``) so that the custody manifest lists the original's hash and the revision's side by
side, and each edit row keeps the hash of the revision it produced. Exports render the current revision.

Nothing here logs or audits transcript text: audit details name segment and word positions only.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from verbatim.anonymize.layout import refuse_invisible
from verbatim.errors import InvalidOptionError, JobNotReadyError
from verbatim.jobs.layout import TRANSCRIPT_KINDS, ArtifactKind, artifact, content_type, key_of
from verbatim.ops.db import Artifact, Job, TranscriptEdit, TranscriptSearch, User, utcnow
from verbatim.ops.db.sealed import replace_trigrams
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore
from verbatim.pipeline.export import document_bytes

__all__ = [
    "MARKS_KEY",
    "MAX_NAME_CHARS",
    "MAX_WORD_CHARS",
    "REVISION_KIND",
    "EditConflictError",
    "MergeEdit",
    "Operation",
    "Rendered",
    "RevertBlockedError",
    "RevertEdit",
    "SegmentSpeakerEdit",
    "SpanEdit",
    "SplitEdit",
    "TimesEdit",
    "TranslationEdit",
    "WordEdit",
    "WordsSpeakerEdit",
    "active_edits",
    "apply_edits",
    "cancelled_edits",
    "check_translation",
    "commit_rows",
    "content_disposition",
    "download_name",
    "edit_words",
    "fold",
    "index_document",
    "load_current",
    "load_original",
    "lock_job_row",
    "reassign_segments",
    "record",
    "record_translation",
    "rename_speakers",
]

MARKS_KEY: Final = "pseudonymization_marks"
"""Key of the revision document listing the spans marked or unmarked by hand, in order."""
REVISION_KIND: Final = ArtifactKind.REVISION
"""Artifact kind of the current corrected revision (the original keeps its own kind, ``transcript``)."""
MAX_WORD_CHARS: Final = 200
MAX_NAME_CHARS: Final = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LEADING_SPACE = re.compile(r"^\s*")
_ATTACHING = ("'", "’", "-")
"""A corrected word starting with one of these continues the previous word (French elision, hyphenation)."""


_UNSAFE_NAME = re.compile(r"[^\w.-]+")
_ASCII_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")
PSEUDONYMIZED_SUFFIX: Final = "_pseudonymise"


def download_name(job: Job, fmt: str, *, pseudonymized: bool = False) -> str:
    """The file name of a download: ``<recording stem>_<date>[_pseudonymise].<ext>``, never the job's id.

    The date is the hearing's when the request gives one, else the day the job was submitted. A pseudonymised
    copy is named by its case number (or ``transcription``) instead of the recording: an uploader's file name
    may name a person. Characters other than letters, digits, ``.``, ``-`` and ``_`` become ``_``.
    """
    from verbatim.jobs.request import TranscriptionRequest

    try:
        request = TranscriptionRequest.from_stored(job.options)
    except InvalidOptionError:
        request = TranscriptionRequest()
    date = (request.hearing_date or "")[:10] or job.created_at.date().isoformat()
    if pseudonymized:
        stem = request.case_number or "transcription"
    else:
        stem = (job.filename or "transcription").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
        stem = stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem
    stem = _UNSAFE_NAME.sub("_", unicodedata.normalize("NFC", stem)).strip("._")[:80] or "transcription"
    return f"{stem}_{date}{PSEUDONYMIZED_SUFFIX if pseudonymized else ''}.{fmt}"


def content_disposition(filename: str) -> str:
    """``Content-Disposition`` of an attachment: an ASCII ``filename`` (accents dropped) for old clients and
    the UTF-8 ``filename*`` (RFC 6266) for the others."""
    from urllib.parse import quote

    plain = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode("ascii")
    plain = _ASCII_UNSAFE.sub("_", plain).strip("._") or "transcription"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


@dataclass(frozen=True)
class Rendered:
    """A document rendered for download."""

    content: bytes
    media_type: str
    filename: str


class EditConflictError(JobNotReadyError):
    """The text the client saw is no longer the current one (someone else corrected it): reload (409)."""


class RevertBlockedError(EditConflictError):
    """A correction a later one stands on (a split a merge needs, a word corrected again): revert the later
    one first (409)."""


@dataclass(frozen=True)
class WordEdit:
    """A correction of one word, as a client asks for it."""

    segment_id: int
    word_index: int
    before: str
    after: str


@dataclass(frozen=True)
class SegmentSpeakerEdit:
    """A segment given to another speaker (a misattributed turn), as a client asks for it: ``before`` is the
    speaker id the client saw, ``after`` one of the transcript's speaker ids."""

    segment_id: int
    before: str
    after: str


def _clean(text: str, *, what: str, limit: int) -> str:
    # Zero-width and text-direction characters are refused: they hide a name from detection or make the
    # record read differently from what it holds.
    text = " ".join(refuse_invisible(text, what=what).split())
    if not text:
        raise InvalidOptionError(f"{what}: give a non-empty text")
    if len(text) > limit or _CONTROL.search(text):
        raise InvalidOptionError(f"{what}: at most {limit} printable characters")
    return text


def _segments_by_id(doc: Mapping[str, Any]) -> dict[int, dict[str, Any]]:
    return {int(s["id"]): s for s in doc.get("segments", [])}


def _speaker_ids(doc: Mapping[str, Any]) -> set[str]:
    ids = {str(s["id"]) for s in doc.get("speakers", [])}
    for segment in doc.get("segments", []):
        if segment.get("speaker"):
            ids.add(str(segment["speaker"]))
    return ids


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


def _word_spans(text: str, words: Sequence[str]) -> list[tuple[int, int]] | None:
    """Where each word lies in its segment's text (in order), or ``None`` when they do not line up.

    Replacing a word at its place keeps the segment's own spacing and punctuation (and scripts written
    without spaces) instead of re-joining the words.
    """
    spans: list[tuple[int, int]] = []
    position = 0
    for word in words:
        token = word.strip()
        found = text.find(token, position) if token else -1
        if found < 0:
            return None
        spans.append((found, found + len(token)))
        position = found + len(token)
    return spans


def _joined(words: Sequence[Mapping[str, Any]]) -> str:
    """The text of words, each joined to the previous one as it was spoken (``join``)."""
    return "".join(
        (str(w.get("join", " ")) if n else "") + str(w["text"]).strip() for n, w in enumerate(words)
    ).strip()


def _words_text(words: Sequence[Mapping[str, Any]]) -> str:
    """Words as a client shows and names them: their texts, one space apart."""
    return " ".join(str(w["text"]).strip() for w in words)


def _fmt_times(start: float, end: float) -> str:
    return f"{start:.3f} {end:.3f}"


def _parse_times(value: str) -> tuple[float, float]:
    start, end = value.split()
    return float(start), float(end)


class _Replay:
    """The document being corrected, and how each kind of correction row is applied to it.

    ``strict``: a row whose ``before`` is not what the document holds at its place raises
    :class:`EditConflictError` (used to check that a revert leaves every later correction applicable);
    otherwise a structural impossibility only (no such segment or word) raises.
    """

    def __init__(self, doc: dict[str, Any], *, strict: bool = False) -> None:
        self.doc = doc
        self.strict = strict

    # --- lookups ---

    def segments(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.doc.setdefault("segments", [])
        return found

    def index_of(self, segment_id: int | None) -> int:
        for n, segment in enumerate(self.segments()):
            if int(segment["id"]) == segment_id:
                return n
        raise InvalidOptionError(f"no segment {segment_id} in this transcript")

    def segment(self, segment_id: int | None) -> dict[str, Any]:
        return self.segments()[self.index_of(segment_id)]

    def check(self, seen: str, now: str, where: str) -> None:
        if self.strict and not _same(seen, now):
            raise EditConflictError(f"{where} no longer holds what this correction changed")

    # --- the kinds ---

    def apply(self, edit: TranscriptEdit) -> None:
        handler = getattr(self, f"_{edit.kind}", None)
        if handler is None:
            raise InvalidOptionError(f"unknown correction kind {edit.kind!r}")
        handler(edit)

    def _word(self, edit: TranscriptEdit) -> None:
        segment = self.segment(edit.segment_id)
        words = segment.get("words", [])
        index = edit.word_index if edit.word_index is not None else -1
        if not 0 <= index < len(words):
            raise InvalidOptionError(f"no word {edit.word_index} in segment {edit.segment_id}")
        word = words[index]
        self.check(edit.before, str(word["text"]), f"word {index} of segment {edit.segment_id}")
        spans = _word_spans(str(segment["text"]), [str(w["text"]) for w in words])
        lead = _LEADING_SPACE.match(str(word["text"]))
        attached_before = str(word["text"]).strip()[:1] in _ATTACHING
        word["text"] = (lead.group() if lead else "") + edit.after
        join: str | None = None  # otherwise the word keeps how it joined, and the text its own spacing
        if edit.after[:1] in _ATTACHING:
            # "'accord", "-Unis": the corrected word continues the previous one, as Whisper would have
            # marked it
            join = ""
        elif attached_before:
            join = " "  # "'accord" corrected into "accord": a word of its own now
        if join is not None:
            word["join"] = join
        if spans is not None:
            start, end = spans[index]
            text = str(segment["text"])
            head = text[:start]
            if join is not None and index > 0 and head.strip():
                head = head.rstrip() + join
            segment["text"] = head + word["text"].strip() + text[end:]
        else:
            segment["text"] = _joined(words)
        _follow_translation(segment)

    def _span(self, edit: TranscriptEdit) -> None:
        """Words ``word_index`` to ``word_index + word_count`` (none: an insertion there) become the words
        of ``after`` (none: a deletion). New words share the span's time (an insertion: the gap between its
        neighbours), evenly; a turn left without words is removed."""
        at = self.index_of(edit.segment_id)
        segment = self.segments()[at]
        words: list[dict[str, Any]] = segment.setdefault("words", [])
        start = edit.word_index if edit.word_index is not None else -1
        count = edit.word_count or 0
        if not 0 <= start <= len(words) or start + count > len(words):
            raise InvalidOptionError(f"no words {start}..{start + count} in segment {edit.segment_id}")
        old = words[start : start + count]
        self.check(
            edit.before, _words_text(old), f"words {start}..{start + count} of segment {edit.segment_id}"
        )
        if old:
            lo, hi = float(old[0]["start"]), float(old[-1]["end"])
        else:
            lo = float(words[start - 1]["end"]) if start > 0 else float(segment["start"])
            hi = float(words[start]["start"]) if start < len(words) else float(segment["end"])
            hi = max(lo, hi)
        tokens = edit.after.split()
        step = (hi - lo) / len(tokens) if tokens else 0.0
        new = [
            {
                "start": round(lo + n * step, 3),
                "end": round(lo + (n + 1) * step, 3) if n + 1 < len(tokens) else round(hi, 3),
                "text": token,
                "probability": 1.0,
                "join": "" if (token[:1] in _ATTACHING and (n or start)) else " ",
            }
            for n, token in enumerate(tokens)
        ]
        words[start : start + count] = new
        if not words:
            del self.segments()[at]
            return
        segment["text"] = _joined(words)
        _follow_translation(segment)

    def _split(self, edit: TranscriptEdit) -> None:
        """The turn is cut before word ``word_index``: the words from there make a new turn,
        ``other_segment_id``, right after it (same speaker and language)."""
        at = self.index_of(edit.segment_id)
        segment = self.segments()[at]
        words: list[dict[str, Any]] = segment.get("words", [])
        cut = edit.word_index if edit.word_index is not None else -1
        if not 0 < cut < len(words):
            raise InvalidOptionError(f"segment {edit.segment_id} cannot be split at word {edit.word_index}")
        self.check(edit.before, str(segment["text"]), f"segment {edit.segment_id}")
        if edit.other_segment_id is None or edit.other_segment_id in _segments_by_id(self.doc):
            raise InvalidOptionError(f"segment {edit.other_segment_id} already exists")
        second: dict[str, Any] = json.loads(json.dumps(segment))
        second["id"] = edit.other_segment_id
        second["words"] = words[cut:]
        second["start"] = min(float(words[cut]["start"]), float(segment["end"]))
        segment["words"] = words[:cut]
        segment["end"] = max(float(words[cut - 1]["end"]), float(segment["start"]))
        for part in (segment, second):
            part["text"] = _joined(part["words"])
            translation = part.get("translation")
            if isinstance(translation, dict) and translation.get("model") != ORIGINAL_MODEL:
                # the translation was made for the whole turn: kept on the first part, said to be outdated
                translation["outdated"] = True
                if part is second:
                    translation["text"] = ""
            _follow_translation(part)
        self.segments().insert(at + 1, second)

    def _merge(self, edit: TranscriptEdit) -> None:
        """The turn and the next one, ``other_segment_id``, become one (the first's speaker)."""
        at = self.index_of(edit.segment_id)
        segments = self.segments()
        if at + 1 >= len(segments) or int(segments[at + 1]["id"]) != edit.other_segment_id:
            raise InvalidOptionError(
                f"segment {edit.other_segment_id} does not follow segment {edit.segment_id}"
            )
        first, second = segments[at], segments[at + 1]
        self.check(
            edit.before,
            _merge_label(first, second),
            f"segments {edit.segment_id} and {edit.other_segment_id}",
        )
        words = second.get("words", [])
        for word in words:
            if "speaker" in word:
                word["speaker"] = first.get("speaker")  # the first turn's speaker now
        first["words"] = [*first.get("words", []), *words]
        first["end"] = max(float(first["end"]), float(second["end"]))
        first["text"] = (
            _joined(first["words"]) if first["words"] else f"{first['text']} {second['text']}".strip()
        )
        one, two = first.get("translation"), second.get("translation")
        if isinstance(one, dict):
            one["text"] = " ".join(t for t in (one.get("text"), (two or {}).get("text")) if t)
            if one.get("model") != ORIGINAL_MODEL or (isinstance(two, dict) and two.get("outdated")):
                one["outdated"] = True
        del segments[at + 1]
        _follow_translation(first)

    def _times(self, edit: TranscriptEdit) -> None:
        """A word's (``word_index``) or a turn's times set to ``after`` (``"start end"``)."""
        segment = self.segment(edit.segment_id)
        start, end = _parse_times(edit.after)
        if edit.word_index is None:
            target: dict[str, Any] = segment
            where = f"segment {edit.segment_id}"
        else:
            words = segment.get("words", [])
            if not 0 <= edit.word_index < len(words):
                raise InvalidOptionError(f"no word {edit.word_index} in segment {edit.segment_id}")
            target = words[edit.word_index]
            where = f"word {edit.word_index} of segment {edit.segment_id}"
        self.check(edit.before, _fmt_times(float(target["start"]), float(target["end"])), where)
        target["start"], target["end"] = start, end

    def _segment_speaker(self, edit: TranscriptEdit) -> None:
        segment = self.segment(edit.segment_id)
        self.check(
            edit.before, str(segment.get("speaker") or ""), f"the speaker of segment {edit.segment_id}"
        )
        segment["speaker"] = edit.after
        for word in segment.get("words", []):
            if "speaker" in word:
                word["speaker"] = edit.after

    def _speaker(self, edit: TranscriptEdit) -> None:
        speakers: list[dict[str, Any]] = self.doc.setdefault("speakers", [])
        for entry in speakers:
            if str(entry.get("id")) == edit.speaker:
                entry["name"] = edit.after
                break
        else:
            speakers.append({"id": edit.speaker, "name": edit.after})

    def _mark(self, edit: TranscriptEdit) -> None:
        # Kept in the revision (so that its hash changes and the pseudonymised copies are made again); read
        # back by verbatim.jobs.marks.marks_of.
        if edit.segment_id is None or edit.word_index is None:
            raise InvalidOptionError("a mark names a segment and a word")
        self.doc.setdefault(MARKS_KEY, []).append(
            {
                "segment_id": edit.segment_id,
                "word_index": edit.word_index,
                "word_count": edit.word_count or 1,
                "marked": edit.kind == "mark",
            }
        )

    _unmark = _mark

    def _translation(self, edit: TranscriptEdit) -> None:
        """A segment re-translated from its corrected text: ``after`` by the model ``speaker``."""
        segment = self.segment(edit.segment_id)
        translation = segment.get("translation")
        if not isinstance(translation, dict):
            raise InvalidOptionError(f"segment {edit.segment_id} has no translation")
        self.check(
            edit.before, str(translation.get("text") or ""), f"the translation of segment {edit.segment_id}"
        )
        translation["text"] = edit.after
        translation["model"] = edit.speaker or translation.get("model")
        translation.pop("outdated", None)


ORIGINAL_MODEL: Final = "original"
"""The translation "model" of a segment already in the target language (its text copied)."""


def _merge_label(first: Mapping[str, Any], second: Mapping[str, Any]) -> str:
    """How a merge's ``before`` names the two turns: their texts, a pilcrow between."""
    return f"{first.get('text', '')} ¶ {second.get('text', '')}"


def _follow_translation(segment: dict[str, Any]) -> None:
    """A corrected segment's translation: a copy of the text (segment already in the target language)
    follows the correction; a real translation was made from the words before it, and is marked
    ``outdated`` (kept, never silently passed off as the translation of the corrected text)."""
    translation = segment.get("translation")
    if not isinstance(translation, dict):
        return
    if translation.get("model") == ORIGINAL_MODEL:
        translation["text"] = segment["text"]
    else:
        translation["outdated"] = True


def cancelled_edits(edits: Iterable[TranscriptEdit]) -> set[int]:
    """The ids of the rows a revert in force cancels (a redo is a revert of the revert: the rows are read
    newest first, and a cancelled revert cancels nothing)."""
    cancelled: set[int] = set()
    for edit in reversed(list(edits)):
        if edit.id is not None and edit.id in cancelled:
            continue
        if edit.kind == "revert" and edit.reverts is not None:
            cancelled.add(edit.reverts)
    return cancelled


def active_edits(edits: Iterable[TranscriptEdit]) -> list[TranscriptEdit]:
    """The rows that shape the revision, in order: every row but the reverts and the rows they cancel."""
    ordered = list(edits)
    cancelled = cancelled_edits(ordered)
    return [e for e in ordered if e.kind != "revert" and (e.id is None or e.id not in cancelled)]


def apply_edits(
    original: Mapping[str, Any], edits: Iterable[TranscriptEdit], *, strict: bool = False
) -> dict[str, Any]:
    """The revision: a copy of ``original`` with ``edits`` applied in order (``original`` is untouched).

    Reverted rows are left out (:func:`active_edits`). A corrected word is replaced at its place in its
    segment's text (spacing and punctuation kept; the words re-joined when they do not line up with the
    text); a speaker's name is set in ``speakers``, which every export format uses for display.

    Raises:
        EditConflictError: ``strict`` and a row's ``before`` is not what the document holds at its place.
        InvalidOptionError: a row names a segment or word the document does not have.
    """
    # A JSON round trip copies a transcript several times faster than copy.deepcopy.
    doc: dict[str, Any] = json.loads(json.dumps(original))
    replay = _Replay(doc, strict=strict)
    rows = list(edits)
    for edit in active_edits(rows):
        replay.apply(edit)
    if rows:
        doc["revision"] = {"edits": len(rows), "of": original.get("audio", {}).get("sha256")}
    return doc


def load_original(store: ObjectStore, job: Job) -> bytes:
    """The stored transcript JSON of a succeeded job, byte for byte (its hash is the custody manifest's).

    Raises:
        JobNotReadyError: the job has not succeeded.
        ObjectNotFoundError: the transcript object is missing from the store.
    """
    if job.status != "succeeded":
        if job.status == "failed":
            raise JobNotReadyError(f"The job failed, there is no transcript: {job.error or 'unknown error'}")
        raise JobNotReadyError(f"The job is {job.status} ({job.progress:.0%}); try again when it succeeded.")
    found = artifact(job, TRANSCRIPT_KINDS)
    key = found.object_key if found is not None else key_of(job.id, ArtifactKind.TRANSCRIPT)
    try:
        return store.get_bytes(key)
    except ObjectNotFoundError as e:
        raise ObjectNotFoundError("The job's transcript is missing from the object store.") from e


def load_current(store: ObjectStore, job: Job) -> bytes:
    """The current revision's JSON (the original's bytes when nothing was corrected).

    Raises:
        JobNotReadyError: the job has not succeeded.
        ObjectNotFoundError: an object is missing from the store.
    """
    original = load_original(store, job)  # also checks the job's state
    revision = artifact(job, REVISION_KIND)
    if revision is None:
        return original
    try:
        return store.get_bytes(revision.object_key)
    except ObjectNotFoundError as e:
        raise ObjectNotFoundError(
            "The transcript's corrected revision is missing from the object store."
        ) from e


def _rebuild(session: Session, store: ObjectStore, job: Job, new: Sequence[TranscriptEdit]) -> str:
    """Replay every edit of the job on the original, store the revision, point the artifact at it."""
    original = json.loads(load_original(store, job))
    edits = session.scalars(
        select(TranscriptEdit).where(TranscriptEdit.job_id == job.id).order_by(TranscriptEdit.id)
    ).all()
    doc = apply_edits(original, edits)
    data = document_bytes(doc)  # the exporter's writer: a revision reads like the original
    stored = store.put_bytes(
        key_of(job.id, REVISION_KIND), data, content_type=content_type(REVISION_KIND), overwrite=True
    )
    digest = hashlib.sha256(data).hexdigest()
    row = artifact(job, REVISION_KIND)
    if row is None:
        row = Artifact(job_id=job.id, kind=REVISION_KIND, object_key=stored.key, sha256=digest, size=0)
        session.add(row)
        job.artifacts.append(row)
    row.sha256 = digest
    row.size = stored.size
    row.created_at = utcnow()
    for edit in new:
        edit.revision_sha256 = digest
    index_document(session, job, doc)
    return digest


def lock_job_row(session: Session, job: Job) -> None:
    """Serialise corrections of one job until the caller commits or rolls back.

    A no-op UPDATE of the job's row: PostgreSQL locks that row, SQLite takes its one write lock; both are
    held to the end of the transaction, so the check of ``before``, the replay and the revision's artefact
    all see every correction committed before. The job's artefacts are read again under the lock.
    """
    session.execute(
        update(Job)
        .where(Job.id == job.id)
        .values(progress=Job.progress)
        .execution_options(synchronize_session=False)
    )
    session.refresh(job, attribute_names=["artifacts"])


@dataclass(frozen=True)
class SpanEdit:
    """Words ``word_index`` to ``word_index + word_count`` of a segment replaced by the words of ``after``:
    ``word_count = 0`` inserts before ``word_index``, an empty ``after`` deletes. ``before`` is the span as
    the client saw it (its words, one space apart)."""

    segment_id: int
    word_index: int
    word_count: int
    before: str
    after: str


@dataclass(frozen=True)
class SplitEdit:
    """A turn cut before word ``word_index``; ``before`` is the turn's text as the client saw it."""

    segment_id: int
    word_index: int
    before: str


@dataclass(frozen=True)
class MergeEdit:
    """A turn merged with the next one, ``next_segment_id`` (as the client saw them)."""

    segment_id: int
    next_segment_id: int


@dataclass(frozen=True)
class TimesEdit:
    """A word's (``word_index``) or a turn's (``None``) start and end, in seconds, from ``before`` (as the
    client saw them) to ``after``."""

    segment_id: int
    word_index: int | None
    before: tuple[float, float]
    after: tuple[float, float]


@dataclass(frozen=True)
class WordsSpeakerEdit:
    """Words ``word_index`` to ``word_index + word_count`` given to another speaker: the turn is split around
    them (one or two ``split`` rows) and the part they make is reassigned (a ``segment_speaker`` row)."""

    segment_id: int
    word_index: int
    word_count: int
    before: str
    after: str


@dataclass(frozen=True)
class RevertEdit:
    """A correction row (any kind, a revert too: a redo) cancelled by one more row."""

    edit_id: int


@dataclass(frozen=True)
class TranslationEdit:
    """A segment's translation made again from its corrected text: ``before`` is the translation the
    client saw, ``after`` the new one, by ``model``."""

    segment_id: int
    before: str
    after: str
    model: str


Operation = (
    WordEdit
    | SegmentSpeakerEdit
    | SpanEdit
    | SplitEdit
    | MergeEdit
    | TimesEdit
    | WordsSpeakerEdit
    | RevertEdit
    | TranslationEdit
)
TIME_STEP: Final = 0.001
"""Times are kept to the millisecond."""
MAX_SPAN_CHARS: Final = 2000


class _Recorder:
    """Turns a client's operations into correction rows, each checked against the current revision and
    applied to it at once (so that the next operation of the same request sees it)."""

    def __init__(self, session: Session, store: ObjectStore, job: Job, user: User) -> None:
        lock_job_row(session, job)
        self.session = session
        self.store = store
        self.job = job
        self.user = user
        self.original: dict[str, Any] = json.loads(load_original(store, job))
        self.history = list(
            session.scalars(
                select(TranscriptEdit).where(TranscriptEdit.job_id == job.id).order_by(TranscriptEdit.id)
            ).all()
        )
        self.replay = _Replay(json.loads(load_current(store, job)))
        self.rows: list[TranscriptEdit] = []

    @property
    def doc(self) -> dict[str, Any]:
        return self.replay.doc

    def row(self, kind: str, **values: Any) -> TranscriptEdit:
        """A new row of ``kind``, applied to the document; kept for the commit."""
        row = TranscriptEdit(
            job_id=self.job.id,
            at=utcnow(),
            user_id=self.user.id,
            user_name=self.user.name,
            kind=kind,
            **values,
        )
        if kind == "revert":
            # what the revision becomes without the reverted row: every later row must still apply
            try:
                doc = apply_edits(self.original, [*self.history, *self.rows, row], strict=True)
            except (InvalidOptionError, EditConflictError) as e:  # a later row stands on the one reverted
                raise RevertBlockedError(
                    f"correction {row.reverts} cannot be reverted: a later correction needs it (revert that "
                    f"one first): {e}"
                ) from e
            self.replay = _Replay(doc)
        else:
            self.replay.apply(row)
        self.rows.append(row)
        return row

    def new_segment_id(self) -> int:
        """An id no segment ever had in this job (a reverted split's id is never given again)."""
        used = [int(s["id"]) for s in self.original.get("segments", [])]
        used += [int(s["id"]) for s in self.doc.get("segments", [])]
        used += [r.other_segment_id for r in (*self.history, *self.rows) if r.other_segment_id is not None]
        return max(used, default=-1) + 1

    def words(self, segment_id: int) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.replay.segment(segment_id).get("words", [])
        return found

    # --- one method per operation ---

    def add(self, op: Operation) -> None:
        getattr(self, f"_{type(op).__name__}")(op)

    def _WordEdit(self, op: WordEdit) -> None:
        after = _clean(op.after, what="after", limit=MAX_WORD_CHARS)
        words = self.words(op.segment_id)
        if not 0 <= op.word_index < len(words):
            raise InvalidOptionError(f"no word {op.word_index} in segment {op.segment_id}")
        now = str(words[op.word_index]["text"]).strip()
        if not _same(now, op.before):
            raise EditConflictError(
                f"word {op.word_index} of segment {op.segment_id} was changed meanwhile; reload the page"
            )
        if after != now:
            self.row("word", segment_id=op.segment_id, word_index=op.word_index, before=now, after=after)

    def _SegmentSpeakerEdit(self, op: SegmentSpeakerEdit) -> None:
        segment = self.replay.segment(op.segment_id)
        self._known_speaker(op.after)
        now = str(segment.get("speaker") or "")
        if now != op.before:
            raise EditConflictError(f"the speaker of segment {op.segment_id} was changed meanwhile; reload")
        if op.after != now:
            self.row(
                "segment_speaker", segment_id=op.segment_id, speaker=op.after, before=now, after=op.after
            )

    def _known_speaker(self, speaker: str) -> None:
        known = _speaker_ids(self.doc)
        if speaker not in known:
            raise InvalidOptionError(
                f"after: no speaker {speaker!r} in this transcript (known: {', '.join(sorted(known))})"
            )

    def _span_now(self, segment_id: int, start: int, count: int, before: str) -> str:
        words = self.words(segment_id)
        if count < 0 or not 0 <= start <= len(words) or start + count > len(words):
            raise InvalidOptionError(f"no words {start}..{start + count} in segment {segment_id}")
        now = _words_text(words[start : start + count])
        if not _same(now, before):
            raise EditConflictError(f"words of segment {segment_id} were changed meanwhile; reload the page")
        return now

    def _SpanEdit(self, op: SpanEdit) -> None:
        now = self._span_now(op.segment_id, op.word_index, op.word_count, op.before)
        after = _clean(op.after, what="after", limit=MAX_SPAN_CHARS) if op.after.strip() else ""
        if not now and not after:
            raise InvalidOptionError("after: give the words to insert")
        if after != now:
            self.row(
                "span", segment_id=op.segment_id, word_index=op.word_index, word_count=op.word_count,
                before=now, after=after,
            )  # fmt: skip

    def _SplitEdit(self, op: SplitEdit) -> None:
        segment = self.replay.segment(op.segment_id)
        if not _same(str(segment["text"]), op.before):
            raise EditConflictError(f"segment {op.segment_id} was changed meanwhile; reload the page")
        words = segment.get("words", [])
        if not 0 < op.word_index < len(words):
            raise InvalidOptionError(
                f"word_index: a turn is split between two of its words (1..{len(words) - 1})"
            )
        first, second = _joined(words[: op.word_index]), _joined(words[op.word_index :])
        self.row(
            "split", segment_id=op.segment_id, word_index=op.word_index,
            other_segment_id=self.new_segment_id(), before=str(segment["text"]), after=f"{first} ¶ {second}",
        )  # fmt: skip

    def _MergeEdit(self, op: MergeEdit) -> None:
        at = self.replay.index_of(op.segment_id)
        segments = self.replay.segments()
        if at + 1 >= len(segments) or int(segments[at + 1]["id"]) != op.next_segment_id:
            raise EditConflictError(f"segment {op.next_segment_id} no longer follows {op.segment_id}; reload")
        first, second = segments[at], segments[at + 1]
        after = _joined([*first.get("words", []), *second.get("words", [])])
        self.row(
            "merge", segment_id=op.segment_id, other_segment_id=op.next_segment_id,
            before=_merge_label(first, second), after=after,
        )  # fmt: skip

    def _TimesEdit(self, op: TimesEdit) -> None:
        segments = self.replay.segments()
        at = self.replay.index_of(op.segment_id)
        segment = segments[at]
        start, end = (round(t / TIME_STEP) * TIME_STEP for t in op.after)
        duration = float(self.doc.get("audio", {}).get("duration") or segment["end"])
        if not 0 <= start <= end <= duration + TIME_STEP / 2:
            raise InvalidOptionError(
                f"after: times stay within the recording (0 to {duration:.3f} s), start ≤ end"
            )
        if op.word_index is None:
            target: Mapping[str, Any] = segment
            words = segment.get("words", [])
            # turns in time order stay so (a two-channel recording lists each channel's turns in turn)
            now_start = float(segment["start"])
            previous = float(segments[at - 1]["start"]) if at > 0 else None
            following = float(segments[at + 1]["start"]) if at + 1 < len(segments) else None
            if (previous is not None and previous <= now_start and start < previous) or (
                following is not None and following >= now_start and start > following
            ):
                raise InvalidOptionError(
                    "after: a turn stays between the previous turn's start and the next one's"
                )
            if words and (start > float(words[0]["start"]) + 1e-6 or end < float(words[-1]["end"]) - 1e-6):
                raise InvalidOptionError("after: a turn's times keep its words inside")
        else:
            words = segment.get("words", [])
            if not 0 <= op.word_index < len(words):
                raise InvalidOptionError(f"no word {op.word_index} in segment {op.segment_id}")
            target = words[op.word_index]
            low = float(words[op.word_index - 1]["start"]) if op.word_index > 0 else float(segment["start"])
            high = (
                float(words[op.word_index + 1]["end"])
                if op.word_index + 1 < len(words)
                else float(segment["end"])
            )
            if start < low - 1e-6 or end > high + 1e-6:
                raise InvalidOptionError(
                    "after: a word stays in order with its neighbours and inside its turn (move the turn "
                    "first)"
                )
        now = _fmt_times(float(target["start"]), float(target["end"]))
        if now != _fmt_times(*op.before):
            raise EditConflictError("the times were changed meanwhile; reload the page")
        after = _fmt_times(start, end)
        if after != now:
            self.row("times", segment_id=op.segment_id, word_index=op.word_index, before=now, after=after)

    def _WordsSpeakerEdit(self, op: WordsSpeakerEdit) -> None:
        self._known_speaker(op.after)
        segment = self.replay.segment(op.segment_id)
        words = segment.get("words", [])
        if (
            op.word_count < 1
            or not 0 <= op.word_index < len(words)
            or op.word_index + op.word_count > len(words)
        ):
            raise InvalidOptionError(
                f"no words {op.word_index}..{op.word_index + op.word_count} in segment {op.segment_id}"
            )
        if str(segment.get("speaker") or "") != op.before:
            raise EditConflictError(f"the speaker of segment {op.segment_id} was changed meanwhile; reload")
        end = op.word_index + op.word_count
        if end < len(words):  # the words after the selection stay with their speaker, in a turn of their own
            self._SplitEdit(SplitEdit(op.segment_id, end, str(segment["text"])))
        target = op.segment_id
        if op.word_index > 0:
            self._SplitEdit(
                SplitEdit(op.segment_id, op.word_index, str(self.replay.segment(op.segment_id)["text"]))
            )
            target = self.rows[-1].other_segment_id or target
        self._SegmentSpeakerEdit(SegmentSpeakerEdit(target, op.before, op.after))

    def _RevertEdit(self, op: RevertEdit) -> None:
        rows = [*self.history, *self.rows]
        target = next((r for r in rows if r.id == op.edit_id), None)
        if target is None:
            raise InvalidOptionError(f"edit_id: no correction {op.edit_id} in this transcript")
        if target.id in cancelled_edits(rows):
            raise EditConflictError(f"correction {op.edit_id} is already reverted")
        self.row(
            "revert", reverts=target.id, segment_id=target.segment_id, word_index=target.word_index,
            speaker=target.speaker, before=target.after, after=target.before,
        )  # fmt: skip

    def _TranslationEdit(self, op: TranslationEdit) -> None:
        check_translation(self.doc, op.segment_id, op.before)
        translation = _translation_of(self.doc, op.segment_id)
        now = str(translation.get("text") or "")
        after = " ".join(op.after.split())
        if after != now or translation.get("outdated"):
            self.row("translation", segment_id=op.segment_id, speaker=op.model[:64], before=now, after=after)


def record(
    session: Session, store: ObjectStore, *, job: Job, user: User, operations: Sequence[Operation]
) -> list[TranscriptEdit]:
    """Record a client's operations on a succeeded job's transcript as correction rows, in order and all or
    none; store the new revision; commit. Answers the rows (what an undo reverts).

    Each operation names what it changes as the client saw it (``before``): when that is no longer the
    current text the whole request is refused, so that two people correcting at once never overwrite each
    other unknowingly. An operation that changes nothing records no row.

    Raises:
        InvalidOptionError: no such segment or word, an empty or overlong text, times out of order.
        EditConflictError: the text changed meanwhile; a revert that a later correction depends on.
        JobNotReadyError: the job has no transcript.
    """
    if not operations:
        raise InvalidOptionError("edits: give at least one correction")
    recorder = _Recorder(session, store, job, user)
    for op in operations:
        recorder.add(op)
    return commit_rows(session, store, job, recorder.rows)


def _translation_of(doc: Mapping[str, Any], segment_id: int) -> dict[str, Any]:
    translation = _Replay(dict(doc)).segment(segment_id).get("translation")
    if not isinstance(translation, dict):
        raise InvalidOptionError(f"segment {segment_id} has no translation")
    return translation


def check_translation(doc: Mapping[str, Any], segment_id: int, before: str) -> None:
    """Check that segment ``segment_id`` of ``doc`` has a translation and that it reads ``before`` (as the
    client saw it).

    Raises:
        InvalidOptionError: no such segment, or it has no translation.
        EditConflictError: its translation changed meanwhile.
    """
    now = str(_translation_of(doc, segment_id).get("text") or "")
    if not _same(now, before):
        raise EditConflictError(f"the translation of segment {segment_id} was changed meanwhile; reload")


def record_translation(
    session: Session,
    store: ObjectStore,
    *,
    job: Job,
    user: User,
    revision_sha256: str | None,
    translation: TranslationEdit,
) -> list[TranscriptEdit]:
    """Record a segment's new translation (see :func:`record`), made from revision ``revision_sha256``
    (``None``: the uncorrected original), under the job's lock: refused when the transcript is no longer
    that revision. ``translation.before`` is ignored: the current translation is what that revision holds,
    which the caller checked against what the client saw before the translation was made.

    Raises:
        EditConflictError: the transcript was corrected since that revision.
        InvalidOptionError: no such segment, or it has no translation.
        JobNotReadyError: the job has no transcript.
    """
    recorder = _Recorder(session, store, job, user)  # locks the job's row, reads its artefacts again
    revision = artifact(job, REVISION_KIND)
    if (None if revision is None else revision.sha256) != revision_sha256:
        raise EditConflictError(
            f"the transcript was corrected while segment {translation.segment_id} was translated again; "
            "reload"
        )
    now = str(_translation_of(recorder.doc, translation.segment_id).get("text") or "")
    recorder.add(TranslationEdit(translation.segment_id, now, translation.after, translation.model))
    return commit_rows(session, store, job, recorder.rows)


def edit_words(
    session: Session, store: ObjectStore, *, job: Job, user: User, edits: Sequence[WordEdit]
) -> list[TranscriptEdit]:
    """Correct words (see :func:`record`)."""
    return record(session, store, job=job, user=user, operations=edits)


def reassign_segments(
    session: Session, store: ObjectStore, *, job: Job, user: User, edits: Sequence[SegmentSpeakerEdit]
) -> list[TranscriptEdit]:
    """Give segments to another of the transcript's speakers (a misattributed turn; see :func:`record`)."""
    if not edits:
        raise InvalidOptionError("edits: give at least one segment and its new speaker")
    return record(session, store, job=job, user=user, operations=edits)


def rename_speakers(
    session: Session, store: ObjectStore, *, job: Job, user: User, names: Mapping[str, str]
) -> list[TranscriptEdit]:
    """Name speakers (``{"S1": "Enquêteur"}``) in the transcript and every export; record it; commit.

    Raises:
        InvalidOptionError: an unknown speaker id, an empty or overlong name.
        JobNotReadyError: the job has no transcript.
    """
    if not names:
        raise InvalidOptionError("names: give at least one speaker id and its name")
    recorder = _Recorder(session, store, job, user)
    known = _speaker_ids(recorder.doc)
    shown = {str(s["id"]): str(s.get("name") or s["id"]) for s in recorder.doc.get("speakers", [])}
    for speaker, name in names.items():
        if speaker not in known:
            raise InvalidOptionError(
                f"no speaker {speaker!r} in this transcript (known: {', '.join(sorted(known))})"
            )
        after = _clean(name, what=f"names.{speaker}", limit=MAX_NAME_CHARS)
        before = shown.get(speaker, speaker)
        if after != before:
            recorder.row("speaker", speaker=speaker, before=before, after=after)
    return commit_rows(session, store, job, recorder.rows)


def commit_rows(
    session: Session, store: ObjectStore, job: Job, rows: list[TranscriptEdit]
) -> list[TranscriptEdit]:
    """Record correction rows, store the revision they make (under the job's lock) and commit."""
    if not rows:
        return rows
    session.add_all(rows)
    session.flush()  # takes the write lock (SQLite) before replaying, so concurrent edits serialise
    try:
        _rebuild(session, store, job, rows)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return rows


def fold(text: str) -> str:
    """Text as the search index keeps it: case-folded, accents removed, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def _search_text(doc: Mapping[str, Any]) -> str:
    names = " ".join(str(s.get("name") or "") for s in doc.get("speakers", []))
    texts = " ".join(str(s.get("text") or "") for s in doc.get("segments", []))
    translations = " ".join(
        str((s.get("translation") or {}).get("text") or "") for s in doc.get("segments", [])
    )
    return fold(f"{names} {texts} {translations}")


def index_document(session: Session, job: Job, doc: Mapping[str, Any]) -> None:
    """Put a job's current document (a corrected revision or the original) in the search index."""
    text = _search_text(doc)
    row = session.get(TranscriptSearch, job.id)
    if row is None:
        session.add(TranscriptSearch(job_id=job.id, unit=job.unit, text=text, updated_at=utcnow()))
    else:
        row.text = text
        row.updated_at = utcnow()
    # with encryption at rest, the text is sealed: the search goes by keyed hashes of its trigrams
    replace_trigrams(session, job.id, job.unit, text)
