"""A worker's step of a re-translation: one segment of a job's current revision translated again.

The API asked for it and waits for the answer (:meth:`~verbatim.jobs.service.Dispatcher.retranslate`); the
models run here, where they are kept warm. Nothing is written: the API records the answer as a correction
row once it has it, so an answer that comes too late is simply dropped. The answer is a JSON mapping
(:func:`~verbatim.jobs.retranslate.outcome_payload` or :func:`~verbatim.jobs.retranslate.error_payload`),
never an exception, so that it crosses Celery's result backend and the in-process future alike.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from verbatim.errors import JobNotReadyError
from verbatim.jobs import documents
from verbatim.jobs.layout import ArtifactKind, artifact
from verbatim.jobs.retranslate import error_payload, outcome_payload, retranslate_segment
from verbatim.ops.db import Job
from verbatim.ops.settings import Settings
from verbatim.ops.storage.base import ObjectStore

__all__ = ["run_retranslation"]

log = logging.getLogger("verbatim.worker")


def run_retranslation(
    job_id: str, segment_id: int, *, settings: Settings, sessions: sessionmaker[Session], store: ObjectStore
) -> dict[str, Any]:
    """Translate segment ``segment_id`` of the job's current revision again; the answer as JSON.

    Never raises: a failure is answered as its kind and message (an unexpected one is logged by job id).
    """
    try:
        with sessions() as session:
            job = session.get(Job, job_id)
            if job is None:
                raise JobNotReadyError("The job was deleted meanwhile.")
            revision = artifact(job, ArtifactKind.REVISION)
            doc = json.loads(documents.load_current(store, job))
        # the session is closed (the job's columns stay loaded): no connection held while the model runs
        made = retranslate_segment(settings, store, job, doc, segment_id)
    except Exception as e:
        payload = error_payload(e)
        if payload["error"] == "internal":
            log.exception("re-translation failed job=%s segment=%d", job_id, segment_id)
        else:
            log.info("re-translation refused job=%s segment=%d kind=%s", job_id, segment_id, payload["error"])
        return payload
    log.info("re-translation made job=%s segment=%d", job_id, segment_id)
    return outcome_payload(replace(made, revision_sha256=None if revision is None else revision.sha256))
