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
