"""Streaming a job's original recording to a browser: byte ranges and short-lived audio tickets.

An ``<audio>`` element fetches its ``src`` itself, in byte ranges, and cannot send an ``Authorization``
header. Rather than downloading a whole hearing into the page as a blob (hundreds of MB for two hours, and
no playback before the end of the download), the page asks for a *ticket*: a random string valid
:data:`TICKET_TTL` for one job and one user, given in the audio URL's query. Like tokens, only its SHA-256
is stored; it is checked on every range request (disabled user, job moved to another unit: refused at
once) and each request is audited.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete
from sqlalchemy.orm import Session

from verbatim.api.errors import NotAuthenticatedError
from verbatim.ops.db import Job, MediaTicket, User, utcnow
from verbatim.ops.storage import ObjectStore

__all__ = [
    "CHUNK_BYTES",
    "TICKET_TTL",
    "ByteRange",
    "RangeNotSatisfiableError",
    "issue_ticket",
    "media_type",
    "parse_range",
    "redeem_ticket",
    "stream_range",
]

TICKET_TTL: Final = timedelta(minutes=15)
CHUNK_BYTES: Final = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_TICKET_PREFIX: Final = "vat_"


class RangeNotSatisfiableError(ValueError):
    """The Range header asks for bytes past the end of the recording (answered 416)."""


@dataclass(frozen=True)
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive, as in HTTP."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range a ``Range`` header asks for; ``None`` for the whole object.

    Only single ranges are served (what media elements ask for); a header naming several, or one that is
    malformed, is ignored as RFC 9110 allows, and the whole object is sent.

    Raises:
        RangeNotSatisfiableError: the range starts at or past ``size``.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiableError("empty suffix range")
        return ByteRange(max(0, size - length), size - 1)
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiableError(f"range starts at {start}, the recording has {size} bytes")
    end = min(int(last), size - 1) if last else size - 1
    if end < start:
        return None
    return ByteRange(start, end)


def stream_range(store: ObjectStore, key: str, byte_range: ByteRange) -> Iterator[bytes]:
    """Yield the bytes of ``byte_range`` of an object, in chunks (the object is never held whole)."""
    with store.open(key) as stream:
        if stream.seekable():
            stream.seek(byte_range.start)
        else:
            skip = byte_range.start
            while skip > 0:
                chunk = stream.read(min(CHUNK_BYTES, skip))
                if not chunk:
                    return
                skip -= len(chunk)
        left = byte_range.length
        while left > 0:
            chunk = stream.read(min(CHUNK_BYTES, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


_SIGNATURES: Final = (
    (b"fLaC", 0, "audio/flac"),
    (b"OggS", 0, "audio/ogg"),
    (b"ID3", 0, "audio/mpeg"),
    (b"\xff\xfb", 0, "audio/mpeg"),
    (b"\xff\xf3", 0, "audio/mpeg"),
    (b"ftyp", 4, "video/mp4"),
    (b"\x1a\x45\xdf\xa3", 0, "video/webm"),
)


def media_type(head: bytes) -> str:
    """The media type of a recording from its first bytes (the upload's declared type is not trusted)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    for magic, offset, kind in _SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return "application/octet-stream"


def _hash(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8")).hexdigest()


def issue_ticket(
    session: Session, *, job: Job, user: User, now: datetime | None = None
) -> tuple[str, datetime]:
    """A new audio ticket for ``job`` and ``user`` (expired tickets are purged on the way); commit.

    Returns:
        The ticket (shown once) and when it expires.
    """
    now = now or utcnow()
    session.execute(delete(MediaTicket).where(MediaTicket.expires_at < now))
    ticket = _TICKET_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + TICKET_TTL
    session.add(MediaTicket(ticket_hash=_hash(ticket), job_id=job.id, user_id=user.id, expires_at=expires_at))
    session.commit()
    return ticket, expires_at


def redeem_ticket(session: Session, *, ticket: str, job_id: str, now: datetime | None = None) -> User:
    """The user a valid ticket for ``job_id`` was issued to.

    Raises:
        NotAuthenticatedError: unknown, expired, for another job, or its user is disabled.
    """
    row = session.get(MediaTicket, _hash(ticket)) if ticket.startswith(_TICKET_PREFIX) else None
    if row is None or row.job_id != job_id or row.expires_at <= (now or utcnow()):
        raise NotAuthenticatedError("The audio link has expired; reload the page.")
    user = session.get(User, row.user_id)
    if user is None or user.disabled:
        raise NotAuthenticatedError("The audio link has expired; reload the page.")
    return user
