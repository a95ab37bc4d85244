"""Export formats: render a transcript as JSON, plain text, SRT, WebVTT, DOCX, ODT or PDF.

One module per format, each exposing ``render_<format>(transcript, options) -> bytes``; :func:`render` picks
one by name. DOCX's python-docx and ODT's odfpy are imported only when such a document is rendered; the PDF
is the ODT rendered by LibreOffice headless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.export.json_format import (
    SCHEMA,
    document_bytes,
    render_json,
    transcript_from_dict,
    transcript_from_json,
    transcript_to_dict,
)
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.export.srt_format import render_srt
from verbatim.pipeline.export.txt_format import render_txt
from verbatim.pipeline.export.vtt_format import render_vtt
from verbatim.pipeline.types import Transcript

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "SCHEMA",
    "ExportOptions",
    "Renderer",
    "document_bytes",
    "render",
    "transcript_from_dict",
    "transcript_from_json",
    "transcript_to_dict",
]

Renderer = Callable[[Transcript, ExportOptions], bytes]


def _render_docx(transcript: Transcript, options: ExportOptions) -> bytes:
    from verbatim.pipeline.export.docx_format import render_docx

    return render_docx(transcript, options)


def _render_odt(transcript: Transcript, options: ExportOptions) -> bytes:
    from verbatim.pipeline.export.odt_format import render_odt

    return render_odt(transcript, options)


def _render_pdf(transcript: Transcript, options: ExportOptions) -> bytes:
    from verbatim.pipeline.export.pdf_format import render_pdf

    return render_pdf(transcript, options)


_RENDERERS: Final[dict[str, Renderer]] = {
    "json": render_json,
    "txt": render_txt,
    "srt": render_srt,
    "vtt": render_vtt,
    "docx": _render_docx,
    "odt": _render_odt,
    "pdf": _render_pdf,
}

FORMATS: Final = ("json", "txt", "srt", "vtt", "docx", "odt", "pdf")
"""Format names, also the file extensions."""

MEDIA_TYPES: Final[dict[str, str]] = {
    "json": "application/json",
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "pdf": "application/pdf",
}
"""HTTP Content-Type of each format."""


_DEFAULT_OPTIONS: Final = ExportOptions()  # frozen, so one shared default is safe


def render(transcript: Transcript, fmt: str, *, options: ExportOptions = _DEFAULT_OPTIONS) -> bytes:
    """Render a transcript in one of :data:`FORMATS`.

    Args:
        transcript: the transcript to render; not modified.
        fmt: a format name from :data:`FORMATS` (case-insensitive).
        options: layout options (title, case fields, subtitle limits, ...).

    Returns:
        The rendered file's bytes (UTF-8 for the text formats).

    Raises:
        InvalidOptionError: ``fmt`` is not a known format.
    """
    renderer = _RENDERERS.get(fmt.lower()) if isinstance(fmt, str) else None
    if renderer is None:
        raise InvalidOptionError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if options.subtitles not in ("original", "translation"):
        raise InvalidOptionError(f"unknown subtitles {options.subtitles!r}: choose original or translation")
    if options.subtitles == "translation" and fmt.lower() in ("srt", "vtt"):
        from verbatim.pipeline.export._translation import translation_view

        transcript = translation_view(transcript)
    return renderer(transcript, options)
