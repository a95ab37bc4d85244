"""Data at rest in the embedded deployment (issue 15): a private home and database; a deleted job's text,
correction and file name are found in no file under the home afterwards (secure_delete, WAL emptied)."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import JFK, make_settings
from verbatim.api.deps import ServiceState
from verbatim.ops.accounts import create_user
from verbatim.ops.db import make_engine
from verbatim.server import create_app

pytestmark = pytest.mark.models


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file()]


def test_a_new_home_and_its_database_are_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh" / "home"
    with TestClient(create_app(make_settings(home), dispatcher=_Idle())):
        assert _mode(home) == 0o700
        assert _mode(home / "verbatim.db") == 0o600
        for companion in ("verbatim.db-wal", "verbatim.db-shm"):
            if (home / companion).exists():
                assert _mode(home / companion) == 0o600


def test_an_open_home_left_by_an_earlier_version_is_tightened(tmp_path: Path) -> None:
    home = tmp_path / "old"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    make_engine(f"sqlite:///{home / 'verbatim.db'}").dispose()
    (home / "verbatim.db").chmod(0o644)
    with TestClient(create_app(make_settings(home), dispatcher=_Idle())):
        assert _mode(home) == 0o700 and _mode(home / "verbatim.db") == 0o600


def test_secure_delete_is_on(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
    finally:
        engine.dispose()


class _Idle:
    def submit(self, job_id: str) -> None:
        raise AssertionError("no job is submitted here")


def test_a_deleted_jobs_text_and_name_are_gone_from_every_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    marker_name = "Audition-Zorglubienne-Dupont.flac"
    correction = "Quetzalcoatlesque"
    with TestClient(create_app(make_settings(home), poll_interval_s=0.05)) as client:
        state: ServiceState = client.app.state.verbatim  # type: ignore[attr-defined]
        with state.sessions() as session:
            _, token = create_user(session, name="inv", role="investigator", unit="b")
        headers = {"Authorization": f"Bearer {token}"}
        with JFK.open("rb") as fh:
            r = client.post(
                "/v1/jobs", headers=headers, files={"file": (marker_name, fh)},
                data={"language": "en", "diarize": "false"},
            )  # fmt: skip
        job_id = r.json()["id"]
        for _ in range(1200):
            body = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
            if body["status"] in ("succeeded", "failed"):
                break
            time.sleep(0.1)
        assert body["status"] == "succeeded", body
        doc = client.get(f"/v1/jobs/{job_id}/transcript", headers=headers).json()
        segment = doc["segments"][0]
        word = segment["words"][0]
        r = client.post(
            f"/v1/jobs/{job_id}/edits", headers=headers,
            json={"edits": [{"segment_id": segment["id"], "word_index": 0, "before": word["text"],
                             "after": correction}]},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        # while the job exists its name is in the database (column encryption is not done: see the README)
        assert any(marker_name.encode() in p.read_bytes() for p in _files(home))
        assert client.delete(f"/v1/jobs/{job_id}", headers=headers).status_code == 204
        leftovers = [
            (p.name, needle)
            for p in _files(home)
            for needle in (marker_name.encode(), correction.encode(), b"fellow Americans", b"Zorglub")
            if needle in p.read_bytes()
        ]
        assert leftovers == []
