"""Encryption at rest of the database's personal data: sealed columns and a keyed trigram search index.

With encryption at rest on, the columns that hold what a user said or typed (transcript text of the search
table, corrections before and after, speaker names, file names, a job's options with its hide list, a legal
hold's reference) are AES-256-GCM encrypted with a key derived from the keyring's keys
(:mod:`verbatim.ops.keys`), the same keyring as the objects. A sealed value is text::

    vb1:<key id>:<base64url(nonce 12 bytes + ciphertext + tag)>

authenticated with the column's name (a value moved to another column does not open). The code reading
and writing these columns is unchanged: :class:`SealedText` and :class:`SealedJSON` seal on the way in and
open on the way out, with the keyring attached to the engine (:func:`attach_keyring`). A value without the
prefix is read as it is (a row written before encryption was on, until :func:`seal_rows` seals it).

The search cannot match a substring of sealed text in SQL: each job's folded text is cut into trigrams, each
hashed with HMAC-SHA256 under a key derived from the key its text is sealed with (64 bits kept), and the set
of hashes stored in ``transcript_trigrams``. A search looks for the jobs that hold every trigram of the
query (under every key of the ring, so that rows not yet re-keyed are found), then confirms each candidate by
opening its text. What the table shows to someone without the key: how many distinct trigrams a transcript
has, and which jobs share trigrams (frequency analysis across many jobs could guess common ones).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import (
    JSON,
    Dialect,
    Engine,
    String,
    Text,
    TypeDecorator,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

from verbatim.errors import InvalidOptionError

if TYPE_CHECKING:
    from verbatim.ops.keys import Keyring

__all__ = [
    "PREFIX",
    "SEALED_COLUMNS",
    "SealedJSON",
    "SealedText",
    "attach_keyring",
    "count_by_key",
    "keyring_of",
    "keyring_of_engine",
    "query_hashes",
    "replace_trigrams",
    "seal_rows",
    "trigrams",
]

PREFIX: Final = "vb1:"
_ATTR: Final = "verbatim_keyring"
_COLUMN_PURPOSE: Final = b"verbatim database column v1"
_SEARCH_PURPOSE: Final = b"verbatim search trigram v1"

_TRIGRAMS: Final = sql_table("transcript_trigrams", sql_column("job_id"), sql_column("h"), sql_column("unit"))
"""``verbatim.ops.db.web.TranscriptTrigram``'s table, named here (the models import this module)."""

SEALED_COLUMNS: Final = {
    # table: (primary key, sealed columns)
    "jobs": ("id", ("filename", "options", "legal_hold_reference")),
    "transcript_edits": ("id", ("speaker", "before", "after")),
    "transcript_search": ("job_id", ("text",)),
}
"""Every sealed column (what :func:`seal_rows` goes through); the models declare them sealed."""


class SealError(InvalidOptionError):
    """A sealed value that cannot be opened: no keyring, a key the keyring lacks, or altered data."""


@lru_cache(maxsize=64)
def _derive(secret: bytes, purpose: bytes) -> bytes:
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def attach_keyring(engine: Engine, keyring: Keyring | None) -> None:
    """Seal the sealed columns written through ``engine`` with ``keyring`` (``None``: write them in clear).

    The keyring object is kept, not copied: a rotation that changes it in place is seen at once.
    """
    setattr(engine.dialect, _ATTR, keyring)


def _ring(dialect: Dialect) -> Keyring | None:
    ring: Keyring | None = getattr(dialect, _ATTR, None)
    return ring


def keyring_of_engine(engine: Engine) -> Keyring | None:
    """The keyring attached to ``engine`` (``None``: encryption at rest is off)."""
    return _ring(engine.dialect)


def keyring_of(session: Session) -> Keyring | None:
    """The keyring attached to the session's engine (``None``: encryption at rest is off)."""
    return _ring(session.get_bind().dialect)


