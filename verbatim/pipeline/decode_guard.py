"""Decoding untrusted recordings in a child process with resource limits.

FFmpeg parses whatever a user uploads. A file that crashes it (a WAV with eight channels or more made PyAV
segfault in ``to_ndarray``; other demuxer and decoder bugs will come) must fail *that* recording with a
clear reason, never the process that holds the API, the worker and its warm models. So every decode and
every intake probe runs in a fresh ``python -m verbatim.pipeline.decode_guard`` child which first lowers its
own limits (``resource.setrlimit``: CPU seconds, address space, size of the file it may write, no core
dump), then decodes, writing 16 kHz float32 samples to a file in a private folder and a small JSON report on
stdout. The parent maps a signal (SIGSEGV, SIGXCPU, SIGXFSZ...) or an error report to an
:class:`~verbatim.errors.AudioDecodeError` with a message a user can act on.

Bounds (:class:`DecodeLimits`) are checked in the child too: a sample rate below ``min_sample_rate``
(a 644-byte WAV at 1 Hz "lasts" ten minutes), more channels than ``max_channels`` in split mode, more
audio than ``max_duration_s``: :class:`AudioLimitError`.

A damaged file is decoded as far as it goes (evidence is kept), and said: the report carries
:class:`DecodeWarning` ``truncated`` when the audio stops well before what the header declares.

A **window** of samples (``window=(first, last)``) is decoded alone: the demuxer seeks to a packet before it
(:data:`PREROLL_S` earlier, so that decoders which carry state from one packet to the next, MP3's bit
reservoir, have settled), and the decoded frames are placed by their timestamps on the clock of a whole
decode (sample 0 is the stream's first sample), so the window holds the very samples a whole decode has at
those indexes. A file whose packets carry no timestamps, or where the seek lands past the window, is read
from its start, and only the window kept: memory stays the window's either way.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import numpy.typing as npt

from verbatim.errors import AudioDecodeError, AudioLimitError, EmptyAudioError
from verbatim.pipeline.types import SAMPLE_RATE, DecodeWarning

__all__ = [
    "AudioLimitError",
    "DecodeLimits",
    "DecodeWarning",
    "Decoded",
    "Probe",
    "decode_isolated",
    "probe_isolated",
]

_BYTES_PER_SAMPLE: Final = 4
_SLACK_BYTES: Final = 16 * 1024 * 1024
_FFMPEG_MIX_CHANNELS: Final = 8
PREROLL_S: Final = 1.0
"""Seconds decoded (and dropped) before a window, for decoders whose output depends on earlier packets."""
TRUNCATION_TOLERANCE_S: Final = 1.0
"""Declared minus decoded duration above which a file is said truncated (and above 2 % of the declared)."""


@dataclass(frozen=True)
class DecodeLimits:
    """What one decode may use and produce.

    Attributes:
        max_duration_s: most seconds of audio a recording may decode to.
        max_channels: most channels a recording decoded per channel (split mode) may have.
        min_sample_rate: least sample rate accepted (Hz); below it a tiny file claims hours.
        cpu_seconds: CPU time of the decoding child before the kernel stops it.
        memory_bytes: address space of the child, on top of what it needs for its own code.
        isolated: decode in a child process; ``False`` only for a trusted caller (benchmarks on known files).
    """

    max_duration_s: float = 6 * 3600.0
    max_channels: int = 8
    min_sample_rate: int = 8000
    cpu_seconds: int = 1800
    memory_bytes: int = 2 * 1024**3
    isolated: bool = True

    def output_bytes(self, channels: int) -> int:
        """The most the child may write: ``max_duration_s`` of float32 samples per channel, plus slack."""
        return int(self.max_duration_s * SAMPLE_RATE * _BYTES_PER_SAMPLE * max(1, channels)) + _SLACK_BYTES


@dataclass(frozen=True)
class Probe:
    """What intake learns of an upload without decoding it whole."""

    channels: int
    sample_rate: int
    duration: float
    """Seconds of audio the packets hold (not what the header claims)."""
    declared_duration: float | None


@dataclass(frozen=True)
class Decoded:
    """Samples at 16 kHz, shape (channels, samples), and what was wrong with the file."""

    samples: npt.NDArray[np.float32]
    warnings: tuple[DecodeWarning, ...] = field(default=())


# ---------------------------------------------------------------------------------------------- parent side


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread each: numpy's BLAS would otherwise reserve address space per core under RLIMIT_AS.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = "1"
    # The child must import this very tree (tests, editable installs run with PYTHONPATH set).
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


_SIGNAL_REASONS: Final[dict[int, str]] = {
    int(signal.SIGXCPU): "it took more CPU time than allowed to decode",
    int(signal.SIGKILL): "it took more CPU time or memory than allowed to decode",
    int(signal.SIGXFSZ): "it decodes to more audio than allowed",
}


def _run_child(spec: dict[str, Any], name: str, *, pass_fds: tuple[int, ...] = ()) -> dict[str, Any]:
    """Run the child on ``spec``; its JSON report, or an error for a crash or an error report."""
    limits = spec["limits"]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "verbatim.pipeline.decode_guard"],
            input=json.dumps(spec).encode(),
            capture_output=True,
            env=_child_env(),
            pass_fds=pass_fds,
            # wall clock bound too: a child blocked (not burning CPU) must not hold a worker forever
            timeout=max(60.0, 2.0 * float(limits["cpu_seconds"])),
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        raise AudioDecodeError(f"{name}: decoding did not finish in time; the file may be damaged.") from e
    if done.returncode < 0:
        signum = -done.returncode
        reason = _SIGNAL_REASONS.get(signum)
        if reason is None:
            try:
                signame = signal.Signals(signum).name
            except ValueError:
                signame = f"signal {signum}"
            reason = f"the decoder crashed on it ({signame}): the file is damaged or not a valid recording"
        raise AudioDecodeError(f"{name}: {reason}.")
    try:
        report: dict[str, Any] = json.loads(done.stdout.decode("utf-8").strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        kind = "MemoryError" if "MemoryError" in done.stderr.decode("utf-8", "replace") else tail[0][:200]
        if kind == "MemoryError":
            raise AudioDecodeError(f"{name}: it needs more memory than allowed to decode.") from e
        raise AudioDecodeError(f"{name}: the decoder failed ({kind}).") from e
    if not report.get("ok"):
        error = {"limit": AudioLimitError, "empty": EmptyAudioError}.get(
            report.get("kind", ""), AudioDecodeError
        )
        raise error(str(report.get("message") or "the file could not be decoded"))
    return report


def decode_isolated(
    path: Path, *, mono: bool, limits: DecodeLimits, window: tuple[int, int] | None = None
) -> Decoded:
    """Decode ``path`` to 16 kHz float32 in a limited child process.

    Args:
        path: the recording.
        mono: mix every channel into one; else one plane per channel (bounded by ``max_channels``).
        limits: bounds of the decode.
        window: only the samples ``[first, last)`` of the whole decode (fewer where the recording ends
            first); ``None``: all of them.

    Returns:
        The samples, shape (channels, samples) (one channel when ``mono``), and the warnings (a window
        says only ``corrupt`` data met in it: whether the whole file is truncated is not looked at).

    Raises:
        AudioLimitError: out of bounds (sample rate, channels, duration).
        EmptyAudioError: nothing decodes.
        AudioDecodeError: unreadable, or the decoder crashed or ran out of its limits.
    """
    if window is not None and not 0 <= window[0] <= window[1]:
        raise ValueError(f"bad window {window}")
    if not limits.isolated:
        return _decode_to(path, None, mono=mono, limits=limits, window=window)
    with tempfile.TemporaryDirectory(prefix="verbatim-decode-") as folder:  # 0700
        out = Path(folder) / "samples.f32"
        spec = {
            "op": "decode",
            "path": str(path),
            "out": str(out),
            "mono": mono,
            "limits": asdict(limits),
            "window": list(window) if window is not None else None,
        }
        report = _run_child(spec, path.name)
        channels = int(report["channels"])
        flat = np.fromfile(out, dtype=np.float32)
    samples = flat.reshape(-1, channels).T if channels > 1 else flat.reshape(1, -1)
    warnings = tuple(DecodeWarning(**w) for w in report.get("warnings", ()))
    return Decoded(samples, warnings)


def probe_isolated(stream: BinaryIO, *, limits: DecodeLimits, split: bool) -> Probe:
    """Check an upload at intake, in a limited child: readable, audio that decodes, within the bounds.

    The child reads the upload through its file descriptor (a spooled upload is moved to disk for it) and
    sums the durations of the audio packets, so the duration checked is what the file holds, not what its
    header claims; only the first frame is decoded.

    Raises:
        AudioLimitError: out of bounds.
        AudioDecodeError: not audio or video FFmpeg reads, no audio stream, or nothing decodes.
    """
    start = stream.tell()
    try:
        stream.flush()
        fd = stream.fileno()  # a SpooledTemporaryFile rolls over to a real file here
    except (AttributeError, OSError, ValueError):
        fd = -1
    try:
        if fd < 0:
            with tempfile.NamedTemporaryFile(prefix="verbatim-probe-") as copy:
                stream.seek(start)
                while chunk := stream.read(1024 * 1024):
                    copy.write(chunk)
                copy.flush()
                return _probe_fd(copy.fileno(), limits=limits, split=split)
        return _probe_fd(fd, limits=limits, split=split)
    finally:
        stream.seek(start)


def _probe_fd(fd: int, *, limits: DecodeLimits, split: bool) -> Probe:
    spec = {"op": "probe", "path": f"/dev/fd/{fd}", "split": split, "limits": asdict(limits)}
    report = _run_child(spec, "The upload", pass_fds=(fd,))
    return Probe(
        channels=int(report["channels"]),
        sample_rate=int(report["sample_rate"]),
        duration=float(report["duration"]),
        declared_duration=report.get("declared_duration"),
    )


# ----------------------------------------------------------------------------------------------- child side


def _limit_self(limits: DecodeLimits, out_bytes: int) -> None:
    cpu = max(1, int(limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (out_bytes, out_bytes))
    # Address space: what the interpreter, numpy and FFmpeg map for their code, plus the allowance.
    used = _mapped_bytes()
    space = used + int(limits.memory_bytes)
    resource.setrlimit(resource.RLIMIT_AS, (space, space))


def _mapped_bytes() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 512 * 1024**2


def _reason(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:200]


def _wav_declared_seconds(path: str) -> float | None:
    """What a RIFF/WAVE header declares (its ``data`` chunk size over the byte rate).

    FFmpeg's own duration of a WAV is cut to the bytes present, so a truncated file, or a header announcing
    gigabytes over a kilobyte, would look whole: the header is read here. ``None`` for another format, a
    streaming WAV (size 0 or 0xFFFFFFFF: unknown) or a header that cannot be followed.
    """
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 16)
    except OSError:
        return None
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    byte_rate = 0
    offset = 12
    while offset + 8 <= len(head):
        chunk, size = head[offset : offset + 4], struct.unpack_from("<I", head, offset + 4)[0]
        if chunk == b"fmt " and offset + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, offset + 16)[0]
        elif chunk == b"data":
            if byte_rate <= 0 or size in (0, 0xFFFFFFFF):
                return None
            return float(size) / byte_rate
        offset += 8 + size + (size & 1)
    return None


def _declared_seconds(container: Any, stream: Any, path: str | None = None) -> float | None:
    wav = _wav_declared_seconds(path) if path is not None else None
    if wav is not None:
        return wav
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # AV_TIME_BASE
    return None


def _check_stream(name: str, stream: Any, limits: DecodeLimits, *, split: bool) -> tuple[int, int]:
    rate = int(stream.codec_context.sample_rate or 0)
    channels = int(stream.codec_context.channels or 1)
    if rate < limits.min_sample_rate:
        raise AudioLimitError(
            f"{name}: sample rate {rate} Hz is below the {limits.min_sample_rate} Hz accepted "
            "(speech recordings use 8 kHz or more); the file is damaged or not a recording."
        )
    if split and channels > limits.max_channels:
        raise AudioLimitError(
            f"{name}: {channels} channels; at most {limits.max_channels} can be transcribed one per speaker "
            "(VERBATIM_MAX_CHANNELS). Send it with channels=mix, or ask an administrator."
        )
    return rate, channels


def _too_long(name: str, limits: DecodeLimits) -> AudioLimitError:
    hours = limits.max_duration_s / 3600
    return AudioLimitError(
        f"{name}: the recording lasts more than the {limits.max_duration_s:.0f} s ({hours:.1f} h) accepted "
        "(VERBATIM_MAX_DURATION_S); cut it in parts."
    )


def _probe(path: str, *, limits: DecodeLimits, split: bool) -> dict[str, Any]:
    import av

    name = "The upload"
    try:
        container = av.open(path, mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise AudioDecodeError("The file is not audio or video that FFmpeg can read.") from e
    try:
        if not container.streams.audio:
            raise AudioDecodeError("The file has no audio stream: upload an audio or video recording.")
        stream = container.streams.audio[0]
        rate, channels = _check_stream(name, stream, limits, split=split)
        declared = _declared_seconds(container, stream, path)
        decoded_any = False
        total = 0.0
        last_end = 0.0
        base = float(stream.time_base) if stream.time_base is not None else 0.0
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if not decoded_any:
                    for _frame in packet.decode():
                        decoded_any = True
                        break
                if packet.duration and base:
                    total += packet.duration * base
                    if packet.pts is not None:
                        last_end = max(last_end, (packet.pts + packet.duration) * base)
                if max(total, last_end) > limits.max_duration_s:
                    raise _too_long(name, limits)
        except av.error.InvalidDataError:
            pass  # damaged tail: what came before is kept; the worker says so in the transcript
        if not decoded_any:
            raise AudioDecodeError("The file's audio stream holds no sound: upload a complete recording.")
        return {
            "ok": True,
            "channels": channels,
            "sample_rate": rate,
            "duration": max(total, last_end),
            "declared_duration": declared,
        }
    except av.error.FFmpegError as e:
        raise AudioDecodeError("The file is not audio or video that FFmpeg can read.") from e
    finally:
        container.close()


class _Sink:
    """Where decoded chunks go: a file (child) or a growing list (in-process decode of a trusted file)."""

    def __init__(self, out: Path | None, channels: int, max_samples: int, name: str, limits: DecodeLimits):
        self.handle = out.open("wb") if out is not None else None
        self.chunks: list[npt.NDArray[np.float32]] = []
        self.channels = channels
        self.samples = 0
        self.max_samples = max_samples
        self.name = name
        self.limits = limits

    def write(self, interleaved: npt.NDArray[np.float32]) -> None:
        self.samples += interleaved.size // self.channels
        if self.samples > self.max_samples:
            raise _too_long(self.name, self.limits)
        if self.handle is not None:
            interleaved.tofile(self.handle)
        else:
            self.chunks.append(interleaved.copy())

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _damage(decoded_s: float, declared: float | None, corrupt: bool) -> list[DecodeWarning]:
    warnings: list[DecodeWarning] = []
    if declared is not None and declared - decoded_s > max(TRUNCATION_TOLERANCE_S, 0.02 * declared):
        warnings.append(
            DecodeWarning(
                code="truncated",
                message=f"The recording is damaged: its header announces {declared:.1f} s but only "
                f"{decoded_s:.1f} s of audio could be decoded; the transcript covers what was decoded.",
                decoded_duration=round(decoded_s, 3),
                declared_duration=round(declared, 3),
            )
        )
    elif corrupt:
        warnings.append(
            DecodeWarning(
                code="corrupt",
                message="Part of the recording could not be decoded (damaged data); the transcript covers "
                f"the {decoded_s:.1f} s that decoded.",
                decoded_duration=round(decoded_s, 3),
                declared_duration=round(declared, 3) if declared is not None else None,
            )
        )
    return warnings


class _Restart(Exception):
    """The seek to a window cannot be trusted (no timestamps, or it landed past the window)."""


def _aligned(frame: Any, origin_s: float) -> tuple[Any, int]:
    """The first frame decoded after a seek, cut to start on the resampler's grid of a whole decode, and
    the index (16 kHz, on a whole decode's clock) of its first output sample.

    A whole decode resamples from the stream's first sample: its output sample ``k`` is the input at
    ``k * rate / 16000``. Started at another input sample, the resampler would take its samples between
    those (a fraction of a sample off, values a little different), so the frame is cut to begin at an input
    sample that is on the grid (a multiple of ``rate / gcd(rate, 16000)``: 441 at 44.1 kHz, 3 at 48 kHz).
    The frame is ``None`` when all of it lies before the grid's next point.

    Raises:
        _Restart: the frame has no timestamp.
    """
    import math

    import av

    if frame.pts is None or frame.time_base is None or not frame.sample_rate:
        raise _Restart
    rate = int(frame.sample_rate)
    period = rate // math.gcd(rate, SAMPLE_RATE)
    start = round((float(frame.pts * frame.time_base) - origin_s) * rate)  # input samples from the origin
    drop = -start % period
    at = (start + drop) * SAMPLE_RATE // rate
    if drop == 0:
        return frame, at
    if drop >= frame.samples:
        return None, at
    data = frame.to_ndarray()
    data = data[:, drop:] if frame.format.is_planar else data[:, drop * len(frame.layout.channels) :]
    cut = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(data), format=frame.format.name, layout=frame.layout.name
    )
    cut.sample_rate = rate
    cut.time_base = frame.time_base
    cut.pts = frame.pts + round(drop / rate / frame.time_base)
    return cut, at


def _decode_to(
    path: Path, out: Path | None, *, mono: bool, limits: DecodeLimits, window: tuple[int, int] | None = None
) -> Decoded:
    """Decode to 16 kHz float32, interleaved chunks written to ``out`` (or kept in memory when ``None``);
    only the samples ``[first, last)`` of ``window`` when one is given (seeking to it)."""
    if window is not None and window[0] > 0:
        try:
            return _decode_once(path, out, mono=mono, limits=limits, window=window, seek=True)
        except _Restart:
            pass
    return _decode_once(path, out, mono=mono, limits=limits, window=window, seek=False)


def _decode_once(
    path: Path,
    out: Path | None,
    *,
    mono: bool,
    limits: DecodeLimits,
    window: tuple[int, int] | None,
    seek: bool,
) -> Decoded:
    import av

    name = path.name
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, UnicodeDecodeError) as e:
        raise AudioDecodeError(f"{name}: not a readable audio or video file ({_reason(e)}).") from e
    sink: _Sink | None = None
    first, last = window if window is not None else (0, -1)
    try:
        if not container.streams.audio:
            raise AudioDecodeError(f"{name}: the file has no audio stream.")
        stream = container.streams.audio[0]
        stream.codec_context.thread_type = "AUTO"
        _rate, file_channels = _check_stream(name, stream, limits, split=not mono)
        channels = 1 if mono else max(1, file_channels)
        declared = _declared_seconds(container, stream, str(path))
        most = int(limits.max_duration_s * SAMPLE_RATE)
        sink = _Sink(out, channels, most if window is None else min(most, last - first), name, limits)
        # Where a whole decode's sample 0 lies: the stream's start (after its encoder delay).
        base = float(stream.time_base) if stream.time_base is not None else 0.0
        origin_s = stream.start_time * base if stream.start_time is not None else 0.0
        at: int | None = 0  # index of the next resampled sample on a whole decode's clock (None: unknown yet)
        if seek:
            if not base:
                raise _Restart
            target = max(0.0, first / SAMPLE_RATE - PREROLL_S) + origin_s
            try:
                container.seek(int(target / base), stream=stream, backward=True)
            except av.error.FFmpegError as e:
                raise _Restart from e
            at = None
        # Packed ("flt") output: one interleaved plane. PyAV's planar to_ndarray crashed on 8+ channels.
        # FFmpeg mixes down the layouts it knows (up to 7.1); more channels are averaged here.
        own_mix = mono and file_channels > _FFMPEG_MIX_CHANNELS
        layout = "mono" if mono and not own_mix else None
        resampler = av.AudioResampler(format="flt", layout=layout, rate=SAMPLE_RATE)

        def emit(converted: Any) -> None:
            nonlocal at
            data = converted.to_ndarray().reshape(-1)
            if own_mix:
                data = data.reshape(-1, file_channels).mean(axis=1, dtype=np.float32)
            if window is None:
                sink.write(data)
                return
            assert at is not None  # placed by the first frame after a seek (_aligned)
            count = data.size // channels
            lo, hi = max(0, first - at), max(0, min(count, last - at))
            at += count
            if lo < hi:
                sink.write(data[lo * channels : hi * channels])

        decoded_any = False
        corrupt = False
        try:
            for frame in container.decode(stream):
                decoded_any = True
                if at is None:  # the first frame after a seek
                    cut, placed = _aligned(frame, origin_s)
                    if placed > first:
                        raise _Restart
                    if cut is None:
                        continue
                    frame, at = cut, placed
                for converted in resampler.resample(frame):
                    emit(converted)
                if window is not None and at is not None and at >= last:
                    break
        except av.error.InvalidDataError as e:
            # A truncated or partly corrupt file: keep what decoded cleanly (evidence is never silently
            # dropped whole), say so, but refuse a file where nothing decodes.
            if not decoded_any:
                raise AudioDecodeError(f"{name}: corrupt audio data ({_reason(e)}).") from e
            corrupt = True
        for converted in resampler.resample(None):
            emit(converted)
    except av.error.FFmpegError as e:
        raise AudioDecodeError(f"{name}: decoding failed ({_reason(e)}).") from e
    finally:
        if sink is not None:
            sink.close()
        container.close()
    if sink.samples == 0:
        if window is not None:
            raise EmptyAudioError(
                f"{name}: no audio between {first / SAMPLE_RATE:.2f} s and {last / SAMPLE_RATE:.2f} s "
                "(the recording is shorter)."
            )
        raise EmptyAudioError(f"{name}: the audio stream holds no samples.")
    if window is not None:  # a part: the whole file's length is not known here
        declared = None
    warnings = tuple(_damage(sink.samples / SAMPLE_RATE, declared, corrupt))
    if out is not None:
        return Decoded(np.empty((channels, 0), np.float32), warnings)
    flat = np.concatenate(sink.chunks) if sink.chunks else np.empty(0, np.float32)
    return Decoded(flat.reshape(-1, channels).T if channels > 1 else flat.reshape(1, -1), warnings)


def _child_main() -> int:
    spec = json.loads(sys.stdin.buffer.read())
    limits = DecodeLimits(**spec["limits"])
    mono = bool(spec.get("mono", True))
    out_bytes = limits.output_bytes(1 if mono else limits.max_channels) if spec["op"] == "decode" else 1024**2
    _limit_self(limits, out_bytes)
    report: dict[str, Any]
    try:
        if spec["op"] == "probe":
            report = _probe(spec["path"], limits=limits, split=bool(spec.get("split")))
        else:
            out = Path(spec["out"])
            window = spec.get("window")
            decoded = _decode_to(
                Path(spec["path"]),
                out,
                mono=mono,
                limits=limits,
                window=(int(window[0]), int(window[1])) if window else None,
            )
            size = out.stat().st_size
            channels = decoded.samples.shape[0]
            report = {
                "ok": True,
                "channels": channels,
                "samples": size // (_BYTES_PER_SAMPLE * channels),
                "warnings": [w.to_dict() for w in decoded.warnings],
            }
    except AudioLimitError as e:
        report = {"ok": False, "kind": "limit", "message": str(e)}
    except EmptyAudioError as e:
        report = {"ok": False, "kind": "empty", "message": str(e)}
    except AudioDecodeError as e:
        report = {"ok": False, "kind": "decode", "message": str(e)}
    except OSError as e:
        if e.errno != errno.EFBIG:  # RLIMIT_FSIZE: Python ignores SIGXFSZ, the write fails instead
            raise
        report = {"ok": False, "kind": "limit", "message": "The recording decodes to more audio than allowed"}
    except MemoryError:
        name = Path(str(spec.get("path"))).name if spec["op"] == "decode" else "The upload"
        report = {
            "ok": False,
            "kind": "decode",
            "message": f"{name}: it needs more memory than allowed to decode.",
        }
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_child_main())
