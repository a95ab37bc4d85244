"""Embedded mode end to end through the real ``verbatim serve`` command.

No broker and no database URL: SQLite and a local folder under a fresh VERBATIM_HOME, jobs run by the
in-process worker. Users come from ``verbatim users add`` on the same home; the server is driven over HTTP
and stopped with SIGTERM.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import DATA, REPO
from verbatim import __version__
from verbatim.api.serving import free_port

pytestmark = pytest.mark.models

JFK = DATA / "jfk.flac"
JOB_TIMEOUT_S = 180.0


def embedded_env(home: Path) -> dict[str, str]:
    """The test session's environment (its models directory, offline hub) on a fresh home, no services."""
    env = {**os.environ, "VERBATIM_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    for key in list(env):
        if key in ("VERBATIM_BROKER_URL", "VERBATIM_DATABASE_URL") or key.startswith("VERBATIM_STORAGE__"):
            del env[key]
    return env


def add_user(env: dict[str, str], name: str, role: str, unit: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "verbatim.cli", "users", "add", name, "--role", role, "--unit", unit],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    token = proc.stdout.strip()
    assert proc.stdout == token + "\n" and token.startswith("vbt_")
    return token


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    client: httpx.Client
    home: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    home = tmp_path / "home"
    env = embedded_env(home)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:  # the child holds its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "verbatim.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(process, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60), home, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            code = process.poll()
            assert code is None, f"verbatim serve exited with {code}\n{served.output()}"
            try:
                if served.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"/healthz never answered\n{served.output()}"
            time.sleep(0.2)
        yield served
    finally:
        served.client.close()
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_embedded_upload_poll_fetch_and_stop(served: Served) -> None:
    env = embedded_env(served.home)
    investigator = {"Authorization": f"Bearer {add_user(env, 'inv-serve', 'investigator', 'brigade-s')}"}
    outsider = {"Authorization": f"Bearer {add_user(env, 'clerk-other', 'clerk', 'court-o')}"}
    client = served.client
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "version": __version__}

    audio = JFK.read_bytes()
    started = time.monotonic()
    r = client.post(
        "/v1/jobs", headers=investigator, files={"file": (JFK.name, audio, "audio/flac")},
        data={"language": "en", "diarize": "false"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]

    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        r = client.get(f"/v1/jobs/{job_id}", headers=investigator)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["status"] in ("succeeded", "failed"):
            break
        assert time.monotonic() < deadline, f"job still {body['status']}\n{served.output()}"
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    assert body["status"] == "succeeded", f"{body['error']}\n{served.output()}"
    assert body["audio_sha256"] == hashlib.sha256(audio).hexdigest()

    txt = client.get(f"/v1/jobs/{job_id}/transcript?format=txt", headers=investigator)
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert "fellow Americans" in txt.text
    srt = client.get(f"/v1/jobs/{job_id}/transcript?format=srt", headers=investigator)
    assert srt.status_code == 200 and srt.text.startswith("1\n")
    assert re.search(r"^\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}$", srt.text, re.M)
    assert "fellow Americans" in srt.text

    # Another unit sees nothing: not even that the job exists.
    assert client.get(f"/v1/jobs/{job_id}", headers=outsider).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}/transcript?format=txt", headers=outsider).status_code == 404

    # Embedded storage: the SQLite database and the original under the home.
    assert (served.home / "verbatim.db").is_file()
    originals = list((served.home / "objects").rglob("original*"))
    assert len(originals) == 1
    # encrypted at rest by default in the embedded deployment: the recording is not on disk in clear
    stored = originals[0].read_bytes()
    assert hashlib.sha256(stored).hexdigest() != body["audio_sha256"] and audio[1000:2000] not in stored
    assert (served.home / "keyring.json").stat().st_mode & 0o777 == 0o600

    client.close()
    served.process.send_signal(signal.SIGTERM)
    try:
        code = served.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"verbatim serve did not stop within 30 s of SIGTERM\n{served.output()}")
    # uvicorn shuts down gracefully, then raises the captured signal again so the exit status says why it
    # stopped (systemd counts a SIGTERM death as a clean stop): -SIGTERM, or 0.
    assert code in (0, -signal.SIGTERM), f"exit status {code}\n{served.output()}"
    output = served.output()
    assert "Traceback" not in output and "ERROR" not in output, output
    assert "Application shutdown complete" in output and "Finished server process" in output, output
    print(f"embedded job done in {elapsed:.1f} s")


def test_a_taken_port_is_one_error_line(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "verbatim.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True, text=True, env=embedded_env(tmp_path / "home"), cwd=REPO, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"verbatim: error: cannot listen on 127.0.0.1:{port}: ")
    assert "try --port" in lines[0]


def test_the_start_logs_no_alembic_lines(served: Served) -> None:
    assert served.client.get("/healthz").status_code == 200
    output = served.output()
    # the home path holds the test name ("...no_alembic...") in the keyring line: look for alembic lines
    assert "alembic.runtime" not in output and "Running upgrade" not in output
    assert "Context impl" not in output
