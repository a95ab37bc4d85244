"""Progress reporting through an injected hook (the pyannote habit).

A stage calls ``hook(step, completed=..., total=...)`` as it goes; the CLI maps that onto a progress bar and
the worker onto Celery task state. Stages never print.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["ProgressHook", "null_hook"]


class ProgressHook(Protocol):
    def __call__(self, step: str, *, completed: float, total: float) -> None:
        """Report that ``completed`` of ``total`` units of ``step`` are done (units are the stage's)."""


def null_hook(step: str, *, completed: float, total: float) -> None:
    """A hook that ignores progress."""
