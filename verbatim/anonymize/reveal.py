"""Re-identification by those entitled: a pseudonymised copy and its correspondence table give the original.

The table (written encrypted by ``verbatim pseudonymize --mapping`` and by the service) lists every
replacement with its place (``text``, or a segment's text, its translation, a speaker name), its offsets in
the original and both texts. Replacements are undone from the end of each text backwards, each checked
against the copy: a replacement whose alias is no longer where the table says (the copy was edited since) is
looked for nearby, and counted as missing when it cannot be found; nothing is guessed.
"""

from __future__ import annotations

import copy as copy_module
import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from verbatim.anonymize.crypto import decrypt_document
from verbatim.anonymize.engine import MAPPING_SCHEMA
from verbatim.errors import InvalidOptionError

__all__ = ["Revealed", "read_table", "reveal_checked", "reveal_content", "reveal_document", "reveal_text"]


@dataclass(frozen=True)
class Revealed:
    """A re-identified text or document, with how many replacements were undone and how many were not."""

    content: str
    restored: int
    missing: int


def read_table(data: bytes, key: bytes) -> dict[str, Any]:
    """Decrypt a correspondence table.

    Raises:
        InvalidOptionError: not a table, or not encrypted with this key.
    """
    try:
        table = decrypt_document(key, data)
    except Exception as e:  # the envelope's own errors: bad JSON, wrong key, altered ciphertext
        raise InvalidOptionError(f"cannot open the correspondence table with this key: {e}") from e
    if table.get("schema") != MAPPING_SCHEMA or not isinstance(table.get("replacements"), list):
        raise InvalidOptionError("the file is not a verbatim correspondence table")
    return table


def _undo(text: str, rows: list[dict[str, Any]]) -> tuple[str, int, int]:
    """``text`` with the replacements of ``rows`` (offsets in the original) undone."""
    rows = sorted(rows, key=lambda r: int(r["start"]))
    # Where each replacement stands in the copy: its original start moved by the earlier replacements.
    placed: list[tuple[int, dict[str, Any]]] = []
    shift = 0
    for row in rows:
        placed.append((int(row["start"]) + shift, row))
        shift += len(str(row["replacement"])) - (int(row["end"]) - int(row["start"]))
    restored = missing = 0
    for at, row in reversed(placed):
        alias, original = str(row["replacement"]), str(row["original"])
        if text[at : at + len(alias)] != alias:
            # The copy moved (edited after): the nearest occurrence of the alias before the expected place.
            found = text.rfind(alias, 0, at + len(alias))
            if found < 0:
                missing += 1
                continue
            at = found
        text = text[:at] + original + text[at + len(alias) :]
        restored += 1
    return text, restored, missing


def reveal_text(text: str, table: dict[str, Any]) -> Revealed:
    """The original of a pseudonymised plain text (the table's ``text`` replacements)."""
    rows = [r for r in table["replacements"] if r.get("where") == "text"]
    content, restored, missing = _undo(text, rows)
    return Revealed(content, restored, missing)


def reveal_document(document: dict[str, Any], table: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """The original of a pseudonymised transcript document (``verbatim.transcript/1`` JSON).

    Segment texts, translations and speaker names are restored exactly; a replaced word keeps its
    merged timing (one word for the whole name) with the original text.

    Returns:
        The document (a new one; the ``pseudonymization`` header removed), restored and missing counts.
    """
    out = copy_module.deepcopy(document)
    out.pop("pseudonymization", None)
    by_place: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in table["replacements"]:
        where = str(row.get("where"))
        index = str(row.get("speaker")) if where == "speaker" else str(row.get("index"))
        by_place[(where, index)].append(row)
    restored = missing = 0
    for segment in out.get("segments", []):
        sid = str(segment.get("id"))
        rows = by_place.get(("segment", sid), [])
        if rows:
            segment["text"], r, m = _undo(str(segment.get("text", "")), rows)
            restored, missing = restored + r, missing + m
            _undo_words(segment.get("words", []), rows)
        translation = segment.get("translation")
        rows = by_place.get(("translation", sid), [])
        if rows and isinstance(translation, dict):
            translation["text"], r, m = _undo(str(translation.get("text", "")), rows)
            restored, missing = restored + r, missing + m
    for speaker in out.get("speakers", []):
        rows = by_place.get(("speaker", str(speaker.get("id"))), [])
        if rows and speaker.get("name"):
            speaker["name"], r, m = _undo(str(speaker["name"]), rows)
            restored, missing = restored + r, missing + m
    return out, restored, missing


def _undo_words(words: list[dict[str, Any]], rows: list[dict[str, Any]]) -> None:
    cursor = 0
    for row in sorted(rows, key=lambda r: int(r["start"])):
        alias = str(row["replacement"])
        for k in range(cursor, len(words)):
            text = str(words[k].get("text", ""))
            if alias in text:
                words[k]["text"] = text.replace(alias, str(row["original"]), 1)
                cursor = k + 1
                break


def reveal_content(raw: str, table: dict[str, Any]) -> Revealed:
    """A pseudonymised text or transcript JSON, re-identified (the kind is read from the content).

    Raises:
        InvalidOptionError: a transcript in another format than JSON (only the JSON copy keeps the places).
    """
    stripped = raw.lstrip()
    if stripped.startswith("{"):
        try:
            document = json.loads(raw)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict) and "schema" in document:
            revealed, restored, missing = reveal_document(document, table)
            return Revealed(json.dumps(revealed, ensure_ascii=False, indent=2) + "\n", restored, missing)
    if any(r.get("where") != "text" for r in table["replacements"]) and not any(
        r.get("where") == "text" for r in table["replacements"]
    ):
        raise InvalidOptionError(
            "this table belongs to a transcript: reveal its JSON copy (TXT, SRT, VTT and DOCX copies do not "
            "keep the places of the replacements)"
        )
    return reveal_text(raw, table)


def reveal_checked(raw: str, table: dict[str, Any], what: str) -> Revealed:
    """:func:`reveal_content`, refusing a copy of which not one replacement is found (another job's copy).

    Raises:
        InvalidOptionError: ``what`` does not match the table, or a transcript copy not in JSON.
    """
    revealed = reveal_content(raw, table)
    if revealed.missing and not revealed.restored:
        raise InvalidOptionError(f"{what} does not match this correspondence table")
    return revealed