def seal(ring: Keyring, label: str, value: str) -> str:
    """``value`` encrypted under the ring's active key, authenticated with ``label`` (the column)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_id, secret = ring.active()
    nonce = os.urandom(12)
    sealed = AESGCM(_derive(secret, _COLUMN_PURPOSE)).encrypt(nonce, value.encode(), label.encode())
    return f"{PREFIX}{key_id}:{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(value: str) -> str | None:
    """The key id a sealed value is encrypted under; ``None`` for a value in clear."""
    if not value.startswith(PREFIX):
        return None
    return value[len(PREFIX) :].split(":", 1)[0]


def unseal(ring: Keyring | None, label: str, value: str) -> str:
    """The clear text of a sealed value; a value in clear is returned as it is.

    Raises:
        SealError: no keyring, a key it lacks, or a value altered or moved from another column.
    """
    if not value.startswith(PREFIX):
        return value
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key_id, _, body = value[len(PREFIX) :].partition(":")
    secret = ring.get(key_id) if ring is not None else None
    if secret is None:
        raise SealError(
            f"{label}: encrypted under key {key_id!r}, which "
            + (
                "the keyring does not hold"
                if ring is not None
                else "cannot be read: encryption at rest is off"
            )
        )
    try:
        raw = base64.urlsafe_b64decode(body)
        plain = AESGCM(_derive(secret, _COLUMN_PURPOSE)).decrypt(raw[:12], raw[12:], label.encode())
    except (ValueError, InvalidTag) as e:
        raise SealError(f"{label}: an encrypted value failed authentication") from e
    return plain.decode()


class SealedText(TypeDecorator[str]):
    """Text sealed when the engine has a keyring (see the module); read in clear either way.

    ``TEXT`` on PostgreSQL (migration 0009: a sealed value is longer than its clear text); on SQLite the
    column keeps its declared ``VARCHAR(length)``, which SQLite does not enforce (changing it would mean
    copying the jobs table, whose drop cascades to its children).
    """

    impl = Text
    cache_ok = True

    def __init__(self, label: str, length: int | None = None) -> None:
        super().__init__()
        self.label = label
        self.length = length

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite" and self.length is not None:
            return String(self.length)
        return Text()

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        ring = _ring(dialect)
        if value is None or ring is None:
            return value
        return seal(ring, self.label, value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else unseal(_ring(dialect), self.label, value)


class SealedJSON(TypeDecorator[Any]):
    """A JSON value, sealed when the engine has a keyring (see the module).

    ``TEXT`` on PostgreSQL (migration 0009, from ``JSONB``); on SQLite the column stays ``JSON`` (text
    there), a sealed value stored as a JSON string.
    """

    impl = Text
    cache_ok = True

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return JSON() if dialect.name == "sqlite" else Text()

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        ring = _ring(dialect)
        if ring is None and dialect.name == "sqlite":
            return value  # the JSON type writes it
        dumped = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        return dumped if ring is None else seal(ring, self.label, dumped)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None or not isinstance(value, str):
            return value  # decoded by SQLite's JSON type, or a JSONB column not migrated yet
        if dialect.name == "sqlite" and not value.startswith(PREFIX):
            return value  # a JSON string in clear
        return json.loads(unseal(_ring(dialect), self.label, value))


def trigrams(folded: str) -> set[str]:
    """The distinct trigrams of a folded text (:func:`verbatim.jobs.documents.fold`); none under 3 chars."""
    return {folded[i : i + 3] for i in range(len(folded) - 2)}


def _hash(key: bytes, trigram: str) -> int:
    digest = hmac.new(key, trigram.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _search_key(secret: bytes) -> bytes:
    return _derive(secret, _SEARCH_PURPOSE)


def query_hashes(ring: Keyring, grams: Iterable[str]) -> list[int]:
    """The hashes of ``grams`` under every key of the ring (a job's rows use the key its text is sealed
    with: rows not re-keyed after a rotation are still found)."""
    grams = list(grams)
    keys = [_search_key(secret) for secret in ring.keys.values()]
    return sorted({_hash(key, g) for key in keys for g in grams})


def replace_trigrams(session: Session, job_id: str, unit: str, folded: str | None) -> None:
    """Make ``transcript_trigrams`` hold the keyed hashes of ``folded``'s trigrams for the job; with no
    keyring, or ``folded`` ``None``, remove the job's rows.

    Only the difference is written: a correction changes a few rows, not the whole transcript's thousands.
    """
    ring = keyring_of(session)
    if ring is None or folded is None:
        session.execute(delete(_TRIGRAMS).where(_TRIGRAMS.c.job_id == job_id))
        return
    key = _search_key(ring.active()[1])
    wanted = {_hash(key, g) for g in trigrams(folded)}
    held = set(session.scalars(select(_TRIGRAMS.c.h).where(_TRIGRAMS.c.job_id == job_id)))
    gone = sorted(held - wanted)
    for start in range(0, len(gone), 500):
        session.execute(
            delete(_TRIGRAMS).where(
                _TRIGRAMS.c.job_id == job_id, _TRIGRAMS.c.h.in_(gone[start : start + 500])
            )
        )
    rows = [{"job_id": job_id, "unit": unit, "h": h} for h in sorted(wanted - held)]
    if rows:
        session.execute(insert(_TRIGRAMS), rows)


def count_by_key(engine: Engine) -> dict[str, int]:
    """How many values of the sealed columns are under each key id (``clear``: not sealed)."""
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for table, (_, columns) in SEALED_COLUMNS.items():
            for column in columns:
                heads = connection.execute(
                    text(
                        f"SELECT substr(CAST({column} AS TEXT), 1, 64) FROM {table} "  # names, not input
                        f"WHERE {column} IS NOT NULL"
                    )
                ).scalars()
                for head in heads:
                    key_id = key_id_of(head.lstrip('"')) or "clear"
                    counts[key_id] = counts.get(key_id, 0) + 1
    return counts


def _rehash(connection: Any, ring: Keyring, job_id: str, unit: str, folded: str) -> None:
    connection.execute(delete(_TRIGRAMS).where(_TRIGRAMS.c.job_id == job_id))
    key = _search_key(ring.active()[1])
    hashes = sorted({_hash(key, g) for g in trigrams(folded)})
    if hashes:
        connection.execute(insert(_TRIGRAMS), [{"job_id": job_id, "unit": unit, "h": h} for h in hashes])


def seal_rows(engine: Engine, ring: Keyring, *, rekey: bool = False, batch: int = 500) -> int:
    """Seal the sealed columns' values left in clear (an idempotent upgrade: rows written before
    encryption at rest was on); with ``rekey``, re-seal too the values under another key than the active
    one (after a rotation, before the old keys are retired). The search rows sealed again get their
    trigram hashes again, under the active key.

    Returns:
        The number of rows changed.
    """
    active, _ = ring.active()
    sqlite = engine.dialect.name == "sqlite"
    changed = 0
    for table, (pk, columns) in SEALED_COLUMNS.items():
        for column in columns:
            label = f"{table}.{column}"
            quoted = sqlite and column == "options"  # a JSON column there: a sealed value is a JSON string
            lead = '"' if quoted else ""
            # the values to leave: sealed (under the active key, with rekey)
            pattern = f"{lead}{PREFIX}{active}:%" if rekey else f"{lead}{PREFIX}%"
            extra = ", unit" if table == "transcript_search" else ""
            last: Any = None
            while True:
                after = "" if last is None else f" AND {pk} > :last"
                with engine.begin() as connection:
                    rows = connection.execute(
                        text(
                            f"SELECT {pk}, CAST({column} AS TEXT){extra} FROM {table} "
                            f"WHERE {column} IS NOT NULL AND CAST({column} AS TEXT) NOT LIKE :pattern"
                            f"{after} ORDER BY {pk} LIMIT {int(batch)}"
                        ),
                        {"pattern": pattern, "last": last},
                    ).all()
                    for row in rows:
                        raw: str = row[1]
                        held = json.loads(raw) if quoted else raw
                        is_sealed = isinstance(held, str) and held.startswith(PREFIX)
                        clear = unseal(ring, label, held) if is_sealed else raw
                        value = seal(ring, label, clear)
                        connection.execute(
                            text(f"UPDATE {table} SET {column} = :value WHERE {pk} = :pk"),
                            {"value": json.dumps(value) if quoted else value, "pk": row[0]},
                        )
                        if table == "transcript_search":
                            _rehash(connection, ring, row[0], row[2], clear)
                    changed += len(rows)
                if len(rows) < batch:
                    break
                last = rows[-1][0]
    return changed
