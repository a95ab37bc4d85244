"""The FastAPI application: collaborators built at start-up, routers, request ids, the error mapping.

``create_app()`` with no arguments is the embedded default: settings from the environment, migrations run
at start-up, the configured object store, and the dispatcher the settings choose (an in-process worker
without a broker, Celery with one).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from verbatim.api.deps import Dispatcher, ServiceState, new_request_id
from verbatim.api.docs import install_docs
from verbatim.api.errors import install_error_handlers
from verbatim.api.limits import BodyLimit
from verbatim.api.routes import edits, jobs, openai_compat, retention, service
from verbatim.api.security import SecurityGate
from verbatim.api.web import install_web
from verbatim.ops.db import make_engine, session_factory, upgrade
from verbatim.ops.private import secure_home
from verbatim.ops.settings import Settings, get_settings
from verbatim.ops.storage import ObjectStore

__all__ = ["DEFAULT_POLL_INTERVAL_S", "DEFAULT_WAIT_TIMEOUT_S", "create_app"]

log = logging.getLogger("verbatim.api")
access_log = logging.getLogger("verbatim.access")

DEFAULT_WAIT_TIMEOUT_S = 600.0
"""How long an OpenAI-compatible request waits for its job (OpenAI's client gives up after 600 s too)."""
DEFAULT_POLL_INTERVAL_S = 0.25
UPLOAD_PATHS = frozenset({"/v1/jobs", "/v1/audio/transcriptions", "/v1/audio/translations"})
"""The routes that receive recordings (the upload limit); every other body is bounded by a small limit."""


def _make_store(settings: Settings) -> ObjectStore:
    from verbatim.ops import storage

    make_store: Callable[[Settings], ObjectStore] | None = getattr(storage, "make_store", None)
    if make_store is not None:
        return make_store(settings)
    return storage.LocalObjectStore(settings.resolved_local_root())


def _remove_stale_temporaries(store: ObjectStore) -> None:
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


def _make_dispatcher(settings: Settings) -> Dispatcher:
    from verbatim.workers.dispatch import make_dispatcher  # type: ignore[import-not-found,unused-ignore]

    dispatcher: Dispatcher = make_dispatcher(settings)
    return dispatcher


def create_app(
    settings: Settings | None = None,
    dispatcher: Dispatcher | None = None,
    *,
    store: ObjectStore | None = None,
    wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> FastAPI:
    """Build the API.

    Args:
        settings: the settings; :func:`~verbatim.ops.settings.get_settings` when ``None``.
        dispatcher: hands jobs to the workers; ``make_dispatcher(settings)`` when ``None`` (built at start-up
            and closed at shutdown; one given here is the caller's to close).
        store: the object store; the one the settings choose when ``None``.
        wait_timeout_s: how long the OpenAI-compatible routes wait for their job.
        poll_interval_s: how often they look at it.

    Returns:
        The application; its collaborators exist once its lifespan started (uvicorn, ``with TestClient``).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or get_settings()
        await run_in_threadpool(secure_home, resolved.home)  # 0700: database, objects, keys live there
        url = resolved.resolved_database_url()
        await run_in_threadpool(upgrade, url)
        chosen_store = store or _make_store(resolved)
        await run_in_threadpool(_remove_stale_temporaries, chosen_store)
        engine = make_engine(url)
        owned = dispatcher is None
        active = _make_dispatcher(resolved) if dispatcher is None else dispatcher
        app.state.verbatim = ServiceState(
            settings=resolved,
            engine=engine,
            sessions=session_factory(engine),
            store=chosen_store,
            dispatcher=active,
            wait_timeout_s=wait_timeout_s,
            poll_interval_s=poll_interval_s,
        )
        try:
            yield
        finally:
            close: Callable[[], Any] | None = getattr(active, "close", None)
            if owned and close is not None:
                await run_in_threadpool(close)
            engine.dispose()

    app = FastAPI(
        title="verbatim",
        summary="On-premise transcription of hearings: jobs, transcripts, custody, audit.",
        version="1",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_docs(app)

    # multipart framing and the option fields come on top of the file itself
    limit_settings = settings or get_settings()
    app.add_middleware(
        BodyLimit,
        limit=limit_settings.max_upload_bytes + 1024 * 1024,
        message=f"upload larger than the limit of {limit_settings.max_upload_bytes} bytes",
        small_limit=limit_settings.max_json_body_bytes,
        upload_paths=UPLOAD_PATHS,
    )

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        # generated by the SecurityGate (outermost); a client's X-Request-ID is only logged, apart
        request.state.request_id = getattr(request.state, "request_id", None) or new_request_id(None)
        started = time.perf_counter()
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        route = request.scope.get("route")
        access_log.info(
            "%s %s %d",
            request.method,
            getattr(route, "path", "unmatched"),
            response.status_code,
            extra={
                "request_id": request.state.request_id,
                "method": request.method,
                # the route's template: a raw path or query string could carry a search term or a name
                "route": getattr(route, "path", "unmatched"),
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "user_id": getattr(request.state, "user_id", None),
                "client_request_id": getattr(request.state, "client_request_id", None),
            },
        )
        return response

    # Outermost: request ids, authentication before any body, limits, headers (verbatim.api.security).
    app.add_middleware(SecurityGate, settings=limit_settings)

    app.include_router(jobs.router)
    app.include_router(openai_compat.router)
    app.include_router(service.router)
    app.include_router(retention.router)
    app.include_router(edits.router)
    app.include_router(edits.account_router)
    install_web(app)
    return app
