from __future__ import annotations

import pytest

from verbatim.jobs.stages import get_asr, get_diarizer
from verbatim.ops.settings import get_settings


@pytest.mark.models
def test_models_are_loaded_once_per_process() -> None:
    settings = get_settings()
    assert get_asr(settings) is get_asr(settings)
    assert get_asr(settings, "whisper-base") is get_asr(settings)
    assert get_diarizer(settings) is get_diarizer(settings)


def test_each_model_has_its_own_lock() -> None:
    """A slow load of one model does not hold up another; two threads asking for one model load it once."""
    import threading

    from verbatim.jobs.stages import ModelCache

    cache: ModelCache[str] = ModelCache()
    slow_started, release = threading.Event(), threading.Event()
    loads: list[str] = []

    def slow() -> str:
        loads.append("a")
        slow_started.set()
        assert release.wait(10)
        return "model a"

    first = threading.Thread(target=lambda: cache.get("a", slow))
    second_result: list[str] = []
    second = threading.Thread(target=lambda: second_result.append(cache.get("a", slow)))
    first.start()
    assert slow_started.wait(10)
    second.start()
    # "a" is loading (its lock held): "b" loads meanwhile
    assert cache.get("b", lambda: "model b") == "model b"
    release.set()
    first.join(10)
    second.join(10)
    assert second_result == ["model a"] and loads == ["a"]  # loaded once
    cache.clear()
    assert cache.get("a", lambda: "reloaded") == "reloaded"
