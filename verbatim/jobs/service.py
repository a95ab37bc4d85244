"""The service's shared parts, built in one place: settings, database engine and sessions, object store.

The API, the in-process worker, the Celery worker and the CLI all get them from :func:`open_service`, so that
one process has one engine (one pool) and one store: the in-process worker of ``verbatim serve`` runs its
jobs on the very store and sessions the API was given.

A :class:`Dispatcher` hands a job to the workers; the workers' package makes one from a :class:`Service`
(``verbatim.workers.dispatch.make_dispatcher``) and the API receives it, without either importing the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from verbatim.ops.settings import Settings
    from verbatim.ops.storage.base import ObjectStore

__all__ = ["Dispatcher", "DispatcherFactory", "Service", "open_service"]

log = logging.getLogger("verbatim.service")


@runtime_checkable
class Dispatcher(Protocol):
    """Something that gets a queued job run: an in-process thread (embedded) or Celery (distributed).

    A job's state lives in the database, so a dispatcher carries nothing but ids.
    """

    def submit(self, job_id: str) -> None:
        """Have the job run (soon); returns at once. Raises when the job cannot be handed over."""
        ...

    def refresh(self, job_id: str) -> None:
        """Have the job's pseudonymised artefacts made again from its current revision (soon), when a
        correction made them stale (:func:`verbatim.jobs.pseudonymized.refresh_job`); returns at once."""
        ...

    def enrol(self, voice_id: str) -> None:
        """Have the print of a ``pending`` voice made (soon) from its stored recordings, which are deleted
        then (:func:`verbatim.workers.voices.process_voice`); returns at once. Raises when it cannot be
        handed over."""
        ...

    def retranslate(
        self, job_id: str, segment_id: int, *, user_id: int, revision_sha256: str | None, timeout_s: float
    ) -> dict[str, Any]:
        """Have a worker translate one segment of the job's revision ``revision_sha256`` again and record it
        for user ``user_id`` (:func:`verbatim.workers.retranslate.run_retranslation`), and wait for its
        status: a JSON mapping of ids and an error's kind, never text, read by
        :func:`verbatim.jobs.retranslate.recorded_ids`.

        Raises:
            TimeoutError: no status within ``timeout_s`` seconds. A request not started by then never runs;
                one already running still records its row (it shows on the next reload).
            Exception: the request could not be handed over (broker unreachable, dispatcher closed).
        """
        ...

    def close(self) -> None:
        """Release what the dispatcher holds (threads, connections); idempotent."""
        ...


@dataclass
class Service:
    """The shared parts of one process. :meth:`close` disposes of what :func:`open_service` built."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    _closers: list[Callable[[], object]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Dispose of the engine's pool (a store given to :func:`open_service` stays the caller's)."""
        while self._closers:
            self._closers.pop()()


DispatcherFactory = Callable[[Service], Dispatcher]
"""Makes the dispatcher of a service (the workers' ``make_dispatcher``, or a test's recorder)."""


def open_service(
    settings: Settings,
    *,
    store: ObjectStore | None = None,
    migrate: bool = False,
    tidy_store: bool = False,
) -> Service:
    """Build the shared parts the settings describe.

    Args:
        settings: the settings.
        store: an object store to use instead of the one the settings choose.
        migrate: create or upgrade the database schema first (the API and the CLI do; workers expect it).
        tidy_store: remove what uploads cut short by a crash left in the store (best effort; the API at
            start-up).

    Raises:
        InvalidOptionError: the settings' encryption keyring or key cannot be used.
    """
    from verbatim.ops.db import make_engine, session_factory, upgrade
    from verbatim.ops.db.sealed import attach_keyring, seal_rows
    from verbatim.ops.keys import resolve_keyring
    from verbatim.ops.private import secure_home
    from verbatim.ops.storage import make_store
    from verbatim.ops.storage.encrypted import EncryptedObjectStore

    secure_home(settings.home)  # 0700: the embedded database, objects and key files live there
    url = settings.resolved_database_url()
    if migrate:
        upgrade(url)
    chosen = store if store is not None else make_store(settings)
    if tidy_store:
        remove_stale_temporaries(chosen)
    engine = make_engine(url)
    # The database's sealed columns use the objects' keyring (the same object: a rotation is seen by both).
    keyring = chosen.keyring if isinstance(chosen, EncryptedObjectStore) else resolve_keyring(settings)
    attach_keyring(engine, keyring)
    if migrate and keyring is not None:
        sealed = seal_rows(engine, keyring)  # rows written in clear before encryption at rest was on
        if sealed:
            log.warning("encryption at rest: %d database rows written in clear were encrypted", sealed)
    return Service(settings, engine, session_factory(engine), chosen, [engine.dispose])


def remove_stale_temporaries(store: ObjectStore) -> None:
    """Free what uploads cut short by a crash left behind (partial files, temporary S3 objects and multipart
    uploads): never objects, but they hold space. A store that cannot be reached now does not stop the
    service from starting (the next start tries again)."""
    from verbatim.ops.storage import StorageError

    inner = getattr(store, "inner", store)  # the encrypted store keeps its ciphertext in another store
    remove: Callable[[], int] | None = getattr(inner, "remove_stale_temporaries", None)
    if remove is None:
        return
    try:
        removed = remove()
    except StorageError as e:
        log.warning(
            "could not remove abandoned temporary uploads from the object store (%s)", type(e).__name__
        )
        return
    if removed:
        log.info("removed %d abandoned temporary uploads from the object store", removed)
