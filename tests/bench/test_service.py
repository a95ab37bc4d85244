"""The pure helpers of `verbatim bench service`: percentiles, throughput and the tables."""

from __future__ import annotations

import math

import pytest

from verbatim.bench.service import PhaseResult, percentile, service_tables, throughput


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order does not matter


def test_percentile_of_nothing_or_one_value() -> None:
    assert percentile([], 95) is None
    assert percentile([math.nan], 95) is None
    assert percentile([7.0], 95) == 7.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_throughput_and_phase_figures() -> None:
    assert throughput(240.0, 60.0) == 4.0
    assert throughput(240.0, 0.0) is None
    phase = PhaseResult(
        workers=2, jobs=4, audio_s=240.0, wall_s=80.0, succeeded=4, latencies_ms=[1.0, 3.0, 2.0]
    )
    d = phase.to_dict()
    assert d["throughput_audio_s_per_s"] == 3.0
    assert d["latency_ms"]["count"] == 3 and d["latency_ms"]["max"] == 3.0
    assert d["latency_ms"]["p50"] == 2.0
    empty = PhaseResult(workers=1, jobs=0, audio_s=0.0, wall_s=0.0, succeeded=0).to_dict()
    assert empty["latency_ms"] == {"count": 0, "p50": None, "p95": None, "max": None}


def test_service_tables_show_every_phase_and_the_ratios() -> None:
    one = PhaseResult(1, 4, 240.0, 120.0, 4, [2.0, 4.0]).to_dict()
    two = PhaseResult(2, 4, 240.0, 70.0, 4, [3.0, 9.0]).to_dict()
    data = {
        "mode": "distributed",
        "split_seconds": 60.0,
        "throughput": [one, two],
        "long": [PhaseResult(1, 1, 240.0, 100.0, 1).to_dict(), PhaseResult(2, 1, 240.0, 55.0, 1).to_dict()],
        "ratios": {"throughput_2_over_1": 120.0 / 70.0, "long_speedup_2_over_1": 100.0 / 55.0},
    }
    tables = service_tables(data)
    assert len(tables) == 3
    assert "distributed" in tables[0] and "p95 ms" in tables[0] and "4/4" in tables[0]
    assert "split every 60.0 s" in tables[1]
    assert "1.71x" in tables[2] and "1.82x" in tables[2]


def test_service_tables_without_two_workers_show_dashes() -> None:
    data = {
        "mode": "embedded",
        "throughput": [PhaseResult(1, 2, 120.0, 60.0, 2, [1.0]).to_dict()],
        "long": [],
        "ratios": {"throughput_2_over_1": None, "long_speedup_2_over_1": None},
    }
    tables = service_tables(data)
    assert len(tables) == 2
    assert "embedded" in tables[0]
    ratio_lines = [line for line in tables[1].splitlines() if "throughput" in line or "speed-up" in line]
    assert all(line.rstrip().endswith("-") for line in ratio_lines)
