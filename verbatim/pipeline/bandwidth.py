"""How wide a recording's band is: a phone line (or a cheap recorder) keeps nothing above 4 kHz.

Two stages read it: the diariser (narrowband voices are all more alike, see
:class:`~verbatim.pipeline.diarize.DiarizationOptions`) and the ASR's voice activity detection (Silero's
speech probability drops on band-limited speech, see :class:`~verbatim.pipeline.asr.AsrOptions`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from verbatim.pipeline.types import SAMPLE_RATE

__all__ = ["NARROWBAND_FRACTION", "high_band_fraction", "is_narrowband"]

NARROWBAND_FRACTION = 1e-4
"""Below this share of its energy above 4.5 kHz a recording is taken as narrowband (telephone). On the
development recordings phone-line audio measures under 1e-6 and the least bright wideband one (far-field
AMI, a simulated conversation) 3.6e-4."""

_MAX_SAMPLES = 16 * 60 * SAMPLE_RATE
"""Longest stretch measured: past 16 minutes, evenly spaced excerpts of that length in all (the band of a
recording does not change every minute, and the Welch spectrum of hours would cost seconds)."""


def high_band_fraction(samples: npt.NDArray[np.float32]) -> float:
    """Share of the energy of 16 kHz ``samples`` above 4.5 kHz (Welch power spectrum): about 0 for speech
    that went through a telephone line (8 kHz sampling), percents for wideband speech.

    Measured minute by minute and summed, weighted by length (Welch on a whole hour at once holds its segments
    and their spectra in float64, about 2 GB); past 16 minutes, on evenly spaced one-minute excerpts."""
    from scipy.signal import welch

    if len(samples) < 512 or not np.any(samples):
        return 0.0
    piece = 60 * SAMPLE_RATE
    if len(samples) > _MAX_SAMPLES:
        starts = np.linspace(0, len(samples) - piece, _MAX_SAMPLES // piece).astype(np.int64)
    else:
        starts = np.arange(0, len(samples), piece, dtype=np.int64)
    power = np.zeros(257)
    freqs = np.zeros(257)
    for start in starts:
        part = samples[int(start) : int(start) + piece]
        if len(part) < 512:
            continue
        freqs, density = welch(np.asarray(part, dtype=np.float64), fs=SAMPLE_RATE, nperseg=512)
        power += density * len(part)
    total = float(power.sum())
    return float(power[freqs >= 4500.0].sum()) / total if total > 0 else 0.0


def is_narrowband(samples: npt.NDArray[np.float32]) -> bool:
    """Whether ``samples`` (16 kHz) hold something (not digital silence) with almost no energy above
    4.5 kHz: a telephone line, an 8 kHz recording brought to 16 kHz."""
    return bool(np.any(samples)) and high_band_fraction(samples) < NARROWBAND_FRACTION
