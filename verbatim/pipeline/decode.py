"""Decoding any container a user brings (wav, flac, mp3, ogg/opus, m4a, mp4, mkv, webm) to 16 kHz mono.

PyAV (FFmpeg's libraries) decodes and resamples frame by frame, so memory holds the output samples only
(64 KB per second of audio). The file's SHA-256 is computed from its bytes, independently of decoding, so the
transcript can be traced to the exact recording.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from verbatim.digest import sha256_file
from verbatim.errors import AudioDecodeError, EmptyAudioError
from verbatim.pipeline.types import SAMPLE_RATE, Audio

__all__ = ["decode", "decode_channels", "file_sha256", "probe_channels"]

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


def _decode_planar(path: Path, *, mono: bool) -> npt.NDArray[np.float32]:
    """Decode to float32 at 16 kHz; shape (channels, samples), channels == 1 when ``mono``."""
    import av  # FFmpeg bindings: imported where used, `import verbatim` stays light

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise AudioDecodeError(f"{path.name}: not a readable audio or video file ({_reason(e)}).") from e
    buffer = _Buffer()
    try:
        if not container.streams.audio:
            raise AudioDecodeError(f"{path.name}: the file has no audio stream.")
        stream = container.streams.audio[0]
        stream.codec_context.thread_type = "AUTO"
        channels = 1 if mono else max(1, stream.codec_context.channels or 1)
        buffer.reserve(channels, _declared_seconds(container, stream))
        layout = "mono" if mono else None
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        decoded_any = False
        try:
            for frame in container.decode(stream):
                decoded_any = True
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(channels, -1))
        except av.error.InvalidDataError as e:
            # A truncated or partly corrupt file: keep what decoded cleanly (evidence is never silently
            # dropped whole), but refuse a file where nothing decodes.
            if not decoded_any:
                raise AudioDecodeError(f"{path.name}: corrupt audio data ({_reason(e)}).") from e
        for out in resampler.resample(None):
            buffer.append(out.to_ndarray().reshape(channels, -1))
    except av.error.FFmpegError as e:
        raise AudioDecodeError(f"{path.name}: decoding failed ({_reason(e)}).") from e
    finally:
        container.close()
    samples = buffer.view()
    if samples.shape[1] == 0:
        raise EmptyAudioError(f"{path.name}: the audio stream holds no samples.")
    np.nan_to_num(samples, copy=False, nan=0.0, posinf=1.0, neginf=-1.0)
    np.clip(samples, -1.0, 1.0, out=samples)
    return samples


_MAX_RESERVE_SECONDS = 12 * 3600


def _declared_seconds(container: Any, stream: Any) -> float:
    """The duration the file declares (it may lie: only used to size the first buffer)."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return 0.0


class _Buffer:
    """Decoded samples, written in place: one growing array instead of a list of chunks joined at the end,
    which would hold the recording twice (460 MB for an hour) at the moment of joining. Pages of the
    reserved array that are never written cost no memory."""

    def __init__(self) -> None:
        self._data = np.empty((1, 0), np.float32)
        self._filled = 0

    def reserve(self, channels: int, seconds: float) -> None:
        seconds = min(max(seconds, 0.0), _MAX_RESERVE_SECONDS)
        self._data = np.empty((channels, int(seconds * SAMPLE_RATE) + SAMPLE_RATE), np.float32)

    def append(self, chunk: npt.NDArray[Any]) -> None:
        n = chunk.shape[1]
        if self._filled + n > self._data.shape[1]:
            grown = np.empty(
                (self._data.shape[0], max(int(self._data.shape[1] * 1.5), self._filled + n)), np.float32
            )
            grown[:, : self._filled] = self._data[:, : self._filled]
            self._data = grown
        self._data[:, self._filled : self._filled + n] = chunk
        self._filled += n

    def view(self) -> npt.NDArray[np.float32]:
        return self._data[:, : self._filled]


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def decode(path: Path | str) -> Audio:
    """Decode a recording to one mono 16 kHz track (all channels mixed).

    Args:
        path: any audio or video file FFmpeg reads.

    Returns:
        The samples with the file's SHA-256 and name.

    Raises:
        AudioDecodeError: missing, unreadable, or without an audio stream.
        EmptyAudioError: the file or its audio stream is empty.
    """
    path = Path(path)
    _check_file(path)
    sha = file_sha256(path)
    samples = _decode_planar(path, mono=True)[0]
    return Audio(samples=np.ascontiguousarray(samples), sha256=sha, filename=path.name)


def decode_channels(path: Path | str) -> list[Audio]:
    """Decode each channel on its own, for recordings with one microphone per speaker.

    Returns:
        One ``Audio`` per channel (``channel`` set to its index); a mono file gives one.
    """
    path = Path(path)
    _check_file(path)
    sha = file_sha256(path)
    planes = _decode_planar(path, mono=False)
    return [
        Audio(samples=np.ascontiguousarray(planes[i]), sha256=sha, filename=path.name, channel=i)
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
