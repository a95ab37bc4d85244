"""A worker's step of a re-translation: one segment of a job's current revision translated again, and
recorded.

The API asked for it and waits for its status (:meth:`~verbatim.jobs.service.Dispatcher.retranslate`); the
models run here, where they are kept warm. The worker records the new translation itself, as a ``translation``
correction row of the user who asked (:func:`~verbatim.jobs.documents.record_translation`), in its own
transaction and under the job's lock, and only over the revision the API checked the request against: a
transcript corrected meanwhile gets ``edit_conflict`` and no row, and a task delivered twice records once.

Its status is ids only (:func:`~verbatim.jobs.retranslate.recorded_payload`,
:func:`~verbatim.jobs.retranslate.error_payload`): no transcript or translation text goes into the result
backend. It never raises, so that the status crosses Celery's result backend and the in-process future alike.
A worker that finishes after the API stopped waiting (504) still records: the row shows on the next reload.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from verbatim.errors import JobNotReadyError
from verbatim.jobs import documents
from verbatim.jobs.documents import EditConflictError
from verbatim.jobs.layout import ArtifactKind, artifact
from verbatim.jobs.retranslate import error_payload, recorded_payload, retranslate_segment
from verbatim.ops.db import Job, User
from verbatim.ops.settings import Settings
from verbatim.ops.storage.base import ObjectStore

__all__ = ["run_retranslation"]

log = logging.getLogger("verbatim.worker")


def _job(session: Session, job_id: str, revision_sha256: str | None) -> Job:
    """The job, still at the revision the API checked the request against."""
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotReadyError("The job was deleted meanwhile.")
    revision = artifact(job, ArtifactKind.REVISION)
    if (None if revision is None else revision.sha256) != revision_sha256:
        raise EditConflictError("the transcript was corrected since the request; reload")
    return job


def run_retranslation(
    job_id: str,
    segment_id: int,
    *,
    user_id: int,
    revision_sha256: str | None,
    settings: Settings,
    sessions: sessionmaker[Session],
    store: ObjectStore,
) -> dict[str, Any]:
    """Translate segment ``segment_id`` of the job's revision ``revision_sha256`` (``None``: the uncorrected
    original) again and record it for user ``user_id``; the status as JSON.

    Never raises: a failure is answered as its kind (an unexpected one is logged by job id).
    """
    try:
        with sessions() as session:
            job = _job(session, job_id, revision_sha256)  # refused before a model is loaded
            doc = json.loads(documents.load_current(store, job))
        # the session is closed (the job's columns stay loaded): no connection held while the model runs
        made = retranslate_segment(settings, store, job, doc, segment_id)
        with sessions() as session:
            user = session.get(User, user_id)
            if user is None:
                raise LookupError(f"no user {user_id}")
            rows = documents.record_translation(
                session, store, job=_job(session, job_id, revision_sha256), user=user,
                revision_sha256=revision_sha256,
                translation=documents.TranslationEdit(segment_id, "", made.text, made.model),
            )  # fmt: skip
            ids = [row.id for row in rows]
    except Exception as e:
        payload = error_payload(e)
        if payload["error"] == "internal":
            log.exception("re-translation failed job=%s segment=%d", job_id, segment_id)
        else:
            log.info("re-translation refused job=%s segment=%d kind=%s", job_id, segment_id, payload["error"])
        return payload
    log.info("re-translation recorded job=%s segment=%d rows=%d", job_id, segment_id, len(ids))
    return recorded_payload(ids)
