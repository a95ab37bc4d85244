"""The long-recording builder: deterministic plan, exact length, pauses between clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verbatim.bench.common import BenchError
from verbatim.bench.long import MAX_GAP, MIN_GAP, SAMPLE_RATE, plan_long_recording, write_long_recording


def test_plan_reaches_length_with_bounded_gaps() -> None:
    durations = [4.0, 10.0, 7.5]
    plan = plan_long_recording(durations, 600.0, seed=1)
    total = sum(p.gap_s + durations[p.source] for p in plan)
    assert total >= 600.0
    assert total - (plan[-1].gap_s + durations[plan[-1].source]) < 600.0  # stops as soon as it is long enough
    assert plan[0].gap_s == 0.0
    assert all(MIN_GAP <= p.gap_s <= MAX_GAP for p in plan[1:])
    counts = np.bincount([p.source for p in plan], minlength=3)
    assert counts.max() - counts.min() <= 1  # every clip used evenly: reshuffled passes


def test_plan_is_deterministic() -> None:
    assert plan_long_recording([3.0, 5.0], 120.0, seed=7) == plan_long_recording([3.0, 5.0], 120.0, seed=7)
    assert plan_long_recording([3.0, 5.0], 120.0, seed=7) != plan_long_recording([3.0, 5.0], 120.0, seed=8)


def test_plan_rejects_bad_input() -> None:
    with pytest.raises(BenchError):
        plan_long_recording([], 10.0)
    with pytest.raises(BenchError):
        plan_long_recording([0.0], 10.0)
    with pytest.raises(BenchError):
        plan_long_recording([1.0], 0.0)


@pytest.mark.parametrize("seconds", [5.0, 33.3, 61.0])
def test_written_file_has_exact_length(tmp_path: Path, seconds: float) -> None:
    import soundfile as sf

    rng = np.random.default_rng(0)
    sources = [
        (rng.standard_normal(n) * 0.1).astype(np.float32) for n in (2 * SAMPLE_RATE, 3 * SAMPLE_RATE + 17)
    ]
    path = tmp_path / "long.flac"
    duration = write_long_recording(sources, seconds, path, seed=3)
    assert duration == pytest.approx(seconds, abs=1 / SAMPLE_RATE)
    info = sf.info(str(path))
    assert info.samplerate == SAMPLE_RATE and info.channels == 1
    assert info.frames == round(seconds * SAMPLE_RATE)
    samples, _ = sf.read(str(path), dtype="float32")
    # the pause after the first clip is silent
    first = len(sources[plan_first(seed=3, sources=sources)])
    gap = samples[first : first + int(MIN_GAP * SAMPLE_RATE)]
    if len(gap):
        assert np.abs(gap).max() == 0.0


def plan_first(*, seed: int, sources: list[np.ndarray]) -> int:
    return plan_long_recording([len(s) / SAMPLE_RATE for s in sources], 1.0, seed=seed)[0].source
