"""Decoding any container a user brings (wav, flac, mp3, ogg/opus, m4a, mp4, mkv, webm) to 16 kHz mono.

PyAV (FFmpeg's libraries) decodes and resamples frame by frame, so memory holds the output samples only
(64 KB per second of audio). The file's SHA-256 is computed from its bytes, independently of decoding, so the
transcript can be traced to the exact recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from verbatim.digest import sha256_file
from verbatim.errors import AudioDecodeError, EmptyAudioError
from verbatim.pipeline.decode_guard import Decoded, DecodeLimits, decode_isolated
from verbatim.pipeline.types import Audio

if TYPE_CHECKING:
    from verbatim.ops.settings import Settings

__all__ = [
    "decode",
    "decode_channels",
    "decode_limits",
    "decode_window",
    "default_limits",
    "file_sha256",
    "probe_channels",
]

ChannelMode = Literal["mix", "split"]


def file_sha256(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    return sha256_file(path)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioDecodeError(f"{path}: no such file.")
    if path.is_dir():
        raise AudioDecodeError(f"{path} is a directory, not a recording.")
    if path.stat().st_size == 0:
        raise EmptyAudioError(f"{path} is empty (0 bytes).")


def default_limits() -> DecodeLimits:
    """The decode bounds of the process's settings (``VERBATIM_MAX_DURATION_S``...)."""
    from verbatim.ops.settings import get_settings

    return decode_limits(get_settings())


def decode_limits(settings: Settings) -> DecodeLimits:
    """The decode bounds ``settings`` give."""
    return DecodeLimits(
        max_duration_s=settings.max_duration_s,
        max_channels=settings.max_channels,
        min_sample_rate=settings.min_sample_rate,
        cpu_seconds=settings.decode.cpu_seconds,
        memory_bytes=settings.decode.memory_mb * 1024**2,
    )


def _decode_planar(
    path: Path, *, mono: bool, limits: DecodeLimits | None, window: tuple[int, int] | None = None
) -> Decoded:
    """Decode to float32 at 16 kHz in a limited child process; shape (channels, samples)."""
    decoded = decode_isolated(path, mono=mono, limits=limits or default_limits(), window=window)
    samples = decoded.samples
    np.nan_to_num(samples, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    return decoded


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def decode(path: Path | str, *, limits: DecodeLimits | None = None) -> Audio:
    """Decode a recording to one mono 16 kHz track (all channels mixed), in a limited child process.

    Args:
        path: any audio or video file FFmpeg reads.
        limits: bounds of the decode; the settings' (:func:`default_limits`) when ``None``.

    Returns:
        The samples with the file's SHA-256 and name.

    Raises:
        AudioDecodeError: missing, unreadable, without an audio stream, or the decoder crashed.
        AudioLimitError: out of bounds (sample rate, duration).
        EmptyAudioError: the file or its audio stream is empty.
    """
    path = Path(path)
    _check_file(path)
    sha = file_sha256(path)
    decoded = _decode_planar(path, mono=True, limits=limits)
    return Audio(
        samples=np.ascontiguousarray(decoded.samples[0]),
        sha256=sha,
        filename=path.name,
        warnings=decoded.warnings,
    )


def decode_window(
    path: Path | str, first: int, last: int, *, limits: DecodeLimits | None = None, sha256: str | None = None
) -> Audio:
    """Decode only the samples ``[first, last)`` (16 kHz) of the mono track :func:`decode` gives.

    The decoder seeks to the window (a second before it, dropped) instead of decoding the recording from its
    start: a segment of a recording of hours costs the segment's time and memory. Sample ``i`` of the result
    is sample ``first + i`` of ``decode(path)``: the same values for WAV, FLAC, MP3, Opus (checked at 44.1
    kHz by tests/pipeline/test_decode.py); AAC within 1e-3 (its noise substitution draws from a generator
    that runs from the file's start).

    Args:
        path: any audio or video file FFmpeg reads.
        first / last: the window, in samples at 16 kHz from the start of the recording (``last`` past the
            end: up to the end).
        limits: bounds of the decode; the settings' when ``None``.
        sha256: the file's SHA-256 when the caller has just computed it (it is not read again); else it is.

    Returns:
        The window's samples, with the whole file's SHA-256 and name.

    Raises:
        AudioDecodeError: missing, unreadable, without an audio stream, or the decoder crashed.
        EmptyAudioError: no audio in the window (the recording ends before ``first``).
        ValueError: ``first`` negative or after ``last``.
    """
    path = Path(path)
    _check_file(path)
    sha = sha256 or file_sha256(path)
    decoded = _decode_planar(path, mono=True, limits=limits, window=(first, last))
    return Audio(
        samples=np.ascontiguousarray(decoded.samples[0]),
        sha256=sha,
        filename=path.name,
        warnings=decoded.warnings,
    )


def decode_channels(path: Path | str, *, limits: DecodeLimits | None = None) -> list[Audio]:
    """Decode each channel on its own, for recordings with one microphone per speaker.

    Returns:
        One ``Audio`` per channel (``channel`` set to its index); a mono file gives one.

    Raises:
        AudioLimitError: more channels than ``limits.max_channels``, or out of the other bounds.
    """
    path = Path(path)
    _check_file(path)
    sha = file_sha256(path)
    decoded = _decode_planar(path, mono=False, limits=limits)
    planes = decoded.samples
    return [
        Audio(
            samples=np.ascontiguousarray(planes[i]),
            sha256=sha,
            filename=path.name,
            channel=i,
            warnings=decoded.warnings,
        )
        for i in range(planes.shape[0])
    ]


def probe_channels(path: Path | str) -> int:
    """Number of channels of the first audio stream (0 when there is none)."""
    import av

    path = Path(path)
    _check_file(path)
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return 0
            return int(container.streams.audio[0].codec_context.channels or 1)
    except av.error.FFmpegError as e:
        raise AudioDecodeError(f"{path.name}: not a readable audio or video file ({_reason(e)}).") from e
