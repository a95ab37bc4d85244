"""The decoding child process: limits, crashes contained, damage said (issue 15)."""

from __future__ import annotations

import io
import os
import re
import signal
import stat
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, REPO, tone, write_audio
from verbatim.errors import AudioDecodeError, AudioLimitError
from verbatim.pipeline import decode_guard
from verbatim.pipeline.decode import decode, decode_channels
from verbatim.pipeline.decode_guard import DecodeLimits, probe_isolated


def _wav(path: Path, *, channels: int, rate: int, frames: int, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        if width == 1:
            out.writeframes(bytes([128]) * frames * channels)
        else:
            rng = np.random.default_rng(channels)
            out.writeframes(rng.integers(-2000, 2000, frames * channels, dtype=np.int16).tobytes())
    return path


@pytest.mark.parametrize("channels", [8, 9, 16])
def test_many_channels_decode_one_plane_each(tmp_path: Path, channels: int) -> None:
    # 8 channels and more segfaulted in PyAV's planar to_ndarray (the whole process died)
    path = _wav(tmp_path / "many.wav", channels=channels, rate=16000, frames=16000)
    with wave.open(str(path)) as src:
        raw = np.frombuffer(src.readframes(16000), np.int16).reshape(-1, channels)
    planes = decode_channels(path, limits=DecodeLimits(max_channels=16))
    assert [p.channel for p in planes] == list(range(channels))
    for index, plane in enumerate(planes):
        assert np.allclose(plane.samples * 32768, raw[:, index], atol=2)
    assert decode(path).duration == pytest.approx(1.0)


def test_split_refuses_more_channels_than_allowed(tmp_path: Path) -> None:
    path = _wav(tmp_path / "nine.wav", channels=9, rate=16000, frames=1600)
    with pytest.raises(AudioLimitError, match="9 channels"):
        decode_channels(path, limits=DecodeLimits(max_channels=8))


def test_a_sample_rate_of_one_hertz_is_refused(tmp_path: Path) -> None:
    path = _wav(tmp_path / "onehz.wav", channels=1, rate=1, frames=600, width=1)
    assert path.stat().st_size < 1000
    with pytest.raises(AudioLimitError, match="1 Hz"):
        decode(path)
    with path.open("rb") as fh, pytest.raises(AudioLimitError, match="1 Hz"):
        probe_isolated(fh, limits=DecodeLimits(), split=False)


def test_the_duration_bound_holds_in_decode_and_probe(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "ten.flac", tone(10.0))
    limits = DecodeLimits(max_duration_s=4.0)
    with pytest.raises(AudioLimitError, match="VERBATIM_MAX_DURATION_S"):
        decode(path, limits=limits)
    with path.open("rb") as fh, pytest.raises(AudioLimitError, match="VERBATIM_MAX_DURATION_S"):
        probe_isolated(fh, limits=limits, split=False)
    # an in-memory upload (not spooled to disk) is probed too
    probe = probe_isolated(io.BytesIO(path.read_bytes()), limits=DecodeLimits(), split=False)
    assert probe.duration == pytest.approx(10.0, abs=0.05) and probe.sample_rate == 16000


def test_truncation_is_said_with_both_durations(tmp_path: Path) -> None:
    whole = _wav(tmp_path / "whole.wav", channels=1, rate=16000, frames=160000)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 40000])  # 2.5 s of 10
    audio = decode(cut)
    assert audio.duration == pytest.approx(2.5)
    (warning,) = audio.warnings
    assert warning.code == "truncated"
    assert (warning.declared_duration, warning.decoded_duration) == pytest.approx((10.0, 2.5))
    assert decode(whole).warnings == ()
    assert decode(DATA / "jfk.flac").warnings == ()


def _fake_child(tmp_path: Path, body: str) -> str:
    script = tmp_path / "fake-python"
    script.write_text(f"#!{sys.executable}\nimport os, signal, sys, time\n{body}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("os.kill(os.getpid(), signal.SIGSEGV)", "crashed on it (SIGSEGV)"),
        ("os.kill(os.getpid(), signal.SIGABRT)", "crashed on it (SIGABRT)"),
        ("os.kill(os.getpid(), signal.SIGXCPU)", "more CPU time than allowed"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "CPU time or memory than allowed"),
        ("raise MemoryError", "more memory than allowed"),
    ],
)
def test_a_dying_child_fails_the_decode_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, said: str
) -> None:
    # The child is replaced by a script that dies as FFmpeg would; the parent must survive and say why.
    monkeypatch.setattr(decode_guard.sys, "executable", _fake_child(tmp_path, body))
    path = write_audio(tmp_path / "clip.wav", tone(1.0))
    with pytest.raises(AudioDecodeError, match=re.escape(said)) as caught:
        decode(path)
    assert "clip.wav" in str(caught.value) and str(tmp_path) not in str(caught.value)


def test_the_child_runs_under_its_limits(tmp_path: Path) -> None:
    # The real child, asked for a decode whose CPU budget is one second, on an endless busy loop:
    # the kernel stops it (SIGXCPU/SIGKILL), not a timer of ours.
    code = (
        "import json, resource, sys\n"
        "from verbatim.pipeline.decode_guard import DecodeLimits, _limit_self\n"
        "_limit_self(DecodeLimits(cpu_seconds=1, memory_bytes=64 * 1024**2), 1024)\n"
        "print(json.dumps([resource.getrlimit(r) for r in (resource.RLIMIT_CPU, resource.RLIMIT_FSIZE,"
        " resource.RLIMIT_CORE)]), flush=True)\n"
        "try:\n    bytearray(512 * 1024**2)\nexcept MemoryError:\n    print('memory refused', flush=True)\n"
        "while True:\n    pass\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "[[1, 6], [1024, 1024], [0, 0]]"
    assert lines[1] == "memory refused"
    assert -done.returncode in (signal.SIGXCPU, signal.SIGKILL)


def test_the_cli_says_why_and_exits_1(tmp_path: Path) -> None:
    path = _wav(tmp_path / "onehz.wav", channels=1, rate=1, frames=600, width=1)
    done = subprocess.run(
        [sys.executable, "-m", "verbatim", "transcribe", str(path), "--no-diarize", "-q"],
        capture_output=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 1, done.stderr.decode()
    assert "1 Hz" in done.stderr.decode()
