"""PDF/A (for filing and archiving) rendered by LibreOffice headless from the ODT of the transcript.

LibreOffice comes from the distribution's packages (``libreoffice-writer-nogui``, installed by
``scripts/setup.sh``); each conversion runs ``soffice --headless --convert-to pdf`` in a temporary folder with
a private user profile (``-env:UserInstallation``), so that conversions running at once, or under different
users, never share LibreOffice's lock and settings. Nothing is fetched from the network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Final

from verbatim.errors import DocumentEngineError
from verbatim.pipeline.export.options import ExportOptions
from verbatim.pipeline.types import Transcript

__all__ = ["PDF_FILTER", "PdfEngineError", "find_soffice", "render_pdf", "to_pdf"]

# writer_pdf_Export with PDF/A-2b (SelectPdfVersion 2): fonts embedded, no encryption, XMP metadata.
PDF_FILTER: Final = 'pdf:writer_pdf_Export:{"SelectPdfVersion":{"type":"long","value":"2"}}'
_TIMEOUT_S: Final = 180.0


PdfEngineError = DocumentEngineError
"""LibreOffice is missing or failed to make the PDF (an HTTP 503)."""


def find_soffice() -> str | None:
    """The ``soffice`` program to run: ``VERBATIM_SOFFICE`` when set, else the one on ``PATH``."""
    return os.environ.get("VERBATIM_SOFFICE") or shutil.which("soffice") or shutil.which("libreoffice")


def to_pdf(document: bytes, suffix: str, *, timeout: float = _TIMEOUT_S) -> bytes:
    """Convert an office document (``.odt`` or ``.docx``) to PDF/A with LibreOffice headless.

    Args:
        document: the document's bytes.
        suffix: its extension, with the dot (LibreOffice picks the import filter by it).
        timeout: seconds before the conversion is given up.

    Raises:
        PdfEngineError: ``soffice`` is not installed, failed, or made no PDF.
    """
    soffice = find_soffice()
    if soffice is None:
        raise PdfEngineError(
            "PDF needs LibreOffice: install it with scripts/setup.sh (Debian package "
            "libreoffice-writer-nogui) or set VERBATIM_SOFFICE to the soffice program."
        )
    with tempfile.TemporaryDirectory(prefix="verbatim-pdf-") as tmp:
        folder = Path(tmp)
        source = folder / f"transcript{suffix}"
        source.write_bytes(document)
        command = [
            soffice,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless", "--norestore", "--nolockcheck", "--nodefault", "--nologo",
            "--convert-to", PDF_FILTER, "--outdir", str(folder / "out"), str(source),
        ]  # fmt: skip
        # HOME in the folder too: LibreOffice writes caches there; nothing of the user's is read.
        env = {**os.environ, "HOME": tmp, "SAL_USE_VCLPLUGIN": "svp"}
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, env=env, check=False)
        except subprocess.TimeoutExpired as e:
            raise PdfEngineError(f"LibreOffice did not make the PDF within {timeout:.0f} s.") from e
        except OSError as e:
            raise PdfEngineError(f"LibreOffice could not be started ({e.strerror}).") from e
        made = folder / "out" / "transcript.pdf"
        if done.returncode != 0 or not made.is_file():
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise PdfEngineError(f"LibreOffice failed to make the PDF (exit {done.returncode}: {tail[0]}).")
        return made.read_bytes()


def render_pdf(transcript: Transcript, options: ExportOptions) -> bytes:
    """The transcript as a PDF/A document: its ODT rendered by LibreOffice (A4, procès-verbal layout)."""
    from verbatim.pipeline.export.odt_format import render_odt

    return to_pdf(render_odt(transcript, options), ".odt")
