"""The released recording: a 1 kHz tone exactly where the replaced words were (plus the margin)."""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA
from verbatim.anonymize.audio import (
    TONE_HZ,
    cover_with_tone,
    encode_release,
    release_recording,
    tone_intervals,
)
from verbatim.pipeline.decode import decode

RATE = 16_000


def tone_level(samples: np.ndarray, start: float, end: float) -> float:
    """Share of the energy of samples[start:end] at 1 kHz (1.0: a pure 1 kHz tone)."""
    chunk = samples[int(start * RATE) : int(end * RATE)].astype(np.float64)
    if len(chunk) == 0 or not np.any(chunk):
        return 0.0
    spectrum = np.abs(np.fft.rfft(chunk * np.hanning(len(chunk)))) ** 2
    freqs = np.fft.rfftfreq(len(chunk), 1 / RATE)
    band = (freqs > TONE_HZ - 30) & (freqs < TONE_HZ + 30)
    return float(spectrum[band].sum() / spectrum.sum())


def test_intervals_are_widened_clipped_and_merged() -> None:
    got = tone_intervals([(1.0, 1.5), (1.6, 2.0), (9.95, 10.0)], duration=10.0, margin=0.15)
    assert [x for pair in got for x in pair] == pytest.approx([0.85, 2.15, 9.8, 10.0])


def test_tone_exactly_covers_the_words_and_nothing_else() -> None:
    rng = np.random.default_rng(0)
    speech = (0.1 * rng.standard_normal(RATE * 6)).astype(np.float32)
    words = [(1.2, 1.7), (3.0, 3.4)]  # e.g. "Julie" and "Martin" from word timestamps
    covered = tone_intervals(words, duration=6.0, margin=0.15)
    out = cover_with_tone(speech, covered)
    assert np.array_equal(speech, cover_with_tone(speech, []))  # input untouched, copy equal
    for start, end in covered:
        a, b = int(np.floor(start * RATE)), int(np.ceil(end * RATE))
        assert tone_level(out, start, end) > 0.99
        # Outside: the original samples, bit for bit.
        assert np.array_equal(
            out[: int(np.floor(covered[0][0] * RATE))], speech[: int(np.floor(covered[0][0] * RATE))]
        )
        assert not np.array_equal(out[a:b], speech[a:b])
    mask = np.ones(len(speech), dtype=bool)
    for start, end in covered:
        mask[int(np.floor(start * RATE)) : int(np.ceil(end * RATE))] = False
    assert np.array_equal(out[mask], speech[mask])
    # The margin is there: 0.1 s before the first word is already tone.
    assert tone_level(out, 1.08, 1.2) > 0.95
    assert tone_level(out, 0.5, 1.0) < 0.05


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_release_of_a_real_recording_in_wav_and_flac(tmp_path: Path, fmt: str) -> None:
    source = DATA / "picovoice_test_fr.wav"
    original = decode(source).samples
    words = [(0.8, 1.3), (2.0, 2.6)]
    data = release_recording(source, words, fmt=fmt, margin=0.15)
    path = tmp_path / f"release.{fmt}"
    path.write_bytes(data)
    released = decode(path).samples
    assert abs(len(released) - len(original)) <= 1
    for start, end in tone_intervals(words, duration=len(original) / RATE, margin=0.15):
        assert tone_level(released, start + 0.01, end - 0.01) > 0.99
    # Between the covered stretches the speech is still there (16-bit rounding aside).
    assert (
        np.max(
            np.abs(released[int(1.6 * RATE) : int(1.8 * RATE)] - original[int(1.6 * RATE) : int(1.8 * RATE)])
        )
        < 1e-3
    )
    assert tone_level(released, 1.5, 1.8) < 0.5


def test_wav_header() -> None:
    data = encode_release(np.zeros(RATE, dtype=np.float32), "wav")
    with wave.open(io.BytesIO(data)) as handle:
        assert (handle.getframerate(), handle.getnchannels(), handle.getnframes()) == (RATE, 1, RATE)
