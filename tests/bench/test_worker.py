"""The worker's bookkeeping (warm-up, clip selection) and generated audio, with a fake system."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from verbatim.bench import worker


def test_generated_audio() -> None:
    silence = worker.generated_audio("silence", 2.0)
    assert silence.duration == 2.0 and not silence.samples.any()
    noise = worker.generated_audio("noise", 2.0)
    assert noise.samples.dtype == np.float32
    assert float(noise.samples.std()) == pytest.approx(worker.NOISE_RMS, rel=0.05)
    assert np.array_equal(noise.samples, worker.generated_audio("noise", 2.0).samples)  # seeded
    with pytest.raises(ValueError):
        worker.generated_audio("music", 1.0)


def _fake(calls: list[str]) -> Any:
    def load() -> tuple[Any, dict[str, Any]]:
        def run(clip: dict[str, Any]) -> dict[str, Any]:
            calls.append(clip["id"])
            return {"process_s": 0.1, "audio_s": 1.0, "text": ""}

        return run, {"fake": True}

    return load


@pytest.mark.parametrize(
    ("clips", "expected_calls", "expected_results"),
    [
        (
            [{"id": "a", "kind": "asr"}, {"id": "b", "kind": "asr"}, {"id": "m", "kind": "diarization"}],
            ["a", "a", "b"],
            ["a", "b"],
        ),
        (
            [{"id": "w", "kind": "asr", "warmup_only": True}, {"id": "long", "kind": "asr"}],
            ["w", "long"],
            ["long"],
        ),
    ],
)
def test_run_system_warms_up_apart(
    monkeypatch: pytest.MonkeyPatch,
    clips: list[dict[str, Any]],
    expected_calls: list[str],
    expected_results: list[str],
) -> None:
    calls: list[str] = []
    monkeypatch.setitem(worker._LOADERS, "ours", _fake(calls))
    result = worker.run_system("ours", clips)
    assert calls == expected_calls
    assert [r["id"] for r in result["clips"]] == expected_results
    assert result["warmup_s"] is not None and result["peak_rss_mb"] > 0
