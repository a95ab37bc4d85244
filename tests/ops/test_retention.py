"""Retention: periods per unit and kind, the purge (recordings, then whole jobs), legal holds, the audit
trail kept, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from verbatim.errors import InvalidOptionError
from verbatim.jobs.retention import clear_policy, purge, set_legal_hold, set_policy
from verbatim.ops.accounts import create_user
from verbatim.ops.db import Artifact, AuditEntry, Job, session_factory, utcnow
from verbatim.ops.storage import LocalObjectStore


def _job(
    session, store: LocalObjectStore, owner_id: int, unit: str, days_ago: float, *, split: bool = False
) -> str:  # type: ignore[no-untyped-def]
    finished = utcnow() - timedelta(days=days_ago)
    job = Job(unit=unit, owner_id=owner_id, status="succeeded", created_at=finished - timedelta(minutes=5),
              finished_at=finished, object_key="")  # fmt: skip
    session.add(job)
    session.flush()
    job.object_key = f"jobs/{job.id}/original"
    store.put_bytes(job.object_key, b"RIFF recording")
    store.put_bytes(f"jobs/{job.id}/transcript.json", b"{}")
    session.add(Artifact(job_id=job.id, kind="transcript", object_key=f"jobs/{job.id}/transcript.json",
                         sha256="0" * 64, size=2))  # fmt: skip
    if split:
        store.put_bytes(f"jobs/{job.id}/chunks/0.wav", b"RIFF part")
        store.put_bytes(f"jobs/{job.id}/chunks/0.json", b"{}")
    session.commit()
    return job.id


def test_purge_follows_unit_and_default_periods_and_spares_held_jobs(engine: Engine, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    sessions = session_factory(engine)
    with sessions() as session:
        owner, _ = create_user(session, name="inv", role="investigator", unit="brigade")
        old_brigade = _job(session, store, owner.id, "brigade", 40, split=True)
        new_brigade = _job(session, store, owner.id, "brigade", 5)
        ancient_brigade = _job(session, store, owner.id, "brigade", 400)
        held = _job(session, store, owner.id, "brigade", 400)
        old_court = _job(session, store, owner.id, "court", 40)
        running = Job(unit="brigade", owner_id=owner.id, status="running",
                      created_at=utcnow() - timedelta(days=900))  # fmt: skip
        session.add(running)
        session.commit()
        running_id = running.id

        set_policy(session, unit="*", kind="recording", days=90)
        set_policy(session, unit="brigade", kind="recording", days=30)
        set_policy(session, unit="brigade", kind="transcript", days=365)
        job = session.get(Job, held)
        assert job is not None
        set_legal_hold(session, job=job, hold=True, reference="ORD-2026-117", by=None, request_id=None)

        dry = purge(session, store, dry_run=True)
        assert (
            sorted(dry.recordings) == [old_brigade] and dry.jobs == [ancient_brigade] and dry.held == [held]
        )
        assert store.exists(f"jobs/{old_brigade}/original")  # nothing deleted by a dry run

        report = purge(session, store)
        session.commit()
        assert (
            report.recordings == [old_brigade] and report.jobs == [ancient_brigade] and report.held == [held]
        )

        # recording purged: original and derived audio gone, transcript kept, the purge marked
        assert not store.exists(f"jobs/{old_brigade}/original")
        assert not store.exists(f"jobs/{old_brigade}/chunks/0.wav")
        assert store.exists(f"jobs/{old_brigade}/transcript.json") and store.exists(
            f"jobs/{old_brigade}/chunks/0.json"
        )
        purged = session.get(Job, old_brigade)
        assert purged is not None and purged.original_purged_at is not None
        # everything of the ancient job gone, row included
        assert session.get(Job, ancient_brigade) is None and store.list(f"jobs/{ancient_brigade}/") == []
        # untouched: recent, other unit within the default period, held, running
        for kept in (new_brigade, old_court, held):
            assert store.exists(f"jobs/{kept}/original")
        assert session.get(Job, running_id) is not None

        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).all()
        assert {(e.job_id, e.detail.split(":")[0]) for e in entries} == {
            (old_brigade, "recording"),
            (ancient_brigade, "all data of the job"),
        }
        # the audit trail of the deleted job stays (purge entries name it)
        assert any(e.job_id == ancient_brigade for e in entries)

        # a second purge has nothing left to do
        again = purge(session, store)
        assert again.recordings == [] and again.jobs == [] and again.held == [held]

        # released, the held job goes at the next purge
        set_legal_hold(
            session, job=session.get(Job, held), hold=False, reference=None, by=None, request_id=None
        )  # type: ignore[arg-type]
        assert purge(session, store).jobs == [held]


def test_without_a_period_nothing_is_purged(engine: Engine, tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with session_factory(engine)() as session:
        owner, _ = create_user(session, name="inv", role="investigator", unit="b")
        job_id = _job(session, store, owner.id, "b", 5000)
        set_policy(session, unit="b", kind="recording", days=10)
        assert clear_policy(session, unit="b", kind="recording")
        report = purge(session, store)
        assert report.recordings == report.jobs == [] and store.exists(f"jobs/{job_id}/original")


@pytest.mark.parametrize(("kind", "days"), [("audio", 3), ("recording", 0), ("transcript", -1)])
def test_bad_policies_are_refused(engine: Engine, kind: str, days: int) -> None:
    with session_factory(engine)() as session, pytest.raises(InvalidOptionError):
        set_policy(session, unit="b", kind=kind, days=days)


def test_legal_hold_through_the_api_blocks_deletion(tmp_path: Path) -> None:
    from tests.api.conftest import Actor, make_settings
    from tests.services import RecordingDispatcher
    from verbatim.api.deps import ServiceState
    from verbatim.server import create_app

    app = create_app(make_settings(tmp_path / "home"), dispatcher=RecordingDispatcher())
    with TestClient(app) as client:
        state: ServiceState = app.state.verbatim
        with state.sessions() as session:
            clerk = Actor(*create_user(session, name="clerk", role="clerk", unit="court"))
            investigator = Actor(*create_user(session, name="inv", role="investigator", unit="court"))
            outsider = Actor(*create_user(session, name="other", role="clerk", unit="elsewhere"))
            job_id = _job(session, state.store, investigator.user.id, "court", 1)  # type: ignore[arg-type]
        url = f"/v1/jobs/{job_id}/legal-hold"
        assert client.put(url, json={"hold": True}).status_code == 401
        assert client.put(url, json={"hold": True}, headers=outsider.headers).status_code == 404
        assert client.put(url, json={"hold": True}, headers=investigator.headers).status_code == 403
        r = client.put(url, json={"hold": True, "reference": "ORD-1"}, headers=clerk.headers)
        assert r.status_code == 200 and r.json()["legal_hold"] is True
        assert client.delete(f"/v1/jobs/{job_id}", headers=clerk.headers).status_code == 409
        assert client.get(f"/v1/jobs/{job_id}", headers=investigator.headers).json()["legal_hold"] is True
        r = client.put(url, json={"hold": False}, headers=clerk.headers)
        assert r.status_code == 200 and r.json()["legal_hold"] is False
        assert client.delete(f"/v1/jobs/{job_id}", headers=clerk.headers).status_code == 204


def test_retention_and_purge_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from verbatim.cli import app
    from verbatim.ops.db import make_engine, upgrade
    from verbatim.ops.settings import get_settings

    monkeypatch.setenv("VERBATIM_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        url = settings.resolved_database_url()
        upgrade(url)
        engine = make_engine(url)
        store = LocalObjectStore(settings.resolved_local_root())
        with session_factory(engine)() as session:
            owner, _ = create_user(session, name="inv", role="investigator", unit="b")
            job_id = _job(session, store, owner.id, "b", 50)
        engine.dispose()
        runner = CliRunner()
        assert (
            runner.invoke(
                app, ["retention", "set", "--kind", "recording", "--days", "30", "--unit", "b"]
            ).exit_code
            == 0
        )
        assert runner.invoke(app, ["retention", "list"]).output == "b\trecording\t30\n"
        dry = runner.invoke(app, ["purge", "--dry-run"])
        assert (
            dry.exit_code == 0
            and f"recording\t{job_id}" in dry.output
            and store.exists(f"jobs/{job_id}/original")
        )
        assert runner.invoke(app, ["hold", job_id, "--reference", "ORD-9"]).exit_code == 0
        assert f"recording\t{job_id}" not in runner.invoke(app, ["purge"]).output
        assert runner.invoke(app, ["hold", job_id, "--release"]).exit_code == 0
        done = runner.invoke(app, ["purge"])
        assert f"recording\t{job_id}" in done.output and not store.exists(f"jobs/{job_id}/original")
    finally:
        get_settings.cache_clear()
