"""Names the API side and the workers agree on: Celery task names and queues."""

from __future__ import annotations

from typing import Final

__all__ = ["ASR_QUEUE", "CHUNK_TASK_NAME", "CPU_QUEUE", "TASK_NAME"]

TASK_NAME: Final = "verbatim.process_job"
"""One job: ``verbatim.process_job(job_id)``."""
CHUNK_TASK_NAME: Final = "verbatim.process_chunk"
"""One part of a long recording: ``verbatim.process_chunk(job_id, index, first_sample)``."""
ASR_QUEUE: Final = "asr"
"""Transcription (GPU or fast CPU machines)."""
CPU_QUEUE: Final = "cpu"
"""CPU-only stages: pseudonymised copies made again after a correction (and, to come, exports)."""
