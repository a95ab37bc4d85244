"""What ``verbatim pseudonymize FILE`` does, apart from the command line itself.

A file is either a transcript JSON (``verbatim.transcript/1``) or UTF-8 text. The output is the pseudonymised
copy (or, with ``spans``, the detected spans as JSON); the encrypted correspondence table is written only when
asked for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from verbatim.anonymize.engine import (
    PseudonymizationMapping,
    join_texts,
    pseudonymize_text,
    pseudonymize_transcript,
    split_spans,
)
from verbatim.anonymize.export import render_pseudonymized
from verbatim.anonymize.layout import strip_invisible
from verbatim.anonymize.people import hide_known
from verbatim.anonymize.policy import Policy
from verbatim.errors import InvalidOptionError
from verbatim.pipeline.types import Transcript

__all__ = ["PseudonymizeOutput", "hide_list", "pseudonymize_file", "read_input", "reveal_file"]


@dataclass(frozen=True)
class PseudonymizeOutput:
    """The bytes to write and the table that goes with them."""

    content: bytes
    mapping: PseudonymizationMapping | None


def read_input(path: Path) -> Transcript | str:
    """A transcript when the file is a transcript JSON, else its text.

    Raises:
        InvalidOptionError: not UTF-8, or JSON that is not a transcript.
    """
    from verbatim.pipeline.export import transcript_from_dict

    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InvalidOptionError(f"{path.name} is neither UTF-8 text nor a transcript JSON") from e
    stripped = raw.lstrip()
    if stripped.startswith("{"):
        try:
            document = json.loads(raw)
        except json.JSONDecodeError:
            return raw
        if isinstance(document, dict) and "schema" in document:
            return transcript_from_dict(document)
    return raw


def pseudonymize_file(
    path: Path,
    policy: Policy,
    *,
    fmt: str | None,
    spans: bool,
    language: str,
    key: bytes | None,
    hide: Sequence[str] = (),
) -> PseudonymizeOutput:
    """Pseudonymise a text file or a transcript JSON.

    Args:
        path: the input.
        policy: what to replace and how.
        fmt: for a transcript, the output format (default json); a text gives text.
        spans: give the detected spans (start, end, category, text) as JSON instead of a copy.
        language: language of a text file (a transcript says its own).
        key: AES key (policies that encrypt, and the table).
        hide: names always hidden (the case's list).

    Raises:
        InvalidOptionError: unreadable input, or a format that does not apply.
    """
    from verbatim.anonymize.analyzer import default_analyzer

    source = read_input(path)
    if isinstance(source, str):
        if fmt not in (None, "txt"):
            raise InvalidOptionError(f"{path.name} is plain text: its copy is plain text (no --format {fmt})")
        if spans:
            found = default_analyzer().analyze(source, language=language, known=hide_known(hide))
            return PseudonymizeOutput(_json([s.to_public() for s in found]), None)
        result, mapping = pseudonymize_text(source, policy, language=language, key=key, hide=hide)
        return PseudonymizeOutput(result.text.encode("utf-8"), mapping)
    if spans:
        # Segments are analysed together, as for the copy; offsets are within each segment's text.
        joined, bounds = join_texts([s.text for s in source.segments])
        found = default_analyzer().analyze(
            joined, language=source.language or language, known=hide_known(hide)
        )
        rows = [
            {"segment": segment.id, **span.to_public()}
            for segment, pieces in zip(source.segments, split_spans(found, bounds), strict=True)
            for span in pieces
        ]
        return PseudonymizeOutput(_json(rows), None)
    copy, mapping = pseudonymize_transcript(source, policy, key=key, hide=hide)
    return PseudonymizeOutput(render_pseudonymized(copy, fmt or "json", mapping), mapping)


def _json(value: object) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def hide_list(names: Sequence[str], files: Sequence[Path]) -> list[str]:
    """The names to always hide: given one by one, and read from files (UTF-8, one name a line, ``#``
    comments), invisible characters removed.

    Raises:
        InvalidOptionError: a file cannot be read.
    """
    out = [strip_invisible(n).strip() for n in names]
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidOptionError(f"cannot read the hide list {path.name}: {e}") from e
        out.extend(strip_invisible(line.split("#", 1)[0]).strip() for line in lines)
    return [n for n in dict.fromkeys(out) if n]


def reveal_file(path: Path, table: bytes, key: bytes) -> bytes:
    """Re-identify a pseudonymised text or transcript JSON with its encrypted table and the key.

    Raises:
        InvalidOptionError: unreadable input, a table this key does not open, or a copy the table does not
            match (no replacement found where the table says).
    """
    from verbatim.anonymize.reveal import read_table, reveal_checked

    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidOptionError(f"cannot read {path.name}: {e}") from e
    return reveal_checked(raw, read_table(table, key), path.name).content.encode("utf-8")
