"""A corpus of bad input, generated here, sent through the real API and the real in-process worker.

Each file gets a clear 4xx, or a job that either succeeds with what could be read or fails with a reason a
user can act on; the worker survives every one (the next job still runs), and nothing is left half-written.
"""

from __future__ import annotations

import io
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import func, select

from tests.api.conftest import JFK, Service, make_settings
from verbatim.api.deps import ServiceState
from verbatim.api.serving import ApiThread
from verbatim.ops.accounts import create_user
from verbatim.ops.db import Job
from verbatim.pipeline.decode import decode
from verbatim.server import create_app

pytestmark = pytest.mark.models


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _png() -> bytes:
    """A real 8x8 grey PNG: FFmpeg opens it (as a picture), but it has no audio stream."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([128] * 8) for _ in range(8))
    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(JFK).samples  # 11 s, 16 kHz


def _resample(samples: np.ndarray, rate: int) -> np.ndarray:
    positions = np.arange(int(len(samples) * rate / 16000)) * (16000 / rate)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _post(service: Service, name: str, data: bytes, **options: str) -> Any:
    return service.client.post(
        "/v1/jobs", headers=service.investigator.headers, files={"file": (name, data)}, data=options
    )


def _job_count(state: ServiceState) -> int:
    with state.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Job)) or 0)


def _no_stray_objects(state: ServiceState) -> None:
    """Every stored object belongs to a job that exists: nothing half-written lies around."""
    with state.sessions() as session:
        ids = set(session.scalars(select(Job.id)))
    for key in state.store.list("jobs/"):
        assert key.split("/")[1] in ids, f"{key} belongs to no job"


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("picture.png", lambda s: _png()),
        ("corrupt-header.flac", lambda s: b"\x00" * 4096 + JFK.read_bytes()[4096:]),
        ("only-header.wav", lambda s: _wav(s, 16000)[:44]),
        ("statement.pdf", lambda s: b"%PDF-1.7\n" + bytes(range(256)) * 40),
        ("random.mp3", lambda s: np.random.default_rng(1).bytes(50_000)),
    ],
)
def test_unreadable_files_are_refused_with_415(
    service: Service, speech: np.ndarray, name: str, make: Any
) -> None:
    before = _job_count(service.state)
    r = _post(service, name, make(speech))
    assert r.status_code == 415, (r.status_code, r.text)
    assert "audio" in r.json()["error"] and name not in r.json()["error"]
    assert _job_count(service.state) == before
    _no_stray_objects(service.state)


def test_a_truncated_file_keeps_what_decoded(service: Service) -> None:
    data = JFK.read_bytes()
    r = _post(service, "truncated.flac", data[: len(data) // 2], language="en", diarize="false")
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert 3.0 < doc["audio"]["duration"] < 8.0
    assert "fellow americans" in " ".join(s["text"] for s in doc["segments"]).lower()


def test_a_wav_header_that_lies_about_its_size(service: Service, speech: np.ndarray) -> None:
    data = bytearray(_wav(speech, 16000))
    data[4:8] = struct.pack("<I", 0x7FFFFFF0)  # RIFF size
    data[40:44] = struct.pack("<I", 0x7FFFFFF0)  # data chunk size: 2 GB announced, 350 kB present
    r = _post(service, "liar.wav", bytes(data), language="en", diarize="false")
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    assert body["duration"] == pytest.approx(11.0, abs=0.5)


def test_forty_minutes_of_silence_succeed_with_no_words(service: Service, tmp_path: Path) -> None:
    # longer than the split length (1800 s): the parts, each silent, are merged into an empty transcript
    path = tmp_path / "silence.flac"
    sf.write(str(path), np.zeros(16000 * 2400, np.int16), 16000, subtype="PCM_16")
    r = _post(service, "silence.flac", path.read_bytes(), language="fr")
    assert r.status_code == 202, r.text
    started = time.monotonic()
    body = service.wait(r.json()["id"], timeout=300)
    assert body["status"] == "succeeded", body
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert doc["segments"] == [] and doc["audio"]["duration"] == pytest.approx(2400.0, abs=0.1)
    print(f"40 min of silence: {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("rate", [8000, 11025, 96000, 192000])
def test_extreme_sample_rates_are_resampled(service: Service, speech: np.ndarray, rate: int) -> None:
    r = _post(
        service, f"speech-{rate}.wav", _wav(_resample(speech, rate), rate), language="en", diarize="false"
    )
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    assert body["duration"] == pytest.approx(11.0, abs=0.3)
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert "country" in " ".join(s["text"] for s in doc["segments"]).lower()


def test_a_sixteen_channel_recording_is_mixed(service: Service, speech: np.ndarray) -> None:
    planes = np.zeros((len(speech), 16), np.float32)
    planes[:, 5] = speech  # one live microphone among sixteen
    r = _post(service, "desk-16ch.wav", _wav(planes, 16000), language="en", diarize="false")
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert "country" in " ".join(s["text"] for s in doc["segments"]).lower()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.flac", "passwd.flac"),
        ("C:\\Users\\enquêteur\\audition.flac", "audition.flac"),
        ("a\x01b\x1b[31mred\x7f\t.flac", "ab[31mred.flac"),
        ("شهادة الطفل.flac", "شهادة الطفل.flac"),
        ("証言 録音.flac", "証言 録音.flac"),
        ("x" * 600 + ".flac", "x" * 250 + ".flac"),
    ],
)
def test_odd_file_names_are_kept_safe(service: Service, name: str, shown: str) -> None:
    # the multipart body is built by hand: an HTTP client would percent-encode the control characters
    boundary = "oddnameboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="language"\r\n\r\nen\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="diarize"\r\n\r\nfalse\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
        ).encode()
        + JFK.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = service.client.post(
        "/v1/jobs",
        headers={**service.investigator.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=body,
    )
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert service.state.store.exists(f"jobs/{job_id}/original")  # keyed by the job, never by the name
    with service.state.sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.filename == shown
    listed = service.client.get("/v1/jobs", headers=service.investigator.headers).json()["jobs"]
    assert any(j["id"] == job_id for j in listed)


def test_the_worker_still_works_after_the_corpus(service: Service) -> None:
    r = _post(service, "after.flac", JFK.read_bytes(), language="en", diarize="false")
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    _no_stray_objects(service.state)


def _raw(server: ApiThread, request: bytes, *, half_close: bool = False) -> bytes:
    """Send ``request`` as it is over one connection; return what came back until the server closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as conn:
        conn.sendall(request)
        if half_close:
            conn.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while data := conn.recv(65536):
                chunks.append(data)
        except (TimeoutError, ConnectionResetError):
            pass
    return b"".join(chunks)


