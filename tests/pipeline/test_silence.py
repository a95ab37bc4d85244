"""The silence test that lets the ASR skip blocks in which nothing can have been said."""

from __future__ import annotations

import numpy as np

from tests.conftest import tone
from verbatim.pipeline.asr import is_silent


def test_digital_silence_and_faint_hiss_are_silent() -> None:
    assert is_silent(np.zeros(16000 * 30, np.float32))
    hiss = (np.random.default_rng(0).standard_normal(16000 * 30) * 1e-4).astype(np.float32)  # -80 dBFS
    assert is_silent(hiss)
    assert is_silent(np.zeros(0, np.float32)) and is_silent(np.zeros(100, np.float32))


def test_a_single_short_sound_makes_a_block_not_silent() -> None:
    block = np.zeros(16000 * 300, np.float32)
    block[16000 * 150 : 16000 * 150 + 3200] = tone(0.2, amplitude=0.01)  # 200 ms at -43 dBFS RMS
    assert not is_silent(block)
    assert not is_silent(tone(0.05, amplitude=0.5))  # shorter than a frame, loud
