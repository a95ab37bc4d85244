"""The worker's bookkeeping (warm-up, clip selection) and generated audio, with a fake system."""

from __future__ import annotations

from types import SimpleNamespace
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


def test_phone_band_keeps_speech_band_and_removes_the_rest() -> None:
    from verbatim.bench.worker import phone_band

    rate = 16_000
    t = np.arange(rate * 2) / rate

    def level(freq: float) -> float:
        tone = (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
        out = phone_band(tone)
        assert out.dtype == np.float32 and out.shape == tone.shape
        middle = out[rate // 2 : -rate // 2]  # away from the filter's edges
        return float(np.sqrt(np.mean(middle**2)) / np.sqrt(np.mean(tone**2)))

    assert level(1000.0) > 0.8  # inside 300-3400 Hz: passes
    assert level(100.0) < 0.1  # mains hum, a low voice's fundamental: cut
    assert level(6000.0) < 0.01  # above a phone line's 4 kHz Nyquist: gone


def test_pair_runs_both_on_the_same_audio_alternating_who_goes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []

    def system(name: str) -> Any:
        def load() -> tuple[Any, dict[str, Any]]:
            def run(audio: object) -> dict[str, Any]:
                calls.append((name, audio))
                return {"process_s": 1.0 if name == "ours" else 2.0, "audio_s": 5.0, "text": name}

            return run, {"name": name}

        return load

    monkeypatch.setattr(worker, "_ours_on_audio", system("ours"))
    monkeypatch.setattr(worker, "_plain_on_audio", system("plain"))
    monkeypatch.setattr(worker, "_audio", lambda clip: SimpleNamespace(id=clip["id"], duration=5.0))
    clips = [{"id": "a", "kind": "asr"}, {"id": "b", "kind": "asr"}]
    result = worker.run_system("pair", clips, warmup=False)
    assert [name for name, _ in calls] == ["ours", "plain", "plain", "ours"]
    assert [audio.id for _, audio in calls] == ["a", "a", "b", "b"]  # type: ignore[attr-defined]
    assert calls[0][1] is calls[1][1]  # one decoded audio for the two
    first = result["clips"][0]
    assert first["ours"]["text"] == "ours" and first["plain"]["text"] == "plain"
    assert first["process_s"] == 3.0 and first["first"] == "ours" and result["clips"][1]["first"] == "plain"
    assert result["info"] == {"ours": {"name": "ours"}, "plain": {"name": "plain"}}
