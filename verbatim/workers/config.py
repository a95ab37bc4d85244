"""Worker tuning: intervals, limits and broker options of the job workers.

They are the ``worker`` section of :class:`verbatim.ops.settings.Settings`
(``VERBATIM_WORKER__VISIBILITY_TIMEOUT_S=43200``), read like every other setting in ``ops/``.
"""

from __future__ import annotations

from datetime import timedelta

from verbatim.ops.settings import WorkerSettings, get_settings
from verbatim.workers.process import ProcessOptions

__all__ = ["WorkerSettings", "get_worker_settings", "process_options"]


def get_worker_settings() -> WorkerSettings:
    """The process-wide worker settings."""
    return get_settings().worker


def process_options(worker: WorkerSettings) -> ProcessOptions:
    """The options :func:`~verbatim.workers.process.process_job` takes."""
    return ProcessOptions(
        progress_interval=worker.progress_interval_s,
        heartbeat_interval=worker.heartbeat_interval_s,
        stale_after=timedelta(seconds=worker.stale_after_s),
        max_attempts=worker.max_attempts,
    )
