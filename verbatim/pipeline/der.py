"""Diarisation error rate and RTTM reading, for benchmarks and tests.

DER = (missed speech + false alarm + speaker confusion) / reference speech, after the optimal one-to-one
mapping
of hypothesis speakers onto reference speakers (computed by pyannote.metrics, the reference implementation
used
in the literature). Overlapping speech is scored (``skip_overlap=False``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from verbatim.pipeline.types import Diarization, SpeakerTurn

__all__ = ["diarization_error_rate", "read_rttm", "read_uem"]


def _annotation(turns: Iterable[SpeakerTurn]) -> Any:
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for index, turn in enumerate(turns):
        if turn.end > turn.start:
            annotation[Segment(turn.start, turn.end), index] = turn.speaker
    return annotation


def diarization_error_rate(
    reference: list[SpeakerTurn],
    hypothesis: Diarization | list[SpeakerTurn],
    uem: tuple[float, float] | None = None,
    collar: float = 0.0,
) -> float:
    """Diarisation error rate of ``hypothesis`` against ``reference``.

    Args:
        reference: true speaker turns (may overlap).
        hypothesis: a :class:`Diarization` or its turns.
        uem: (start, end) of the scored region; default: the extent of both reference and hypothesis.
        collar: seconds forgiven on each side of every reference boundary (total collar is twice this, as in
            ``md-eval -c``; pyannote.metrics takes the full width, so ``2 * collar`` is passed to it).

    Returns:
        DER as a fraction (0.0 is perfect; can exceed 1.0). When the reference has no speech in the scored
        region: 0.0 if the hypothesis has none either, else ``inf``.
    """
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    hyp_turns = list(hypothesis.turns) if isinstance(hypothesis, Diarization) else list(hypothesis)
    ref = _annotation(reference)
    hyp = _annotation(hyp_turns)
    if uem is None:
        times = [t.start for t in [*reference, *hyp_turns]] + [t.end for t in [*reference, *hyp_turns]]
        if not times:
            return 0.0
        uem = (min(times), max(times))
    metric = DiarizationErrorRate(collar=2 * collar, skip_overlap=False)
    components = metric(ref, hyp, uem=Timeline([Segment(*uem)]), detailed=True)
    total = components["total"]
    errors = components["missed detection"] + components["false alarm"] + components["confusion"]
    if total == 0:
        return 0.0 if errors == 0 else float("inf")
    return float(errors / total)


def read_rttm(path: str | Path) -> dict[str, list[SpeakerTurn]]:
    """Read an RTTM file into {file id: turns sorted by start}.

    Only ``SPEAKER`` lines are read: ``SPEAKER <file> <chan> <onset> <duration> <NA> <NA> <speaker> ...``.
    """
    out: dict[str, list[SpeakerTurn]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) < 8 or fields[0] != "SPEAKER":
            continue
        onset, duration = float(fields[3]), float(fields[4])
        out.setdefault(fields[1], []).append(
            SpeakerTurn(start=onset, end=onset + duration, speaker=fields[7])
        )
    for turns in out.values():
        turns.sort(key=lambda t: (t.start, t.end))
    return out


def read_uem(path: str | Path) -> dict[str, tuple[float, float]]:
    """Read a UEM file (``<file> <chan> <start> <end>``) into {file id: (start, end)} (first region per
    file)."""
    out: dict[str, tuple[float, float]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 4:
            out.setdefault(fields[0], (float(fields[2]), float(fields[3])))
    return out
