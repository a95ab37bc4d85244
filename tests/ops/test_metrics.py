"""The Prometheus metrics computed from the job table, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from verbatim.api.metrics import render_metrics
from verbatim.ops.accounts import create_user
from verbatim.ops.db import Job, session_factory
from verbatim.ops.db.models import utcnow


def _values(text: bytes) -> dict[str, float]:
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.decode().splitlines()
        if line and not line.startswith("#")
    }


def test_ages_of_the_stalest_heartbeat_and_oldest_queued_job(engine: Engine) -> None:
    sessions = session_factory(engine)
    empty = _values(render_metrics(sessions))
    assert empty["verbatim_worker_heartbeat_age_seconds"] == 0.0
    assert empty["verbatim_oldest_queued_job_age_seconds"] == 0.0

    now = utcnow()
    with sessions() as session:
        owner, _ = create_user(session, name="inv", role="investigator", unit="b")
        session.add_all(
            [
                Job(unit="b", owner_id=owner.id, status="running", heartbeat_at=now - timedelta(seconds=400)),
                Job(unit="b", owner_id=owner.id, status="running", heartbeat_at=now - timedelta(seconds=5)),
                Job(unit="b", owner_id=owner.id, status="queued", created_at=now - timedelta(seconds=120)),
                Job(unit="b", owner_id=owner.id, status="queued", created_at=now),
                Job(unit="b", owner_id=owner.id, status="failed", created_at=now - timedelta(days=3)),
            ]
        )
        session.commit()
    values = _values(render_metrics(sessions))
    assert 400 <= values["verbatim_worker_heartbeat_age_seconds"] < 460
    assert 120 <= values["verbatim_oldest_queued_job_age_seconds"] < 180
    assert values["verbatim_queue_depth"] == 2
    assert values['verbatim_jobs{state="running"}'] == 2 and values['verbatim_jobs{state="failed"}'] == 1
