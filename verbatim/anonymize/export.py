"""Pseudonymised copies in every export format.

JSON gets the top-level ``"pseudonymization"`` header (policy, counts per category, key fingerprint; never an
original text); the other formats are rendered from the pseudonymised transcript with a title that says it
is a pseudonymised copy.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Final

from verbatim.anonymize.engine import PseudonymizationMapping
from verbatim.pipeline.export import ExportOptions, render, transcript_to_dict
from verbatim.pipeline.types import Transcript

__all__ = ["COPY_SUFFIX", "pseudonymized_document", "render_pseudonymized"]

COPY_SUFFIX: Final = " — copie pseudonymisée"
_DEFAULT: Final = ExportOptions()


def pseudonymized_document(transcript: Transcript, mapping: PseudonymizationMapping) -> dict[str, Any]:
    """The transcript JSON document of a pseudonymised copy (``verbatim.transcript/1`` + its header)."""
    document = transcript_to_dict(transcript)
    document["pseudonymization"] = mapping.header()
    return document


def render_pseudonymized(
    transcript: Transcript,
    fmt: str,
    mapping: PseudonymizationMapping,
    *,
    options: ExportOptions = _DEFAULT,
) -> bytes:
    """A pseudonymised transcript in one of the export formats.

    Args:
        transcript: the pseudonymised transcript (from :func:`~verbatim.anonymize.pseudonymize_transcript`).
        fmt: json, txt, srt, vtt or docx.
        mapping: its correspondence table (only its header is written).
        options: layout options; the title gets " — copie pseudonymisée".
    """
    if fmt.lower() == "json":
        text = json.dumps(pseudonymized_document(transcript, mapping), ensure_ascii=False, indent=2)
        return (text + "\n").encode("utf-8")
    title = options.title if options.title.endswith(COPY_SUFFIX) else options.title + COPY_SUFFIX
    return render(transcript, fmt, options=replace(options, title=title))
