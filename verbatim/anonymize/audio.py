"""A released copy of a recording in which every replaced word is covered by a tone.

The times come from the word timestamps of the pseudonymised transcript
(:attr:`~verbatim.anonymize.engine.PseudonymizationMapping.intervals`), widened by a safety margin on each
side, because ASR word boundaries are approximate. The samples there are *replaced* (not mixed) by a 1 kHz
tone, so nothing of the word is left underneath. The copy is written as 16 kHz mono WAV or FLAC.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.types import SAMPLE_RATE

__all__ = [
    "DEFAULT_MARGIN",
    "TONE_HZ",
    "cover_with_tone",
    "encode_release",
    "release_recording",
    "tone_intervals",
]

TONE_HZ: Final = 1000.0
DEFAULT_MARGIN: Final = 0.15
"""Seconds added before and after every replaced word."""
_AMPLITUDE: Final = 0.25


def tone_intervals(
    intervals: Iterable[tuple[float, float]], *, duration: float, margin: float = DEFAULT_MARGIN
) -> list[tuple[float, float]]:
    """The stretches to cover: each interval widened by ``margin``, clipped to the recording, merged."""
    if margin < 0:
        raise InvalidOptionError("the safety margin cannot be negative")
    widened = sorted((max(0.0, s - margin), min(duration, e + margin)) for s, e in intervals if e > s)
    merged: list[tuple[float, float]] = []
    for start, end in widened:
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def cover_with_tone(
    samples: npt.NDArray[np.float32],
    intervals: Iterable[tuple[float, float]],
    *,
    sample_rate: int = SAMPLE_RATE,
    frequency: float = TONE_HZ,
) -> npt.NDArray[np.float32]:
    """A copy of ``samples`` (mono) with each interval (seconds, already widened) replaced by a tone.

    The input is not modified. The tone's phase follows the absolute time, so adjacent intervals join
    without a click.
    """
    out = np.array(samples, dtype=np.float32, copy=True)
    for start, end in intervals:
        a = max(0, int(np.floor(start * sample_rate)))
        b = min(len(out), int(np.ceil(end * sample_rate)))
        if b <= a:
            continue
        t = np.arange(a, b, dtype=np.float64) / sample_rate
        out[a:b] = (_AMPLITUDE * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    return out


def encode_release(samples: npt.NDArray[np.float32], fmt: str, *, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float samples as a 16-bit WAV or a FLAC file.

    Raises:
        InvalidOptionError: a format other than wav or flac.
    """
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).round().astype("<i2")
    if fmt == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(sample_rate)
            handle.writeframes(pcm.tobytes())
        return buffer.getvalue()
    if fmt == "flac":
        import av

        buffer = io.BytesIO()
        with av.open(buffer, mode="w", format="flac") as container:
            stream = container.add_stream("flac", rate=sample_rate, layout="mono")
            frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
            frame.sample_rate = sample_rate
            for packet in stream.encode(frame):
                container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return buffer.getvalue()
    raise InvalidOptionError(f"released recordings are wav or flac, not {fmt!r}")


def release_recording(
    source: Path,
    intervals: Iterable[tuple[float, float]],
    *,
    fmt: str = "wav",
    margin: float = DEFAULT_MARGIN,
) -> bytes:
    """The released copy of a recording: decoded to 16 kHz mono, replaced words covered by the tone.

    Args:
        source: the original recording (any format FFmpeg reads).
        intervals: times of the replaced words (from the pseudonymisation table).
        fmt: wav or flac.
        margin: seconds added on each side of every word.
    """
    from verbatim.pipeline.decode import decode

    audio = decode(source)
    covered = tone_intervals(intervals, duration=audio.duration, margin=margin)
    return encode_release(cover_with_tone(audio.samples, covered), fmt)
