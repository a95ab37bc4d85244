"""What routes receive: the service's collaborators, a database session, the request id, the current user.

Each is an ``Annotated`` alias (``SessionDep``, ``CurrentUser``...) so that a route declares what it needs in
its signature and tests can override one provider.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from verbatim.api.errors import NotAuthenticatedError
from verbatim.jobs.service import Dispatcher
from verbatim.ops import audit
from verbatim.ops.accounts import authenticate
from verbatim.ops.db import User
from verbatim.ops.settings import Settings
from verbatim.ops.storage import ObjectStore

__all__ = [
    "CurrentUser",
    "Dispatcher",
    "DispatcherDep",
    "RequestIdDep",
    "ServiceState",
    "SessionDep",
    "SessionFactoryDep",
    "SettingsDep",
    "StateDep",
    "StoreDep",
    "new_request_id",
]

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


@dataclass
class ServiceState:
    """The collaborators of one app, built at start-up (see :func:`verbatim.api.app.create_app`)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    store: ObjectStore
    dispatcher: Dispatcher
    wait_timeout_s: float
    poll_interval_s: float


def new_request_id(incoming: str | None) -> str:
    """The caller's ``X-Request-ID`` when it is a short token, else a fresh one (never echoes any text)."""
    if incoming and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.verbatim
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_settings_dep(state: StateDep) -> Settings:
    return state.settings


def get_store(state: StateDep) -> ObjectStore:
    return state.store


def get_dispatcher(state: StateDep) -> Dispatcher:
    return state.dispatcher


def get_session_factory(state: StateDep) -> sessionmaker[Session]:
    return state.sessions


async def get_session(state: StateDep) -> AsyncIterator[Session]:
    """A session for the request, closed (its connection back in the pool) in the event loop.

    Async on purpose: FastAPI runs the exit of a sync generator dependency in its thread pool. Under load
    every pool thread could be waiting for a database connection held by a request that needed a thread
    to finish and give it back: a deadlock until the pool's 30 s timeout, then 500s (`verbatim bench load`).
    Closing needs no I/O wait worth a thread (a rollback of what is left, a return to the pool).
    """
    session = state.sessions()
    try:
        yield session
    finally:
        session.close()


def get_request_id(request: Request) -> str:
    request_id: str = getattr(request.state, "request_id", None) or new_request_id(None)
    return request_id


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
StoreDep = Annotated[ObjectStore, Depends(get_store)]
DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_session_factory)]
SessionDep = Annotated[Session, Depends(get_session)]
RequestIdDep = Annotated[str, Depends(get_request_id)]

_bearer = HTTPBearer(auto_error=False, description="A token from `verbatim users add`.")


def get_current_user(
    request: Request,
    session: SessionDep,
    request_id: RequestIdDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    """The enabled user whose bearer token the request carries.

    Raises:
        NotAuthenticatedError: no token, or one that names no enabled user (answered 401, and audited).
    """
    token = credentials.credentials if credentials is not None else None
    user = authenticate(session, token)
    if user is None:
        route = request.scope.get("route")
        where = f"{request.method} {getattr(route, 'path', '?')}"
        reason = "missing token" if token is None else "invalid token"
        audit.record(
            session, user=None, action="login", outcome="denied", request_id=request_id,
            detail=f"{reason}; {where}",
        )  # fmt: skip
        raise NotAuthenticatedError("A valid bearer token is required (Authorization: Bearer <token>).")
    request.state.user_id = user.id  # for the access log (an id, never the name)
    # End the read transaction now: the connection goes back to the pool while the request waits for a
    # thread to run its route (the route checks one out again when it needs it). The user stays loaded.
    session.expunge(user)
    session.rollback()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
