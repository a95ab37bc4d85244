"""Hostile and damaged recordings through the real API and the real in-process worker (issue 15).

A WAV of eight channels sent with ``channels=split`` made FFmpeg's bindings segfault: the embedded server died
with it, and the job, retaken at each restart, killed it again. Files that decode to far more audio than their
size suggests (a 644-byte WAV at 1 Hz "lasts" ten minutes) were accepted. Damaged files passed silently.
"""

from __future__ import annotations

import io
import struct
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from docx import Document
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.conftest import JFK, Service, make_settings
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, Job
from verbatim.pipeline.decode import decode
from verbatim.server import create_app

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return decode(JFK).samples  # 11 s, 16 kHz


def _wav(samples: np.ndarray, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _raw_wav(*, channels: int, rate: int, frames: int, width: int = 2) -> bytes:
    """A WAV written with the standard library only: any rate and channel count, silent."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(bytes(frames * channels * width))
    return buffer.getvalue()


def _post(service: Service, name: str, data: bytes, **options: str) -> Any:
    return service.client.post(
        "/v1/jobs", headers=service.investigator.headers, files={"file": (name, data)}, data=options
    )


def _counts(state: ServiceState) -> tuple[int, int]:
    with state.sessions() as session:
        jobs = int(session.scalar(select(func.count()).select_from(Job)) or 0)
    return jobs, len(state.store.list("jobs/"))


def _healthy(service: Service) -> None:
    assert service.client.get("/healthz").json()["status"] == "ok"
    r = _post(service, "after.flac", JFK.read_bytes(), language="en", diarize="false")
    assert r.status_code == 202, r.text
    assert service.wait(r.json()["id"])["status"] == "succeeded"


def test_eight_channels_split_leave_the_service_healthy(service: Service, speech: np.ndarray) -> None:
    planes = np.zeros((len(speech), 8), np.float32)
    planes[:, 3] = speech  # one live microphone among eight
    r = _post(service, "desk-8ch.wav", _wav(planes), language="en", channels="split")
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded", body
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert "country" in " ".join(s["text"] for s in doc["segments"]).lower()
    _healthy(service)


def test_more_channels_than_allowed_in_split_mode_are_refused(service: Service) -> None:
    before = _counts(service.state)
    r = _post(service, "desk.wav", _raw_wav(channels=9, rate=16000, frames=16000), channels="split")
    assert r.status_code == 422, r.text
    assert "9 channels" in r.json()["error"] and "VERBATIM_MAX_CHANNELS" in r.json()["error"]
    assert _counts(service.state) == before
    # mixed, the same file is accepted
    assert _post(service, "desk.wav", _raw_wav(channels=9, rate=16000, frames=16000)).status_code == 202


@pytest.mark.parametrize("rate", [1, 100, 4000])
def test_a_sample_rate_below_8_khz_is_refused(service: Service, rate: int) -> None:
    before = _counts(service.state)
    data = _raw_wav(channels=1, rate=rate, frames=600 * rate, width=1)  # ten minutes at `rate`
    r = _post(service, "tiny.wav", data)
    assert r.status_code == 422, r.text
    assert f"{rate} Hz" in r.json()["error"]
    assert _counts(service.state) == before
    with service.state.sessions() as session:
        last = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert (last.action, last.outcome) == ("write", "error") and "AudioLimitError" in (last.detail or "")


def test_a_recording_longer_than_allowed_is_refused_at_intake(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path / "home", max_duration_s=30.0))
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            _, token = create_user(session, name="inv", role="investigator", unit="b")
        headers = {"Authorization": f"Bearer {token}"}
        # 2 minutes of silence: a FLAC of a few kB
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(16000 * 120, np.int16), 16000, format="FLAC")
        assert len(buffer.getvalue()) < 50_000
        r = client.post("/v1/jobs", headers=headers, files={"file": ("long.flac", buffer.getvalue())})
        assert r.status_code == 422, r.text
        assert "VERBATIM_MAX_DURATION_S" in r.json()["error"]
        assert state.store.list("jobs/") == []
        r = client.post("/v1/jobs", headers=headers, files={"file": ("short.flac", JFK.read_bytes())})
        assert r.status_code == 202, r.text


def _warnings_everywhere(service: Service, job_id: str) -> dict[str, Any]:
    """The job's warning, as the status, the transcript JSON and the DOCX header say it."""
    body = service.wait(job_id)
    assert body["status"] == "succeeded", body
    assert body["warnings"] and body["warnings"][0]["code"] == "truncated", body
    headers = service.investigator.headers
    doc = service.client.get(f"/v1/jobs/{job_id}/transcript", headers=headers).json()
    assert doc["warnings"] == body["warnings"]
    r = service.client.get(f"/v1/jobs/{job_id}/transcript?format=docx", headers=headers)
    header = Document(io.BytesIO(r.content)).tables[0]
    rows = {row.cells[0].text: row.cells[1].text for row in header.rows}
    assert "damaged" in rows["Avertissement"]
    warning: dict[str, Any] = doc["warnings"][0]
    return warning


def test_a_truncated_file_says_so(service: Service, speech: np.ndarray) -> None:
    data = _wav(speech)
    r = _post(service, "cut.wav", data[: len(data) // 2], language="en", diarize="false")
    assert r.status_code == 202, r.text
    warning = _warnings_everywhere(service, r.json()["id"])
    assert warning["declared_duration"] == pytest.approx(11.0, abs=0.1)
    assert warning["decoded_duration"] == pytest.approx(5.5, abs=0.2)


def test_a_wav_header_announcing_gigabytes_says_so(service: Service, speech: np.ndarray) -> None:
    data = bytearray(_wav(speech[:16000]))
    data[4:8] = struct.pack("<I", 0x7FFFFFF0)  # RIFF size
    data[40:44] = struct.pack("<I", 0x7FFFFF00)  # data chunk: 2 GB announced, 32 kB present
    r = _post(service, "liar.wav", bytes(data), language="en", diarize="false")
    assert r.status_code == 202, r.text
    warning = _warnings_everywhere(service, r.json()["id"])
    assert warning["declared_duration"] > 60_000 and warning["decoded_duration"] == pytest.approx(1.0)


def test_a_sound_file_has_no_warning(service: Service) -> None:
    r = _post(service, "jfk.flac", JFK.read_bytes(), language="en", diarize="false")
    body = service.wait(r.json()["id"])
    assert body["status"] == "succeeded" and body["warnings"] is None
    doc = service.client.get(f"/v1/jobs/{body['id']}/transcript", headers=service.investigator.headers).json()
    assert "warnings" not in doc


def test_no_server_path_in_what_users_read(service: Service) -> None:
    r = _post(service, "jfk.flac", JFK.read_bytes(), language="en")  # diarised: three models
    job_id = r.json()["id"]
    assert service.wait(job_id)["status"] == "succeeded"
    headers = service.investigator.headers
    manifest = service.client.get(f"/v1/jobs/{job_id}/custody", headers=headers).text
    transcript = service.client.get(f"/v1/jobs/{job_id}/transcript", headers=headers).text
    docx = service.client.get(f"/v1/jobs/{job_id}/transcript?format=docx", headers=headers).content
    header = "\n".join(c.text for row in Document(io.BytesIO(docx)).tables[0].rows for c in row.cells)
    models_dir = str(service.state.settings.models_dir)
    for text in (manifest, transcript, header):
        assert '"path"' not in text and models_dir not in text and "site-packages" not in text
    assert "sha256" in manifest


def test_a_decoder_crash_fails_that_job_once_and_nothing_else(
    service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's decoding child dies as a crashing FFmpeg would (SIGSEGV); the intake check runs for real.
    from verbatim.pipeline import decode_guard

    fake = tmp_path / "segfaulting-python"
    fake.write_text(f"#!{sys.executable}\nimport os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n")
    fake.chmod(0o755)
    real = decode_guard._run_child

    def crashing(spec: dict[str, Any], name: str, **kwargs: Any) -> dict[str, Any]:
        if spec["op"] != "decode":
            return real(spec, name, **kwargs)
        with monkeypatch.context() as patch:
            patch.setattr(decode_guard.sys, "executable", str(fake))
            return real(spec, name, **kwargs)

    monkeypatch.setattr(decode_guard, "_run_child", crashing)
    r = _post(service, "crash.flac", JFK.read_bytes(), language="en", diarize="false")
    assert r.status_code == 202, r.text
    body = service.wait(r.json()["id"])
    assert body["status"] == "failed" and "crashed" in body["error"] and "SIGSEGV" in body["error"], body
    with service.state.sessions() as session:
        job = session.get(Job, body["id"])
        assert job is not None and job.attempts == 1  # failed with its reason, not retaken
    monkeypatch.undo()
    _healthy(service)
