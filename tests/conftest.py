"""Shared fixtures: an isolated model directory, the real models loaded once per session, audio makers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parent.parent


@pytest.fixture(scope="session", autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Keep tests away from the user's directories and from any network."""
    home = tmp_path_factory.mktemp("verbatim-home")
    models = Path(os.environ.get("VERBATIM_TEST_MODELS_DIR", str(tmp_path_factory.mktemp("models"))))
    saved = {k: os.environ.get(k) for k in ("VERBATIM_HOME", "VERBATIM_MODELS_DIR", "HF_HUB_OFFLINE")}
    os.environ["VERBATIM_HOME"] = str(home)
    os.environ["VERBATIM_MODELS_DIR"] = str(models)
    os.environ["HF_HUB_OFFLINE"] = "1"
    from verbatim.ops.settings import get_settings

    get_settings.cache_clear()
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _test_services(request: pytest.FixtureRequest) -> Iterator[object]:
    """When the collected tests need services (marker ``services``) and PostgreSQL, Redis or RabbitMQ is not
    reachable where they look (``VERBATIM_TEST_*_URL``, else the default ports), throw-away ones of this
    session's own (tests/throwaway.py), stopped at its end."""
    if not any(item.get_closest_marker("services") for item in request.session.items):
        yield None
        return
    import tempfile

    from tests.throwaway import ensure_services

    with tempfile.TemporaryDirectory(prefix="verbatim-services-") as folder:
        services = ensure_services(Path(folder))
        try:
            yield services
        finally:
            services.stop()


@pytest.fixture(autouse=True)
def _services_present(request: pytest.FixtureRequest, _test_services: object) -> None:
    """A test that needs services fails with one line saying what is missing, instead of a stack trace."""
    line = getattr(_test_services, "line", lambda: "")()
    if line and request.node.get_closest_marker("services") is not None:
        pytest.fail(line, pytrace=False)


@pytest.fixture(scope="session")
def asr():  # type: ignore[no-untyped-def]
    """The real packaged Whisper base model, loaded once."""
    from verbatim.jobs.stages import get_asr
    from verbatim.ops.settings import get_settings

    return get_asr(get_settings())


def write_audio(path: Path, samples: np.ndarray, *, rate: int = 16000, codec: str | None = None) -> Path:
    """Encode float samples (channels, n) or (n,) in [-1, 1] with PyAV, container chosen by suffix."""
    import av

    planes = samples if samples.ndim == 2 else samples[None, :]
    channels = planes.shape[0]
    codecs = {
        ".wav": "pcm_s16le",
        ".flac": "flac",
        ".mp3": "libmp3lame",
        ".ogg": "libopus",
        ".opus": "libopus",
        ".m4a": "aac",
        ".mp4": "aac",
        ".mkv": "libopus",
        ".webm": "libopus",
    }
    codec = codec or codecs[path.suffix]
    out_rate = 48000 if codec == "libopus" else rate
    container = av.open(str(path), "w")
    stream = container.add_stream(codec, rate=out_rate)
    stream.layout = "mono" if channels == 1 else ("stereo" if channels == 2 else f"{channels}c")
    frame_fmt = "fltp"
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(planes.astype(np.float32)), format=frame_fmt, layout=stream.layout.name
    )
    frame.sample_rate = rate
    target_fmt = stream.codec_context.codec.audio_formats[0].name
    resampler = av.AudioResampler(format=target_fmt, layout=stream.layout.name, rate=out_rate)
    for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
        for packet in stream.encode(chunk):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    return path


def tone(seconds: float, freq: float = 440.0, rate: int = 16000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
