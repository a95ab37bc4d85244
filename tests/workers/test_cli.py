"""run_worker refuses to start without a broker, with a message saying what to set."""

from __future__ import annotations

import pytest

from tests.throwaway import redis_url
from verbatim.errors import InvalidOptionError
from verbatim.ops.settings import get_settings
from verbatim.workers.celery_app import ASR_QUEUE, CPU_QUEUE, make_celery
from verbatim.workers.cli import run_worker
from verbatim.workers.config import WorkerSettings


def test_run_worker_needs_a_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERBATIM_BROKER_URL", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(InvalidOptionError, match="VERBATIM_BROKER_URL"):
            run_worker(["asr"], 1)
    finally:
        get_settings.cache_clear()


def test_celery_app_configuration() -> None:
    settings = get_settings().model_copy(update={"broker_url": redis_url(7)})
    app = make_celery(settings, WorkerSettings(visibility_timeout_s=3600 * 24))
    conf = app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 3600 * 24
    assert {q.name for q in conf.task_queues} == {ASR_QUEUE, CPU_QUEUE}
    assert app.amqp.router.route({}, "verbatim.process_job")["queue"].name == ASR_QUEUE
    assert "verbatim.process_job" in app.tasks
