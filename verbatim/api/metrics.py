"""Prometheus metrics, read from the database at scrape time.

The workers may run in other processes or on other machines, so counters kept in the API's memory would
miss their work; the job table is the one place every deployment shares. A scrape costs three aggregate
queries.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Float, cast, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from verbatim.ops.db import JOB_STATUSES, Job
from verbatim.ops.db.models import utcnow

__all__ = ["JobMetricsCollector", "render_metrics"]


def _seconds_between(session: Session) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(Job.finished_at) - func.julianday(Job.started_at)) * 86400.0
    return cast(func.extract("epoch", Job.finished_at - Job.started_at), Float)


def _age(now: datetime, then: datetime | None) -> float:
    if then is None:
        return 0.0
    if then.tzinfo is None:  # SQLite gives naive times; they are UTC
        then = then.replace(tzinfo=UTC)
    return max(0.0, (now - then).total_seconds())


class JobMetricsCollector(Collector):
    """Jobs by state, queue depth, heartbeat and queue ages, audio seconds processed and processing seconds,
    from the job table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[Metric]:
        with self._sessions() as session:
            rows = session.execute(select(Job.status, func.count()).group_by(Job.status)).tuples()
            counts = {status: count for status, count in rows}
            audio = session.scalar(
                select(func.coalesce(func.sum(Job.duration), 0.0)).where(Job.status == "succeeded")
            )
            now = utcnow()
            oldest_beat = session.scalar(select(func.min(Job.heartbeat_at)).where(Job.status == "running"))
            oldest_queued = session.scalar(select(func.min(Job.created_at)).where(Job.status == "queued"))
            busy = session.scalar(
                select(func.coalesce(func.sum(_seconds_between(session)), 0.0)).where(
                    Job.status == "succeeded", Job.started_at.is_not(None), Job.finished_at.is_not(None)
                )
            )
        jobs = GaugeMetricFamily("verbatim_jobs", "Jobs by state.", labels=["state"])
        for status in JOB_STATUSES:
            jobs.add_metric([status], float(counts.get(status, 0)))
        yield jobs
        yield GaugeMetricFamily(
            "verbatim_queue_depth",
            "Jobs waiting for a worker (queued).",
            value=float(counts.get("queued", 0)),
        )
        yield GaugeMetricFamily(
            "verbatim_worker_heartbeat_age_seconds",
            "Age of the stalest heartbeat among running jobs (0 when none runs): a dead worker shows here.",
            value=_age(now, oldest_beat),
        )
        yield GaugeMetricFamily(
            "verbatim_oldest_queued_job_age_seconds",
            "How long the oldest queued job has waited (0 when none waits).",
            value=_age(now, oldest_queued),
        )
        yield CounterMetricFamily(
            "verbatim_audio_seconds_processed", "Seconds of audio in succeeded jobs.", value=float(audio or 0)
        )
        yield CounterMetricFamily(
            "verbatim_processing_seconds",
            "Wall-clock seconds workers spent on succeeded jobs (claim to finish).",
            value=float(busy or 0),
        )


def render_metrics(sessions: sessionmaker[Session]) -> bytes:
    """The metrics in the Prometheus text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JobMetricsCollector(sessions))
    return generate_latest(registry)