@pytest.fixture(scope="module")
def raw_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ApiThread, str]]:
    server = ApiThread(
        create_app(make_settings(tmp_path_factory.mktemp("raw-home"), max_upload_bytes=1_000_000))
    )
    try:
        state: ServiceState = server.app.state.verbatim
        with state.sessions() as session:
            _, token = create_user(session, name="inv", role="investigator", unit="b")
        yield server, token
    finally:
        server.stop()


def _multipart(payload: bytes) -> tuple[bytes, str]:
    boundary = "liarboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.flac"\r\n\r\n'.encode()
        + payload
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("lie", ["shorter", "longer"])
def test_a_content_length_that_lies_stores_nothing(raw_server: tuple[ApiThread, str], lie: str) -> None:
    server, token = raw_server
    body, content_type = _multipart(JFK.read_bytes())
    declared = len(body) // 2 if lie == "shorter" else len(body) + 100_000
    head = (
        f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
    ).encode()
    answer = _raw(server, head + body, half_close=True)
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else None
    # shorter: the body stops mid-file (no closing boundary) -> a 4xx; longer: the client goes away before
    # the announced end -> nothing to answer. Neither leaves a job or an object.
    assert status is None or 400 <= status < 500, answer[:200]
    state: ServiceState = server.app.state.verbatim
    assert _job_count(state) == 0
    assert state.store.list("jobs/") == []
