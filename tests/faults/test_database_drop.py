"""The database connection dropped mid-job: PostgreSQL ends the worker's connections
(``pg_terminate_backend``, as a server restart or a failover does). Only this test's own connections are
ended: the worker's engine names them with an ``application_name`` of its own, and the test selects them by
that name, never anybody else's. The job completes, once."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from tests.conftest import write_audio
from tests.workers.helpers import JFK, check_transcript, load, make_owner, upload_job
from verbatim.ops.db import make_engine, session_factory, upgrade
from verbatim.ops.db.testing import postgres_test_url, temporary_postgres_schema
from verbatim.ops.settings import get_settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.pipeline.decode import decode
from verbatim.workers.process import ProcessOptions, process_job

pytestmark = [pytest.mark.services, pytest.mark.models]


def test_a_job_completes_when_the_database_drops_its_connections(tmp_path: Path) -> None:
    name = f"vbfaults_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_test_url(), isolation_level="AUTOCOMMIT")
    terminate = text(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE application_name = :name AND pid <> pg_backend_pid()"
    )
    with temporary_postgres_schema() as db_url:
        upgrade(db_url)
        # The worker's engine, as make_engine builds it (pool_pre_ping), its connections named for this test.
        worker_url = make_url(db_url).update_query_dict({"application_name": name})
        worker_engine = make_engine(worker_url.render_as_string(hide_password=False))
        test_engine = make_engine(db_url)  # the test's own reads: never terminated
        try:
            sessions = session_factory(test_engine)
            store = LocalObjectStore(tmp_path / "objects")
            owner = make_owner(sessions)
            # About 44 s of speech, so that the job runs long enough for several rounds of faults even on a
            # fast machine (with the 11 s clip alone, CI once finished after two rounds).
            clip = write_audio(tmp_path / "long.flac", np.tile(decode(JFK).samples, 4))
            job_id = upload_job(sessions, store, owner, clip.read_bytes())
            result: list[str] = []

            def run() -> None:
                result.append(
                    process_job(
                        job_id,
                        settings=get_settings(),
                        sessions=session_factory(worker_engine),
                        store=store,
                        worker_id="w1",
                        options=ProcessOptions(heartbeat_interval=0.5, progress_interval=0.1),
                    )
                )

            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            # While the job runs, end the worker's connections again and again (idle pooled ones and ones in
            # the middle of a heartbeat or progress write alike).
            terminated = 0
            rounds = 0
            deadline = time.monotonic() + 180
            with admin.connect() as connection:
                while worker.is_alive():
                    job, _ = load(sessions, job_id)
                    if job.status == "running" and job.progress < 0.95:
                        terminated += connection.execute(terminate, {"name": name}).scalar_one()
                        rounds += 1
                    assert time.monotonic() < deadline, "the job is stuck"
                    time.sleep(0.2)
            worker.join()
            job, artifacts = load(sessions, job_id)
            assert result == ["succeeded"], job.error
            assert (job.status, job.attempts, job.progress, job.error) == ("succeeded", 1, 1.0, None)
            check_transcript(store, job_id, artifacts)
            assert rounds >= 3 and terminated >= 2, (rounds, terminated)  # the faults did happen
            print(f"{terminated} worker connections ended over {rounds} rounds")
        finally:
            worker_engine.dispose()
            test_engine.dispose()
    admin.dispose()


def test_a_job_completes_when_its_connection_drops_as_it_records_the_result(tmp_path: Path) -> None:
    """The worst moment: the connection is ended in the middle of the transaction that records the
    transcript (the job's update is sent, its artefact's insert is next). The transaction is lost with the
    connection; the worker records the result again on a new connection instead of failing a finished job."""
    name = f"vbfaults_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_test_url(), isolation_level="AUTOCOMMIT")
    with temporary_postgres_schema() as db_url:
        upgrade(db_url)
        worker_url = make_url(db_url).update_query_dict({"application_name": name})
        worker_engine = make_engine(worker_url.render_as_string(hide_password=False))
        test_engine = make_engine(db_url)
        dropped: list[int] = []

        @event.listens_for(worker_engine, "before_cursor_execute")
        def drop_once(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if not dropped and statement.lstrip().upper().startswith("INSERT INTO ARTIFACTS"):
                pid = cursor.connection.info.backend_pid  # this very connection, one of this test's
                with admin.connect() as connection:
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                dropped.append(pid)

        try:
            sessions = session_factory(test_engine)
            store = LocalObjectStore(tmp_path / "objects")
            owner = make_owner(sessions)
            job_id = upload_job(sessions, store, owner, JFK.read_bytes())
            status = process_job(
                job_id,
                settings=get_settings(),
                sessions=session_factory(worker_engine),
                store=store,
                worker_id="w1",
                options=ProcessOptions(heartbeat_interval=1.0),
            )
            job, artifacts = load(sessions, job_id)
            assert len(dropped) == 1  # the fault did happen
            assert status == "succeeded", job.error
            assert (job.status, job.attempts, job.error) == ("succeeded", 1, None)
            check_transcript(store, job_id, artifacts)  # one transcript artefact, not two
        finally:
            worker_engine.dispose()
            test_engine.dispose()
    admin.dispose()
