"""verbatim: on-premise transcription of hearings (who said what), translation and pseudonymisation.

The library's stages are in :mod:`verbatim.pipeline`; the service (API, workers) in :mod:`verbatim.api`,
:mod:`verbatim.workers` and :mod:`verbatim.jobs`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["__version__"]

try:
    __version__: str = version("verbatim")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
