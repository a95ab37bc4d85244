"""The service as deployed: the API with the dispatcher its settings choose.

This is where the API and the workers meet (neither imports the other): :func:`create_app` hands
:func:`verbatim.workers.dispatch.make_dispatcher` to :func:`verbatim.api.app.create_app`, which calls it at
start-up with the service's parts (:func:`verbatim.jobs.service.open_service`), so that the in-process worker
of the embedded deployment runs on the API's own engine and store. ``verbatim serve`` and
``uvicorn --factory verbatim.server:create_app`` serve it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from verbatim.api.app import DEFAULT_POLL_INTERVAL_S, DEFAULT_WAIT_TIMEOUT_S
from verbatim.api.app import create_app as create_api
from verbatim.workers.dispatch import make_dispatcher

if TYPE_CHECKING:
    from fastapi import FastAPI

    from verbatim.jobs.service import Dispatcher, DispatcherFactory
    from verbatim.ops.settings import Settings
    from verbatim.ops.storage import ObjectStore

__all__ = ["create_app"]


def create_app(
    settings: Settings | None = None,
    dispatcher: Dispatcher | DispatcherFactory | None = None,
    *,
    store: ObjectStore | None = None,
    wait_timeout_s: float = DEFAULT_WAIT_TIMEOUT_S,
    poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
) -> FastAPI:
    """The API, its jobs run by the dispatcher the settings choose (an in-process worker without a broker,
    Celery with one) unless ``dispatcher`` is given; arguments as :func:`verbatim.api.app.create_app`."""
    return create_api(
        settings,
        dispatcher if dispatcher is not None else make_dispatcher,
        store=store,
        wait_timeout_s=wait_timeout_s,
        poll_interval_s=poll_interval_s,
    )
