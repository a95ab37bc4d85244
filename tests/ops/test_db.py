"""The database layer on both engines: SQLite (a temporary file) and the real PostgreSQL (a fresh schema)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from tests.ops.conftest import BACKENDS
from verbatim.ops import accounts, audit
from verbatim.ops.db import (
    TRIGRAM_INDEX,
    Artifact,
    ArtifactRecord,
    AuditEntry,
    Base,
    Job,
    User,
    claim_job,
    create_job,
    current_revision,
    downgrade,
    fail_job,
    finish_job,
    head_revision,
    make_engine,
    session_factory,
    set_progress,
    upgrade,
    utcnow,
)
from verbatim.ops.db.testing import temporary_database

TABLES = {"users", "jobs", "artifacts", "audit_entries", "alembic_version"}


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def owner(factory: sessionmaker[Session]) -> User:
    with factory() as session:
        user, _ = accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
        return user


def _job(factory: sessionmaker[Session], owner: User) -> str:
    with factory() as session:
        job = create_job(
            session,
            owner=owner,
            options={"language": "fr"},
            filename="audition mineure.wav",
            audio_sha256="a" * 64,
            audio_size=1234,
            object_key="originals/x",
        )
        return job.id


def _load(factory: sessionmaker[Session], job_id: str) -> Job:
    with factory() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


# --- migrations -------------------------------------------------------------------------------------------


def test_migrations_create_the_schema_from_empty_and_are_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None
        assert not set(inspect(engine).get_table_names()) & TABLES

        upgrade(db_url)
        assert set(inspect(engine).get_table_names()) >= TABLES
        assert current_revision(engine) == head_revision()

        upgrade(engine)  # again: nothing to do, nothing breaks
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def declared(obj: object, name: str | None, kind: str, reflected: bool, compare_to: object) -> bool:
        # The trigram index exists on PostgreSQL only (migration 0005), so the models do not declare it.
        return not (kind == "index" and name == TRIGRAM_INDEX)

    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": declared}
        )
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_base_and_back(db_url: str) -> None:
    upgrade(db_url)
    downgrade(db_url, "base")
    engine = make_engine(db_url)
    try:
        assert not set(inspect(engine).get_table_names()) & (TABLES - {"alembic_version"})
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_connections_use_wal_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'folder' / 'verbatim.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


# --- append-only audit ------------------------------------------------------------------------------------


def test_audit_entries_cannot_be_updated_or_deleted(factory: sessionmaker[Session], owner: User) -> None:
    with factory() as session:
        audit.record(session, user=owner, action="read", outcome="ok", request_id="r1")
        for statement in ("UPDATE audit_entries SET detail = 'edited'", "DELETE FROM audit_entries"):
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text(statement))
            session.rollback()
        if session.get_bind().dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"):
                session.execute(text("TRUNCATE audit_entries"))
            session.rollback()

        entry = session.scalars(select(AuditEntry)).one()
        session.delete(entry)
        with pytest.raises(DBAPIError, match="append-only"):
            session.commit()
        session.rollback()

    with factory() as session:
        assert [e.detail for e in session.scalars(select(AuditEntry))] == [""]


# --- models -----------------------------------------------------------------------------------------------


def test_timestamps_come_back_utc_aware(factory: sessionmaker[Session], owner: User) -> None:
    job = _load(factory, _job(factory, owner))
    assert job.created_at.utcoffset() == timedelta(0)
    assert abs(utcnow() - job.created_at) < timedelta(minutes=1)


def test_foreign_keys_are_enforced(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.add(Job(unit="x", owner_id=999_999, options={}))
        with pytest.raises(IntegrityError):
            session.commit()


def test_job_repr_leaves_the_file_name_out(factory: sessionmaker[Session], owner: User) -> None:
    job = _load(factory, _job(factory, owner))
    assert job.filename == "audition mineure.wav"
    assert "audition" not in repr(job)


def test_deleting_a_job_deletes_its_artifacts_not_its_audit(
    factory: sessionmaker[Session], owner: User
) -> None:
    job_id = _job(factory, owner)
    with factory() as session:
        assert claim_job(session, job_id=job_id, worker_id="w1")
        record = ArtifactRecord(kind="txt", object_key="k", sha256="b" * 64, size=3)
        assert finish_job(session, job_id=job_id, worker_id="w1", artifacts=[record])
        audit.record(session, user=owner, action="delete", outcome="ok", request_id="r", job_id=job_id)
        job = session.get(Job, job_id)
        session.delete(job)
        session.commit()
        assert session.scalars(select(Artifact)).all() == []
        assert session.scalars(select(AuditEntry.job_id)).all() == [job_id]


# --- job state transitions --------------------------------------------------------------------------------


def test_claim_is_exclusive_when_two_sessions_race(factory: sessionmaker[Session], owner: User) -> None:
    for _ in range(5):
        job_id = _job(factory, owner)
        barrier = threading.Barrier(2)
        results: dict[str, bool] = {}

        def claim(
            worker: str,
            job_id: str = job_id,
            barrier: threading.Barrier = barrier,
            results: dict[str, bool] = results,
        ) -> None:
            with factory() as session:
                session.execute(select(1))  # each thread holds its own connection before the race
                barrier.wait()
                results[worker] = claim_job(session, job_id=job_id, worker_id=worker)

        threads = [threading.Thread(target=claim, args=(w,)) for w in ("w1", "w2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(results.values()) == [False, True]
        winner = next(w for w, won in results.items() if won)
        job = _load(factory, job_id)
        assert (job.status, job.worker_id, job.attempts) == ("running", winner, 1)


def test_a_job_completes_once(factory: sessionmaker[Session], owner: User) -> None:
    job_id = _job(factory, owner)
    artifacts = [
        ArtifactRecord(kind="transcript_json", object_key=f"results/{job_id}.json", sha256="c" * 64, size=10),
        ArtifactRecord(kind="srt", object_key=f"results/{job_id}.srt", sha256="d" * 64, size=5),
    ]
    with factory() as session:
        assert not finish_job(session, job_id=job_id, worker_id="w1")  # still queued
        assert claim_job(session, job_id=job_id, worker_id="w1")
        assert not claim_job(session, job_id=job_id, worker_id="w2")  # held by a live worker
        assert not finish_job(session, job_id=job_id, worker_id="w2")
        assert not finish_job(session, job_id=job_id, worker_id="w1", attempt=2)
        assert finish_job(
            session,
            job_id=job_id,
            worker_id="w1",
            attempt=1,
            artifacts=artifacts,
            language="fr",
            duration=61.5,
            models={"asr": {"name": "whisper-base", "sha256": "e" * 64}},
        )
        assert not finish_job(session, job_id=job_id, worker_id="w1", artifacts=artifacts)
        assert not fail_job(session, job_id=job_id, worker_id="w1", error="too late")
        assert not fail_job(session, job_id=job_id, worker_id=None, error="too late")
        assert not claim_job(session, job_id=job_id, worker_id="w3", now=utcnow() + timedelta(days=1))

    job = _load(factory, job_id)
    assert (job.status, job.progress, job.language, job.duration) == ("succeeded", 1.0, "fr", 61.5)
    assert job.models == {"asr": {"name": "whisper-base", "sha256": "e" * 64}}
    assert job.finished_at is not None
    assert sorted(a.kind for a in job.artifacts) == ["srt", "transcript_json"]


def test_progress_is_clamped_and_only_the_holder_reports(factory: sessionmaker[Session], owner: User) -> None:
    job_id = _job(factory, owner)
    with factory() as session:
        assert not set_progress(session, job_id=job_id, worker_id="w1", progress=0.5)
        assert claim_job(session, job_id=job_id, worker_id="w1")
        assert set_progress(session, job_id=job_id, worker_id="w1", progress=0.25)
        assert _load(factory, job_id).progress == 0.25
        assert set_progress(session, job_id=job_id, worker_id="w1", progress=7.0)
        assert _load(factory, job_id).progress == 1.0
        assert not set_progress(session, job_id=job_id, worker_id="w2", progress=0.1)
        assert not set_progress(session, job_id=job_id, worker_id="w1", progress=0.1, attempt=2)


def test_a_stale_job_is_taken_over_and_the_old_worker_cannot_finish(
    factory: sessionmaker[Session], owner: User
) -> None:
    job_id = _job(factory, owner)
    t0 = utcnow()
    stale = timedelta(minutes=5)
    with factory() as session:
        assert claim_job(session, job_id=job_id, worker_id="w1", now=t0)
        assert not claim_job(session, job_id=job_id, worker_id="w2", now=t0 + timedelta(minutes=1))
        assert claim_job(
            session, job_id=job_id, worker_id="w2", now=t0 + timedelta(minutes=6), stale_after=stale
        )
        assert not set_progress(session, job_id=job_id, worker_id="w1", progress=0.9)
        assert not finish_job(session, job_id=job_id, worker_id="w1")
        # The third attempt is the last one allowed; after it, nobody takes the job over.
        assert claim_job(
            session, job_id=job_id, worker_id="w3", now=t0 + timedelta(minutes=12), max_attempts=3
        )
        assert not claim_job(
            session, job_id=job_id, worker_id="w4", now=t0 + timedelta(hours=1), max_attempts=3
        )
        assert not finish_job(session, job_id=job_id, worker_id="w2")
        assert finish_job(session, job_id=job_id, worker_id="w3", attempt=3)
    job = _load(factory, job_id)
    assert (job.status, job.worker_id, job.attempts) == ("succeeded", "w3", 3)


def test_fail_job(factory: sessionmaker[Session], owner: User) -> None:
    queued, running = _job(factory, owner), _job(factory, owner)
    with factory() as session:
        assert fail_job(
            session, job_id=queued, worker_id=None, error="The broker is unreachable; retry later."
        )
        assert not claim_job(session, job_id=queued, worker_id="w1")

        assert claim_job(session, job_id=running, worker_id="w1")
        assert not fail_job(session, job_id=running, worker_id="w2", error="x")
        assert fail_job(session, job_id=running, worker_id="w1", error="The file holds no audio stream.")
        assert not finish_job(session, job_id=running, worker_id="w1")
    job = _load(factory, running)
    assert (job.status, job.error) == ("failed", "The file holds no audio stream.")


def test_job_constraints(factory: sessionmaker[Session], owner: User) -> None:
    with factory() as session:
        session.add(Job(unit=owner.unit, owner_id=owner.id, options={}, status="lost"))
        with pytest.raises(IntegrityError):
            session.commit()
        session.rollback()
        session.add(Job(unit=owner.unit, owner_id=owner.id, options={}, progress=1.5))
        with pytest.raises(IntegrityError):
            session.commit()


def test_the_transcript_search_uses_a_trigram_index_on_postgresql() -> None:
    """``LIKE '%words%'`` over every transcript of a unit, served by the index instead of reading them all."""
    from verbatim.jobs.search import search_filter
    from verbatim.ops.db import TranscriptSearch
    from verbatim.ops.db.testing import temporary_postgres_schema

    with temporary_postgres_schema() as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            assert TRIGRAM_INDEX in {i["name"] for i in inspect(engine).get_indexes("transcript_search")}
            factory = session_factory(engine)
            with factory() as session:
                user, _ = accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
                ids = [_job(factory, user) for _ in range(3)]
                texts = ["l'audition de monsieur zanzibar", "rien a signaler", "la greffiere note"]
                session.add_all(
                    TranscriptSearch(job_id=j, unit="brigade-lyon", text=t)
                    for j, t in zip(ids, texts, strict=True)
                )
                session.commit()
                query = select(Job.id).where(search_filter("Zanzibar", unit="brigade-lyon"))
                assert list(session.scalars(query)) == [ids[0]]
                # With three rows the planner would read the table anyway: forbid that to see the index used
                # (an admin's search, over every unit: no other index to start from).
                session.execute(text("SET LOCAL enable_seqscan = off"))
                compiled = select(Job.id).where(search_filter("Zanzibar")).compile(engine)
                explained = session.connection().exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
                plan = "\n".join(row[0] for row in explained)
                assert TRIGRAM_INDEX in plan, plan
        finally:
            engine.dispose()


def test_migrations_on_sqlite_add_no_trigram_index(tmp_path: Path) -> None:
    with temporary_database("sqlite", tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            assert current_revision(engine) == head_revision()
            assert TRIGRAM_INDEX not in {i["name"] for i in inspect(engine).get_indexes("transcript_search")}
        finally:
            engine.dispose()
