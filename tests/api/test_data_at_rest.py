"""Data at rest in the embedded deployment (issue 15): a private home and database; encryption at rest on by
default (objects and the database's personal data: verbatim.ops.db.sealed); a job's text, corrections,
speaker names and file name are in no file under the home in clear, while the job exists and after it is
deleted."""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.api.conftest import make_settings
from tests.conftest import DATA
from verbatim.api.deps import ServiceState
from verbatim.jobs.documents import fold, index_document
from verbatim.ops.accounts import create_user
from verbatim.ops.db import TranscriptTrigram, create_job, make_engine
from verbatim.ops.db.sealed import seal_rows
from verbatim.ops.keys import EMBEDDED_KEYRING
from verbatim.ops.settings import EncryptionSettings
from verbatim.ops.storage.encrypted import EncryptedObjectStore
from verbatim.ops.storage.rotation import rotate_keyring
from verbatim.server import create_app

pytestmark = pytest.mark.models

STEREO = DATA / "stereo_diarization.wav"


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


def _wait(client: TestClient, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 300
    while (body := client.get(f"/v1/jobs/{job_id}", headers=headers).json())["status"] not in (
        "succeeded",
        "failed",
    ):
        assert time.monotonic() < deadline, body
        time.sleep(0.1)
    return body


def _in_clear(home: Path, needles: list[str]) -> list[tuple[str, str]]:
    """(file, needle) for each needle found in clear in a file under the home: as typed, case-folded, or
    as the search index would fold it, in UTF-8 or UTF-16 (SQLite may store either)."""
    forms = {
        form.encode(encoding)
        for needle in needles
        for form in (needle, needle.lower(), fold(needle))
        for encoding in ("utf-8", "utf-16-le")
    }
    return [
        (str(p.relative_to(home)), f.decode(errors="replace"))
        for p in _files(home)
        for f in forms
        if f in p.read_bytes()
    ]


def test_a_jobs_text_names_and_corrections_are_in_no_file_in_clear(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Encryption at rest on by default in the embedded deployment: after a job, a correction, a renamed
    speaker, a search and a key rotation, none of the file name, correction, speaker name or transcript
    words is in clear in any file under the home; the search still finds them; deleting the job removes
    its index rows and everything else."""
    home = tmp_path / "home"
    marker_name = "Audition-Zorglubienne-Dupont.wav"
    correction = "Quetzalcoatlesque"
    speaker_name = "Capitaine Hérisséverte"
    hidden = "Bérénice Zygomatique"
    with caplog.at_level(logging.WARNING, logger="verbatim.keys"):
        app = create_app(make_settings(home), poll_interval_s=0.05)
        client = TestClient(app).__enter__()
    try:
        ring_file = home / EMBEDDED_KEYRING
        assert _mode(ring_file) == 0o600
        [line] = [r.getMessage() for r in caplog.records if "back this file up" in r.getMessage()]
        assert str(ring_file) in line
        state: ServiceState = app.state.verbatim
        assert isinstance(state.store, EncryptedObjectStore)
        with state.sessions() as session:
            _, token = create_user(session, name="inv", role="investigator", unit="b")
        headers = {"Authorization": f"Bearer {token}"}
        with STEREO.open("rb") as fh:
            r = client.post(
                "/v1/jobs", headers=headers, files={"file": (marker_name, fh)},
                data={"language": "en", "channels": "split", "pseudonymize": "true", "hide": hidden},
            )  # fmt: skip
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert _wait(client, job_id, headers)["status"] == "succeeded"
        doc = client.get(f"/v1/jobs/{job_id}/transcript", headers=headers).json()
        words = sorted(
            {w["text"].strip(" .,!?") for s in doc["segments"] for w in s["words"]}, key=len, reverse=True
        )[:4]
        assert all(len(w) >= 5 for w in words), words
        segment = doc["segments"][0]
        r = client.post(
            f"/v1/jobs/{job_id}/edits", headers=headers,
            json={"edits": [{"segment_id": segment["id"], "word_index": 0,
                             "before": segment["words"][0]["text"], "after": correction}]},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        r = client.put(f"/v1/jobs/{job_id}/speakers", headers=headers, json={"names": {"S1": speaker_name}})
        assert r.status_code == 200, r.text

        def found(query: str) -> bool:
            r = client.get("/v1/jobs", params={"q": query}, headers=headers)
            assert r.status_code == 200, r.text
            return job_id in {j["id"] for j in r.json()["jobs"]}

        # the search finds words, corrections and names, accents and case aside; not what is not said
        assert found(words[0].upper()) and found(correction.lower()) and found("capitaine herisseverte")
        assert found("HÉRISSÉVERTE") and not found("zzyzx qwerty")
        with state.sessions() as session:
            assert session.scalar(select(func.count()).where(TranscriptTrigram.job_id == job_id))
        client.get(f"/v1/jobs/{job_id}/edits", headers=headers)  # the history read back

        needles = [marker_name, "Zorglubienne", correction, speaker_name, "Hérisséverte", hidden, *words]
        assert _in_clear(home, needles) == []

        # a rotation: objects and database values under a new key, the old one retired; all still readable
        old = state.store.keyring.active_id  # type: ignore[attr-defined]
        report = rotate_keyring(
            state.store, also=lambda: seal_rows(state.engine, state.store.keyring, rekey=True)
        )  # type: ignore[attr-defined]
        assert report.retired == (old,) and report.rows > 0
        assert client.get(f"/v1/jobs/{job_id}", headers=headers).json()["filename"] == marker_name
        history = client.get(f"/v1/jobs/{job_id}/edits", headers=headers).json()
        assert {e["after"] for e in history["edits"]} >= {correction, speaker_name}
        again = client.get(f"/v1/jobs/{job_id}/transcript", headers=headers).json()
        assert {"id": "S1", "name": speaker_name} in again["speakers"]
        assert found(words[0]) and found(correction) and found("herisseverte")
        assert _in_clear(home, needles) == []

        assert client.delete(f"/v1/jobs/{job_id}", headers=headers).status_code == 204
        with state.sessions() as session:
            assert session.scalar(select(func.count()).where(TranscriptTrigram.job_id == job_id)) == 0
        assert not found(words[0])
    finally:
        client.__exit__(None, None, None)
    assert _in_clear(home, needles) == []


def test_a_home_written_in_clear_is_sealed_at_the_next_start(tmp_path: Path) -> None:
    """An embedded home from before encryption at rest: its rows are sealed at the next start (idempotent
    upgrade), read back through the API as they were, and found by the search."""
    home = tmp_path / "old"
    off = make_settings(home, encryption=EncryptionSettings(embedded_default=False))
    with TestClient(create_app(off, dispatcher=_Idle())) as client:
        state: ServiceState = client.app.state.verbatim  # type: ignore[attr-defined]
        assert not isinstance(state.store, EncryptedObjectStore)
        with state.sessions() as session:
            owner, token = create_user(session, name="inv", role="investigator", unit="b")
            job = create_job(
                session, owner=owner, options={"language": "fr", "hide": ["Zorglub Martin"]},
                filename="Zorglub-audition.wav", audio_sha256="a" * 64, audio_size=1, object_key="jobs/x/o",
            )  # fmt: skip
            job.status = "succeeded"
            index_document(session, job, {"segments": [{"text": "Le témoin Zorglub parle"}], "speakers": []})
            session.commit()
            job_id = job.id
    assert _in_clear(home, ["Zorglub"])  # in clear, before

    with TestClient(create_app(make_settings(home), dispatcher=_Idle())) as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/v1/jobs/{job_id}", headers=headers).json()["filename"] == "Zorglub-audition.wav"
        found = client.get("/v1/jobs", params={"q": "TEMOIN zorglub"}, headers=headers).json()["jobs"]
        assert [j["id"] for j in found] == [job_id]
    assert _in_clear(home, ["Zorglub", "temoin zorglub"]) == []
