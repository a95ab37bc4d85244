"""The FastAPI application: collaborators received at start-up, routers, request ids, the error mapping.

The service's shared parts (engine, sessions, store) come from :func:`verbatim.jobs.service.open_service`
and the dispatcher from whoever builds the app: ``verbatim.server.create_app`` chooses it from the settings
(an in-process worker without a broker, Celery with one), a test hands its own. This package never imports
the workers'.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from verbatim import __version__
from verbatim.api.deps import ServiceState, new_request_id
from verbatim.api.docs import install_docs
from verbatim.api.errors import install_error_handlers
from verbatim.api.limits import BodyLimit
from verbatim.api.routes import edits, jobs, openai_compat, retention, service
from verbatim.api.web import install_web
from verbatim.jobs.service import Dispatcher, DispatcherFactory, open_service
from verbatim.ops.settings import Settings, get_settings
from verbatim.ops.storage import ObjectStore

__all__ = ["DEFAULT_POLL_INTERVAL_S", "DEFAULT_WAIT_TIMEOUT_S", "create_app"]

log = logging.getLogger("verbatim.api")
access_log = logging.getLogger("verbatim.access")

DEFAULT_WAIT_TIMEOUT_S = 600.0
"""How long an OpenAI-compatible request waits for its job (OpenAI's client gives up after 600 s too)."""
DEFAULT_POLL_INTERVAL_S = 0.25


def create_app(
    settings: Settings | None = None,
    dispatcher: Dispatcher | DispatcherFactory | None = None,
    *,
    store: ObjectStore | None = None,
    wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> FastAPI:
    """Build the API.

    Args:
        settings: the settings; :func:`~verbatim.ops.settings.get_settings` when ``None``.
        dispatcher: hands jobs to the workers: a dispatcher (the caller's to close), or a factory called at
            start-up with the service's parts (its dispatcher closed at shutdown).
            ``verbatim.server.create_app`` passes the one the settings choose.
        store: the object store; the one the settings choose when ``None``.
        wait_timeout_s: how long the OpenAI-compatible routes wait for their job.
        poll_interval_s: how often they look at it.

    Returns:
        The application; its collaborators exist once its lifespan started (uvicorn, ``with TestClient``).

    Raises:
        ValueError: no dispatcher (misconfigured: nothing would ever run the jobs).
    """
    if dispatcher is None:
        raise ValueError(
            "Misconfigured API: create_app needs a dispatcher; verbatim.server.create_app chooses the one "
            "the settings describe."
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resolved = settings or get_settings()
        parts = await run_in_threadpool(
            lambda: open_service(resolved, store=store, migrate=True, tidy_store=True)
        )
        given = isinstance(dispatcher, Dispatcher) or hasattr(dispatcher, "submit")
        active: Dispatcher = dispatcher if given else dispatcher(parts)  # type: ignore[assignment,operator]
        app.state.verbatim = ServiceState(
            settings=resolved,
            engine=parts.engine,
            sessions=parts.sessions,
            store=parts.store,
            dispatcher=active,
            wait_timeout_s=wait_timeout_s,
            poll_interval_s=poll_interval_s,
        )
        try:
            yield
        finally:
            if not given:
                await run_in_threadpool(active.close)
            parts.close()

    app = FastAPI(
        title="verbatim",
        summary="On-premise transcription of hearings: jobs, transcripts, custody, audit.",
        version=__version__,
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
    )

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        request.state.request_id = new_request_id(request.headers.get("x-request-id"))
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
            },
        )
        return response

    app.include_router(jobs.router)
    app.include_router(openai_compat.router)
    app.include_router(service.router)
    app.include_router(retention.router)
    app.include_router(edits.router)
    app.include_router(edits.account_router)
    install_web(app)
    return app
