"""``verbatim worker``: run a Celery worker of the distributed deployment in this process."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from verbatim.errors import InvalidOptionError

__all__ = ["DEFAULT_QUEUES", "run_worker"]

DEFAULT_QUEUES = ("asr",)

log = logging.getLogger("verbatim.worker")


def run_worker(
    queues: Sequence[str] = DEFAULT_QUEUES, concurrency: int = 1, *, loglevel: str = "INFO"
) -> None:
    """Bring the database schema up to date, then consume jobs until stopped (Ctrl-C, SIGTERM).

    Args:
        queues: the queues to consume: ``asr`` (transcription; GPU machines), ``cpu`` (CPU-only stages).
        concurrency: jobs run at once, one process each (each loads its own models: size it to the GPU or
            the cores; 1 per GPU is the safe default).
        loglevel: Celery's log level.

    Raises:
        InvalidOptionError: no broker is configured, or the arguments are invalid.
    """
    from verbatim.ops.db import upgrade
    from verbatim.ops.settings import get_settings

    settings = get_settings()
    if not settings.broker_url:
        raise InvalidOptionError(
            "No broker configured: set VERBATIM_BROKER_URL (e.g. redis://HOST:6379/0 or "
            "amqp://USER:PASS@HOST//) to run a worker "
            "(without a broker, `verbatim serve` runs jobs in-process)."
        )
    if concurrency < 1:
        raise InvalidOptionError("concurrency must be at least 1")
    queues = [q.strip() for q in queues if q.strip()]
    if not queues:
        raise InvalidOptionError("name at least one queue to consume (asr, cpu)")
    upgrade(settings.resolved_database_url())

    from verbatim.workers.celery_app import make_celery

    app = make_celery(settings)
    log.info("starting worker queues=%s concurrency=%d", ",".join(queues), concurrency)
    argv = [
        "worker",
        f"--queues={','.join(queues)}",
        f"--concurrency={concurrency}",
        f"--loglevel={loglevel}",
        "--hostname=verbatim@%h",
    ]
    if concurrency == 1:
        argv.append("--pool=solo")  # one job at a time in this process: models stay warm, no fork
    app.worker_main(argv)
