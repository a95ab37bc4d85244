"""Progress reporting through an injected hook (the pyannote habit).

A stage calls ``hook(step, completed=..., total=...)`` as it goes; the CLI maps that onto a progress bar and
the worker onto Celery task state. Stages never print.

Steps are the stages' own units of work; :data:`STAGES` names what a user is told is running, and
:func:`stage_of` maps a step onto it (language detection and the re-transcription of passages in another
language are both ``languages``).
"""

from __future__ import annotations

from typing import Literal, Protocol, get_args

__all__ = ["STAGES", "ProgressHook", "Stage", "null_hook", "stage_of"]

Stage = Literal["decode", "transcribe", "languages", "diarise", "translate", "pseudonymise"]
STAGES: tuple[Stage, ...] = get_args(Stage)
"""The stages of a transcription, in the order they run."""

_STEP_STAGE: dict[str, Stage] = {
    "decode": "decode",
    "transcribe": "transcribe",
    "language": "languages",
    "relanguage": "languages",
    "diarize": "diarise",
    "translate": "translate",
    "pseudonymize": "pseudonymise",
}


def stage_of(step: str) -> Stage | None:
    """The stage a progress step belongs to (``None`` for a step of no known stage)."""
    return _STEP_STAGE.get(step)


class ProgressHook(Protocol):
    def __call__(self, step: str, *, completed: float, total: float) -> None:
        """Report that ``completed`` of ``total`` units of ``step`` are done (units are the stage's)."""


def null_hook(step: str, *, completed: float, total: float) -> None:
    """A hook that ignores progress."""
