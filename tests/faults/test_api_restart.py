"""The API restarted during uploads: ``verbatim serve`` (embedded: SQLite and the local store under
VERBATIM_HOME) as a process of its own, killed with SIGKILL while a large upload arrives, then started again
on the same home. No job and no object is visible for the interrupted upload (the local store's temporary
files may remain, in its temporary area only, never listed as objects), and a new upload works."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import REPO
from tests.workers.helpers import JFK
from verbatim.api.serving import free_port
from verbatim.ops.accounts import create_user
from verbatim.ops.db import Job, make_engine, session_factory, upgrade
from verbatim.ops.db.sealed import attach_keyring
from verbatim.ops.keys import resolve_keyring
from verbatim.ops.settings import Settings
from verbatim.ops.storage import LocalObjectStore

pytestmark = pytest.mark.services

BOUNDARY = "vbfaults0boundary"


class Server:
    """``verbatim serve`` on a free loopback port, embedded mode, on ``home``."""

    def __init__(self, home: Path, log: Path) -> None:
        self.port = free_port()
        self.home = home
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "VERBATIM_HOME": str(self.home),
            "VERBATIM_MODELS_DIR": os.environ["VERBATIM_MODELS_DIR"],
            "PYTHONUNBUFFERED": "1",
        }
        env.pop("VERBATIM_BROKER_URL", None)
        env.pop("VERBATIM_DATABASE_URL", None)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "verbatim", "serve", "--port", str(self.port)],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text(errors="replace")[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            assert time.monotonic() < deadline, "the API did not start in 60 s"
            time.sleep(0.2)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def request(self, method: str, path: str, token: str, body: bytes | None = None,
                content_type: str | None = None) -> tuple[int, Any]:  # fmt: skip
        headers = {"Authorization": f"Bearer {token}"}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", data=body, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


def multipart(filename: str, data: bytes, **fields: str) -> tuple[bytes, bytes]:
    """The head (form fields, then the file part's header and first bytes) and tail of a multipart body."""
    head = b""
    for name, value in fields.items():
        head += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    head += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    return head + data, f"\r\n--{BOUNDARY}--\r\n".encode()


def big_wav(path: Path, minutes: float) -> bytes:
    """A valid 16 kHz mono WAV of a quiet tone (about 1.9 MB a minute)."""
    n = int(minutes * 60 * 16000)
    samples = (0.1 * 32767 * np.sin(2 * np.pi * 440 * np.arange(n) / 16000)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())
    return path.read_bytes()


def open_upload(port: int, token: str, length: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            f"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
        ).encode()
    )
    return sock


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    home = tmp_path / "home"
    url = f"sqlite:///{home / 'verbatim.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_factory(engine)() as session:
        _, token = create_user(session, name="inv", role="investigator", unit="brigade-a")
    engine.dispose()
    yield home, token


def jobs_in(home: Path) -> list[Job]:
    engine = make_engine(f"sqlite:///{home / 'verbatim.db'}")
    # the embedded deployment seals its database columns by default, with the home's keyring
    attach_keyring(engine, resolve_keyring(Settings(home=home)))
    try:
        with session_factory(engine)() as session:
            return list(session.query(Job))
    finally:
        engine.dispose()


def temporary_files(root: Path) -> list[Path]:
    """The local store's temporary files (``.tmp-*.part`` beside their key) as they are now."""
    found = []
    for path in root.rglob(".tmp-*") if root.exists() else []:
        try:
            if path.is_file():
                found.append(path)
        except OSError:  # renamed or removed meanwhile
            pass
    return found


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@pytest.mark.models
def test_an_upload_cut_by_an_api_crash_leaves_nothing_visible(home: tuple[Path, str], tmp_path: Path) -> None:
    folder, token = home
    server = Server(folder, tmp_path / "serve.log")
    objects = folder / "objects"
    data = big_wav(tmp_path / "big.wav", minutes=30)  # about 58 MB
    head, tail = multipart("audition Mme Dupont.wav", data, language="en", diarize="false")
    try:
        # 1. Killed while the body is still arriving, slowly (the route has not run yet).
        server.start()
        sock = open_upload(server.port, token, len(head) + len(tail))
        sent = 0
        for _ in range(40):  # about 4 MB in 2 s
            sock.sendall(head[sent : sent + 100_000])
            sent += 100_000
            time.sleep(0.05)
        server.kill()
        sock.close()
        assert jobs_in(folder) == []
        assert LocalObjectStore(objects).list() == []

        # 2. Killed while the route writes the recording into the store: the whole body sent at once, the
        # kill as soon as the store's temporary file has its first bytes.
        server.start()
        sock = open_upload(server.port, token, len(head) + len(tail))
        sock.sendall(head + tail)
        deadline = time.monotonic() + 60
        while not any(_size(p) > 0 for p in temporary_files(objects)):
            assert time.monotonic() < deadline, "the upload never reached the store"
            time.sleep(0.002)
        server.kill()
        sock.close()
        assert jobs_in(folder) == []
        store = LocalObjectStore(objects)
        assert store.list() == []  # the partial file is no object
        # The kill came mid-write: the partial file is still there, in the store's temporary area only.
        leftovers = temporary_files(objects)
        assert leftovers and all(p.name.endswith(".part") for p in leftovers), leftovers
        assert 0 < sum(p.stat().st_size for p in leftovers) < len(data)

        # 3. Started again on the same home: nothing of either upload shows; a new upload works. The start
        # removes abandoned temporary files (not written for an hour; this one is made to look that old).
        stale_time = time.time() - 2 * 3600
        for path in leftovers:
            os.utime(path, (stale_time, stale_time))
        in_progress = leftovers[0].parent / ".tmp-inprogress.part"  # a write in progress: kept
        in_progress.write_bytes(b"x")
        server.start()
        assert temporary_files(objects) == [in_progress]
        in_progress.unlink()
        status, body = server.request("GET", "/v1/jobs", token)
        assert (status, body["jobs"]) == (200, []), body
        payload, end = multipart("jfk.flac", JFK.read_bytes(), language="en", diarize="false")
        status, created = server.request(
            "POST", "/v1/jobs", token, payload + end, f"multipart/form-data; boundary={BOUNDARY}"
        )
        assert status == 202, created
        deadline = time.monotonic() + 120
        while True:
            status, job = server.request("GET", f"/v1/jobs/{created['id']}", token)
            assert status == 200, job
            if job["status"] in ("succeeded", "failed"):
                break
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        assert job["status"] == "succeeded", job
        assert [j.id for j in jobs_in(folder)] == [created["id"]]
        assert sorted(store.list()) == [
            f"jobs/{created['id']}/original",
            f"jobs/{created['id']}/transcript.json",
        ]
    finally:
        server.stop()
