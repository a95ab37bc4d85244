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
from verbatim.ops.storage import ObjectNotFoundError, ObjectStore
from verbatim.pipeline.export import document_bytes

__all__ = [
    "MARKS_KEY",
    "MAX_NAME_CHARS",
    "MAX_WORD_CHARS",
    "REVISION_KIND",
    "EditConflictError",
    "Rendered",
    "SegmentSpeakerEdit",
    "WordEdit",
    "apply_edits",
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


def _word(doc: Mapping[str, Any], segment_id: int, word_index: int) -> dict[str, Any]:
    segment = _segments_by_id(doc).get(segment_id)
    words = segment.get("words", []) if segment is not None else []
    if not 0 <= word_index < len(words):
        raise InvalidOptionError(f"no word {word_index} in segment {segment_id}")
    word: dict[str, Any] = words[word_index]
    return word


def _speaker_ids(doc: Mapping[str, Any]) -> set[str]:
    ids = {str(s["id"]) for s in doc.get("speakers", [])}
    for segment in doc.get("segments", []):
        if segment.get("speaker"):
            ids.add(str(segment["speaker"]))
    return ids


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


def _apply_one(doc: dict[str, Any], edit: TranscriptEdit, segments: Mapping[int, dict[str, Any]]) -> None:
    if edit.kind == "word" and edit.segment_id is not None and edit.word_index is not None:
        segment = segments.get(edit.segment_id)
        words = segment.get("words", []) if segment is not None else []
        if segment is None or not 0 <= edit.word_index < len(words):
            raise InvalidOptionError(f"no word {edit.word_index} in segment {edit.segment_id}")
        word = words[edit.word_index]
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
            start, end = spans[edit.word_index]
            text = str(segment["text"])
            head = text[:start]
            if join is not None and edit.word_index > 0 and head.strip():
                head = head.rstrip() + join
            segment["text"] = head + word["text"].strip() + text[end:]
        else:
            segment["text"] = "".join(
                (str(w.get("join", " ")) if n else "") + str(w["text"]).strip() for n, w in enumerate(words)
            ).strip()
        _follow_translation(segment)
    elif edit.kind == "segment_speaker" and edit.segment_id is not None:
        segment = segments.get(edit.segment_id)
        if segment is None:
            raise InvalidOptionError(f"no segment {edit.segment_id}")
        segment["speaker"] = edit.after
        for word in segment.get("words", []):
            if "speaker" in word:
                word["speaker"] = edit.after
    elif edit.kind in ("mark", "unmark") and edit.segment_id is not None and edit.word_index is not None:
        # Kept in the revision (so that its hash changes and the pseudonymised copies are made again); read
        # back by verbatim.jobs.marks.marks_of.
        doc.setdefault(MARKS_KEY, []).append(
            {
                "segment_id": edit.segment_id,
                "word_index": edit.word_index,
                "word_count": edit.word_count or 1,
                "marked": edit.kind == "mark",
            }
        )
    elif edit.kind == "speaker" and edit.speaker is not None:
        speakers: list[dict[str, Any]] = doc.setdefault("speakers", [])
        for entry in speakers:
            if str(entry.get("id")) == edit.speaker:
                entry["name"] = edit.after
                break
        else:
            speakers.append({"id": edit.speaker, "name": edit.after})


def _follow_translation(segment: dict[str, Any]) -> None:
    """A corrected segment's translation: a copy of the text (segment already in the target language)
    follows the correction; a real translation was made from the words before it, and is marked
    ``outdated`` (kept, never silently passed off as the translation of the corrected text)."""
    translation = segment.get("translation")
    if not isinstance(translation, dict):
        return
    if translation.get("model") == "original":
        translation["text"] = segment["text"]
    else:
        translation["outdated"] = True


def apply_edits(original: Mapping[str, Any], edits: Iterable[TranscriptEdit]) -> dict[str, Any]:
    """The revision: a copy of ``original`` with ``edits`` applied in order (``original`` is untouched).

    A corrected word is replaced at its place in its segment's text (spacing and punctuation kept; the
    words re-joined when they do not line up with the text); a speaker's name is set in ``speakers``,
    which every export format uses for display.
    """
    # A JSON round trip copies a transcript several times faster than copy.deepcopy.
    doc: dict[str, Any] = json.loads(json.dumps(original))
    segments = _segments_by_id(doc)
    count = 0
    for edit in edits:
        _apply_one(doc, edit, segments)
        count += 1
    if count:
        doc["revision"] = {"edits": count, "of": original.get("audio", {}).get("sha256")}
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


def edit_words(
    session: Session, store: ObjectStore, *, job: Job, user: User, edits: Sequence[WordEdit]
) -> list[TranscriptEdit]:
    """Correct words of a succeeded job's transcript, record who did it, store the new revision; commit.

    Each edit names the text it replaces (``before``, as the client saw it): when that is no longer the
    current text the whole request is refused, so that two people correcting at once never overwrite each
    other unknowingly. An edit whose ``after`` equals the current text is skipped.

    Raises:
        InvalidOptionError: no such word, an empty or overlong text.
        EditConflictError: a word's current text is not ``before``.
        JobNotReadyError: the job has no transcript.
    """
    if not edits:
        raise InvalidOptionError("edits: give at least one correction")
    lock_job_row(session, job)
    current = json.loads(load_current(store, job))
    segments = _segments_by_id(current)
    rows: list[TranscriptEdit] = []
    for edit in edits:
        after = _clean(edit.after, what="after", limit=MAX_WORD_CHARS)
        word = _word(current, edit.segment_id, edit.word_index)
        now = str(word["text"]).strip()
        if now != " ".join(edit.before.split()):
            raise EditConflictError(
                f"word {edit.word_index} of segment {edit.segment_id} was changed meanwhile; reload the page"
            )
        if after == now:
            continue
        row = TranscriptEdit(
            job_id=job.id, at=utcnow(), user_id=user.id, user_name=user.name, kind="word",
            segment_id=edit.segment_id, word_index=edit.word_index, before=now, after=after,
        )  # fmt: skip
        _apply_one(current, row, segments)
        rows.append(row)
    return commit_rows(session, store, job, rows)


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
    lock_job_row(session, job)
    current = json.loads(load_current(store, job))
    known = _speaker_ids(current)
    shown = {str(s["id"]): str(s.get("name") or s["id"]) for s in current.get("speakers", [])}
    rows: list[TranscriptEdit] = []
    for speaker, name in names.items():
        if speaker not in known:
            raise InvalidOptionError(
                f"no speaker {speaker!r} in this transcript (known: {', '.join(sorted(known))})"
            )
        after = _clean(name, what=f"names.{speaker}", limit=MAX_NAME_CHARS)
        before = shown.get(speaker, speaker)
        if after == before:
            continue
        rows.append(
            TranscriptEdit(
                job_id=job.id,
                at=utcnow(),
                user_id=user.id,
                user_name=user.name,
                kind="speaker",
                speaker=speaker,
                before=before,
                after=after,
            )
        )
    return commit_rows(session, store, job, rows)


def reassign_segments(
    session: Session, store: ObjectStore, *, job: Job, user: User, edits: Sequence[SegmentSpeakerEdit]
) -> list[TranscriptEdit]:
    """Give segments to another of the transcript's speakers (a misattributed turn); record it; commit.

    Each edit names the speaker the client saw (``before``): when the segment's speaker changed meanwhile the
    whole request is refused. A segment already given to ``after`` is skipped.

    Raises:
        InvalidOptionError: no such segment, an unknown speaker id.
        EditConflictError: a segment's current speaker is not ``before``.
        JobNotReadyError: the job has no transcript.
    """
    if not edits:
        raise InvalidOptionError("edits: give at least one segment and its new speaker")
    lock_job_row(session, job)
    current = json.loads(load_current(store, job))
    segments = _segments_by_id(current)
    known = _speaker_ids(current)
    rows: list[TranscriptEdit] = []
    for edit in edits:
        segment = segments.get(edit.segment_id)
        if segment is None:
            raise InvalidOptionError(f"no segment {edit.segment_id} in this transcript")
        if edit.after not in known:
            raise InvalidOptionError(
                f"after: no speaker {edit.after!r} in this transcript (known: {', '.join(sorted(known))})"
            )
        now = str(segment.get("speaker") or "")
        if now != edit.before:
            raise EditConflictError(f"the speaker of segment {edit.segment_id} was changed meanwhile; reload")
        if edit.after == now:
            continue
        row = TranscriptEdit(
            job_id=job.id, at=utcnow(), user_id=user.id, user_name=user.name, kind="segment_speaker",
            segment_id=edit.segment_id, speaker=edit.after, before=now, after=edit.after,
        )  # fmt: skip
        _apply_one(current, row, segments)
        rows.append(row)
    return commit_rows(session, store, job, rows)


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
    row = session.get(TranscriptSearch, job.id)
    if row is None:
        session.add(
            TranscriptSearch(job_id=job.id, unit=job.unit, text=_search_text(doc), updated_at=utcnow())
        )
    else:
        row.text = _search_text(doc)
        row.updated_at = utcnow()
