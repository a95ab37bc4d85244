"""Tables of the web pages: corrections of transcripts, the search index, short-lived audio tickets.

Corrections are rows, never changes to the stored transcript: the worker's transcript JSON stays as it was
(evidence), and the current revision is the original with every edit replayed in order
(:mod:`verbatim.jobs.documents`). Edits and the search index hold transcript text: they belong to the job
(deleted with it) and are never copied to the audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from verbatim.ops.db.models import Base, BigIntId, UTCDateTime, utcnow
from verbatim.ops.db.sealed import SealedText

__all__ = [
    "EDIT_KINDS",
    "TRIGRAM_INDEX",
    "MediaTicket",
    "TranscriptEdit",
    "TranscriptSearch",
    "TranscriptTrigram",
]

TRIGRAM_INDEX: Final = "ix_transcript_search_text_trgm"
"""PostgreSQL only, and only where the database lets the migration install ``pg_trgm``: a trigram index that
serves the search's ``LIKE '%words%'`` without reading every transcript (migration 0005). Not declared on the
model, since SQLite has no such index."""

EDIT_KINDS: Final = (
    "word",
    "speaker",
    "segment_speaker",
    "span",
    "split",
    "merge",
    "times",
    "translation",
    "revert",
    "mark",
    "unmark",
)


class TranscriptEdit(Base):
    """One correction: a word's text (``segment_id``, ``word_index``), a speaker's name (``speaker``), or the
    speaker a segment is given to (``segment_speaker``: ``segment_id``, ``speaker`` the new one); a span of
    words replaced (``span``: ``word_index``, ``word_count`` words, an empty side for an insertion or a
    deletion); a turn split at a word (``split``: ``other_segment_id`` the turn it creates) or merged with the
    next (``merge``: ``other_segment_id`` the turn absorbed); a word's or turn's times (``times``: ``"start
    end"`` in seconds, ``word_index`` null for the turn); a segment re-translated (``translation``:
    ``speaker`` holds the model that made it); a correction reverted (``revert``: ``reverts`` its id; a
    revert of a revert restores the row); a span of ``word_count`` words from ``word_index`` marked as
    personal data (``mark``) or left in clear (``unmark``) in the pseudonymised copies, ``before`` and
    ``after`` then being the span's text.

    ``before`` and ``after`` are the texts on each side of the change; ``user_name`` is copied so that the
    history says who corrected even after the account changed; ``revision_sha256`` is the hash of the
    revision this edit produced (listed in the custody manifest).
    """

    __tablename__ = "transcript_edits"
    __table_args__ = (CheckConstraint(f"kind IN ({', '.join(repr(k) for k in EDIT_KINDS)})", name="kind"),)

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    user_name: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    segment_id: Mapped[int | None] = mapped_column(Integer)
    word_index: Mapped[int | None] = mapped_column(Integer)
    # sealed when encryption at rest is on (verbatim.ops.db.sealed)
    speaker: Mapped[str | None] = mapped_column(SealedText("transcript_edits.speaker", 64))
    word_count: Mapped[int | None] = mapped_column(Integer)
    other_segment_id: Mapped[int | None] = mapped_column(Integer)
    reverts: Mapped[int | None] = mapped_column(BigIntId)
    before: Mapped[str] = mapped_column(SealedText("transcript_edits.before"))
    after: Mapped[str] = mapped_column(SealedText("transcript_edits.after"))
    revision_sha256: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:  # no text: it is personal data
        return f"TranscriptEdit(id={self.id!r}, job_id={self.job_id!r}, kind={self.kind!r})"


class TranscriptSearch(Base):
    """The searchable text of a job's current revision (one row per succeeded job, filled lazily)."""

    __tablename__ = "transcript_search"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    unit: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(SealedText("transcript_search.text"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    def __repr__(self) -> str:
        return f"TranscriptSearch(job_id={self.job_id!r}, unit={self.unit!r})"


class TranscriptTrigram(Base):
    """One keyed hash of a trigram of a job's searchable text, with encryption at rest on (migration 0009):
    the search finds candidates here without clear text, then opens their sealed text
    (:mod:`verbatim.ops.db.sealed`)."""

    __tablename__ = "transcript_trigrams"
    # SQLite: the rows live in the primary key's tree (no rowid table beside it: a third smaller)
    __table_args__ = (Index("ix_transcript_trigrams_h_unit", "h", "unit"), {"sqlite_with_rowid": False})

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    h: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    unit: Mapped[str] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"TranscriptTrigram(job_id={self.job_id!r})"


class MediaTicket(Base):
    """A short-lived permission to stream one job's recording, for an ``<audio src>`` that sends no header.

    Only the ticket's SHA-256 is stored, like tokens: a copy of the database lets nobody listen.
    """

    __tablename__ = "media_tickets"

    ticket_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    def __repr__(self) -> str:
        return (
            f"MediaTicket(job_id={self.job_id!r}, user_id={self.user_id!r}, expires_at={self.expires_at!r})"
        )
