from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import DATA, tone, write_audio
from verbatim.errors import AudioDecodeError, EmptyAudioError
from verbatim.pipeline.decode import decode, decode_channels, decode_window, probe_channels


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".mkv", ".webm"])
def test_every_container_decodes_to_16k_mono(tmp_path: Path, suffix: str) -> None:
    path = write_audio(tmp_path / f"clip{suffix}", tone(2.0, rate=44100, freq=440), rate=44100)
    audio = decode(path)
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.duration == pytest.approx(2.0, abs=0.08)  # encoder padding of lossy codecs
    # the tone survives resampling: dominant frequency still 440 Hz
    spectrum = np.abs(np.fft.rfft(audio.samples[4000:20000]))
    peak_hz = np.argmax(spectrum) * 16000 / 16000
    assert peak_hz == pytest.approx(440, abs=5)
    assert audio.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert audio.filename == path.name


# AAC's decoder draws noise for some bands (perceptual noise substitution) from a generator whose state runs
# from the start of the file: after a seek those few bands differ a little (2e-4 at most seen here)
@pytest.mark.parametrize(
    ("suffix", "tolerance"),
    [(".wav", 0), (".flac", 0), (".mp3", 0), (".ogg", 0), (".mkv", 0), (".m4a", 1e-3)],
)
def test_a_window_is_the_same_samples_as_the_whole_decode(
    tmp_path: Path, suffix: str, tolerance: float
) -> None:
    """Speech, not a tone (a shifted tone would still look alike), at 44.1 kHz (resampled to 16 kHz); the
    windows after the first second are reached by a seek and placed by the frames' timestamps (the encoder
    delay of MP3, AAC, Opus), cut to the resampler's grid of the whole decode."""
    speech = decode(DATA / "jfk.flac").samples
    rate = 44100
    resampled = np.interp(
        np.arange(speech.size * rate // 16000) * 16000 / rate, np.arange(speech.size), speech
    )
    path = write_audio(tmp_path / f"speech{suffix}", resampled.astype(np.float32), rate=rate)
    whole = decode(path).samples
    for first, last in [
        (0, 16_000),
        (5_333, 24_000),
        (80_123, 128_007),
        (whole.size - 1_000, whole.size + 9_000),
    ]:
        part = decode_window(path, first, last)
        expected = whole[first:last]
        assert part.samples.size == expected.size, (first, last)
        assert float(np.max(np.abs(part.samples - expected))) <= tolerance, (first, last)
        assert part.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(EmptyAudioError, match="no audio between"):
        decode_window(path, whole.size + 16_000, whole.size + 32_000)


def test_stereo_channels_split_keep_their_own_signal(tmp_path: Path) -> None:
    left, right = tone(1.0, freq=300), tone(1.0, freq=1200)
    path = write_audio(tmp_path / "two.wav", np.stack([left, right]))
    assert probe_channels(path) == 2
    chans = decode_channels(path)
    assert [c.channel for c in chans] == [0, 1]
    for audio, freq in zip(chans, (300, 1200), strict=True):
        spectrum = np.abs(np.fft.rfft(audio.samples))
        assert np.argmax(spectrum) * 16000 / len(audio.samples) == pytest.approx(freq, abs=3)


def test_committed_stereo_fixture_has_two_distinct_channels() -> None:
    chans = decode_channels(DATA / "stereo_diarization.wav")
    assert len(chans) == 2
    assert not np.allclose(chans[0].samples, chans[1].samples)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioDecodeError, match="no such file"):
        decode(tmp_path / "absent.wav")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(EmptyAudioError, match="empty"):
        decode(tmp_path / "empty.wav")


@pytest.mark.parametrize(
    "content",
    [b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n" * 20, b"just some text, not audio\n" * 50],
)
def test_not_audio(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioDecodeError):
        decode(path)


def test_truncated_file_keeps_what_decodes(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.flac", tone(4.0))
    data = path.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    audio = decode(cut)
    assert 0.5 < audio.duration < 4.0


def test_video_without_audio_stream(tmp_path: Path) -> None:
    import av

    path = tmp_path / "video.mp4"
    container = av.open(str(path), "w")
    stream = container.add_stream("mpeg4", rate=10)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
    for _ in range(5):
        frame = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()
    with pytest.raises(AudioDecodeError, match="no audio stream"):
        decode(path)


def test_odd_file_names(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "audition n°3 — témoin «A» 証言.wav", tone(0.5))
    assert decode(path).filename == path.name
