"""Names the API side and the workers agree on: Celery task names and queues."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ASR_QUEUE",
    "CHUNK_TASK_NAME",
    "CPU_QUEUE",
    "REFRESH_TASK_NAME",
    "RETRANSLATE_TASK_NAME",
    "TASK_NAME",
    "VOICE_TASK_NAME",
]

TASK_NAME: Final = "verbatim.process_job"
"""One job: ``verbatim.process_job(job_id)``."""
CHUNK_TASK_NAME: Final = "verbatim.process_chunk"
"""One part of a long recording: ``verbatim.process_chunk(job_id, index, first_sample)``."""
REFRESH_TASK_NAME: Final = "verbatim.refresh_pseudonymized"
"""A job's pseudonymised artefacts made again after a correction: ``verbatim.refresh_pseudonymized(job_id)``.
Routed to the ``asr`` queue, which every deployment consumes (it decodes and tones the recording)."""
VOICE_TASK_NAME: Final = "verbatim.enrol_voice"
"""The print of a pending voice made from its stored recordings: ``verbatim.enrol_voice(voice_id)``. Routed to
the ``asr`` queue, whose workers hold the diarizer."""
RETRANSLATE_TASK_NAME: Final = "verbatim.retranslate_segment"
"""One segment of a job's revision translated again and recorded by the worker, its status awaited by the API
through the result backend: ``verbatim.retranslate_segment(job_id, segment_id, user_id, revision_sha256)`` → a
JSON mapping of ids or an error's kind (no text crosses the broker either way). Routed to the ``asr`` queue,
whose workers hold Whisper (speech translation) and the text translation models (the pipeline's translate
stage runs there)."""
ASR_QUEUE: Final = "asr"
"""Transcription (GPU or fast CPU machines)."""
CPU_QUEUE: Final = "cpu"
"""CPU-only stages to come (exports)."""
