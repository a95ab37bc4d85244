"""The API's front door: request ids, authentication before any body is read, failed-authentication limits,
malformed job ids, the API documentation's exposure, and security headers on every response.

One pure ASGI middleware (:class:`SecurityGate`) runs before any route, any body parsing and any other
middleware of ours:

- **Request ids** are generated here (``uuid4``); a client's ``X-Request-ID`` is kept, when it is a short
  token, only as a separate field of the access log (``client_request_id``), never as the id the audit log
  and the answers carry.
- **Authentication first.** Every ``/v1/`` route and ``/metrics`` needs a valid bearer token, checked from the
  headers before a byte of the body is received: a token-less 200 MB upload gets its 401 while it is still
  being sent, and nothing is spooled. The audio routes also take a short-lived ticket in their query (an
  ``<audio>`` element sends no header): those are checked by the route, and have no body.
- **Failed authentications are limited** per client address and per token prefix (:class:`FailedAuthLimiter`):
  past ``auth_max_failures`` in ``auth_window_s``, every request from that address (or with that token
  prefix) is answered 429 with ``Retry-After`` without touching the database, and the audit log receives one
  aggregated entry per burst instead of one row per try.
- **Job ids** in ``/v1/jobs/{id}...`` and ``/web/jobs/{id}`` must be UUIDs: anything else is answered 404
  before any query or audit write (a 5,000-character id reached PostgreSQL and the audit log before).
- **API documentation** (``/docs``, ``/redoc``, ``/openapi.json``) follows ``VERBATIM_API_DOCS``: ``off`` (the
  default: 404), ``token`` (``/openapi.json`` with a bearer token, for tools; no pages) or ``open``.
- **Headers**: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
  no-referrer`` on everything; a Content-Security-Policy on every response that has none (``frame-ancestors
  'none'``; the docs pages get one that lets Swagger UI and ReDoc run from the server's own assets);
  ``Cache-Control: no-store`` on everything but static assets (transcripts must not stay in shared caches).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qs

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verbatim.ops import audit
from verbatim.ops.accounts import TOKEN_PREFIX, authenticate
from verbatim.ops.db import AuthFailure
from verbatim.ops.settings import Settings

access_log = logging.getLogger("verbatim.access")

__all__ = [
    "DOCS_CSP",
    "JOB_ID",
    "FailedAuthLimiter",
    "SecurityGate",
    "SharedFailedAuthLimiter",
    "bounded_range",
    "client_request_id",
]

JOB_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""A job id as :func:`verbatim.ops.db.new_job_id` makes them (lower-case UUID text)."""

_JOB_PATH: Final = re.compile(r"^/(?:v1|web)/jobs/([^/]+)")
_CLIENT_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_RANGE: Final = re.compile(r"bytes=\d{0,15}-\d{0,15}")
_DOCS_PAGES: Final = ("/docs", "/redoc", "/docs/oauth2-redirect")
_DOCS_ASSETS: Final = "/docs-assets"
_OPENAPI: Final = "/openapi.json"
_STATIC: Final = ("/web/static/", "/docs-assets/")
_KNOWN_PATHS: Final = frozenset(
    {
        "/v1/jobs", "/v1/audit", "/v1/me", "/v1/audio/transcriptions", "/v1/audio/translations",
        "/metrics", "/healthz", _OPENAPI, *_DOCS_PAGES,
    }
)  # fmt: skip
_TICKET_ROUTES: Final = re.compile(r"^/v1/jobs/[^/]+/audio(?:/pseudonymized)?$")
_MAX_KEYS: Final = 100_000
"""Keys the limiter holds before it forgets finished bursts."""
TOKEN_PREFIX_CHARS: Final = 12
"""Characters of a presented token that key its failures (``vbt_`` and 8 random ones: never enough to use)."""

DOCS_CSP: Final = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_API_CSP: Final = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


def client_request_id(value: str | None) -> str | None:
    """A client's ``X-Request-ID`` if it is a short token (kept apart, for the access log), else ``None``."""
    if value and _CLIENT_REQUEST_ID.fullmatch(value):
        return value
    return None


def bounded_range(header: str | None) -> str:
    """A ``Range`` header as the audit log may record it: ``all``, the range itself, or ``invalid``."""
    if header is None:
        return "all"
    header = header.strip()
    return header if _RANGE.fullmatch(header) else "invalid"


@dataclass
class _Burst:
    started: float
    failures: int = 0
    audited: int = 0
    blocked_until: float = 0.0
    refused: int = 0


def _count_failure(
    burst: _Burst | None, key: str, now: float, max_failures: int, window_s: float, notes: list[str]
) -> _Burst:
    """One more failure of ``key``: its burst afterwards; the notes to audit are appended to ``notes``."""
    if burst is not None and now - burst.started > window_s and burst.blocked_until <= now:
        unsaid = burst.failures - burst.audited + burst.refused
        if unsaid > 0:
            notes.append(f"{key}: {unsaid} more failed or refused tries in the previous burst")
        burst = None
    if burst is None:
        burst = _Burst(started=now)
    burst.failures += 1
    if burst.failures == 1:
        burst.audited = 1
        notes.append(f"{key}: failed authentication")
    elif burst.failures >= max_failures and burst.blocked_until <= now:
        burst.blocked_until = now + window_s
        notes.append(
            f"{key}: {burst.failures} failed authentications in {window_s:.0f} s; "
            f"refused for {window_s:.0f} s"
        )
        burst.audited = burst.failures
        burst.started = now
    return burst


@dataclass
class SharedFailedAuthLimiter:
    """:class:`FailedAuthLimiter` with its counts in the database (``auth_failures``): every API process on
    the database sees the same counts and blocks, and the audit log gets one aggregated entry per burst
    whichever process saw the tries. Its methods query the database: call them from a thread.

    A failure locks the keys' rows (``INSERT ... ON CONFLICT DO NOTHING`` then ``SELECT ... FOR UPDATE``
    on PostgreSQL; SQLite's write lock): two processes counting at once add up. A refused request during a
    block costs one ``UPDATE`` of a counter (no audit row).
    """

    max_failures: int = 10
    window_s: float = 60.0
    clock: Callable[[], float] = time.time
    prune_every: int = 100
    """Failures between two prunings of finished bursts' rows (on average)."""

    def retry_after(self, session: Session, keys: list[str]) -> float | None:
        """As :meth:`FailedAuthLimiter.retry_after`, from the shared counts."""
        now = self.clock()
        rows = session.execute(
            select(AuthFailure.blocked_until).where(
                AuthFailure.key.in_(keys), AuthFailure.blocked_until > now
            )
        ).all()
        if not rows:
            return None
        session.execute(
            update(AuthFailure)
            .where(AuthFailure.key.in_(keys), AuthFailure.blocked_until > now)
            .values(refused=AuthFailure.refused + 1)
        )
        session.commit()
        return max(float(r.blocked_until) for r in rows) - now

    def failure(self, session: Session, keys: list[str]) -> list[str]:
        """As :meth:`FailedAuthLimiter.failure`, on the shared counts (committed)."""
        now = self.clock()
        keys = sorted(set(keys))  # rows locked in one order by every process: no deadlock
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        session.execute(
            insert(AuthFailure)
            .values(
                [
                    {
                        "key": k,
                        "started": now,
                        "failures": 0,
                        "audited": 0,
                        "blocked_until": 0.0,
                        "refused": 0,
                    }
                    for k in keys
                ]
            )
            .on_conflict_do_nothing(index_elements=["key"])
        )
        rows = {
            row.key: row
            for row in session.scalars(select(AuthFailure).where(AuthFailure.key.in_(keys)).with_for_update())
        }
        notes: list[str] = []
        for key in keys:
            row = rows[key]
            held = (
                None
                if row.failures == 0
                else _Burst(row.started, row.failures, row.audited, row.blocked_until, row.refused)
            )
            burst = _count_failure(held, key, now, self.max_failures, self.window_s, notes)
            row.started, row.failures, row.audited = burst.started, burst.failures, burst.audited
            row.blocked_until, row.refused = burst.blocked_until, burst.refused
        if secrets.randbelow(self.prune_every) == 0:
            session.execute(
                delete(AuthFailure).where(
                    AuthFailure.started < now - 2 * self.window_s, AuthFailure.blocked_until < now
                )
            )
        session.commit()
        return notes


@dataclass
class FailedAuthLimiter:
    """Failed authentications per key (a client address, a token prefix) in a sliding window.

    Past ``max_failures`` failures in ``window_s`` seconds the key is blocked until ``window_s`` after the
    failure that tripped it. Runs in the event loop only (no lock).

    Args:
        max_failures: failures allowed per window and key.
        window_s: the window, and the length of a block.
        clock: the time source (tests).
    """

    max_failures: int = 10
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _bursts: dict[str, _Burst] = field(default_factory=dict)

    def retry_after(self, keys: list[str]) -> float | None:
        """Seconds before a blocked key may try again (the longest of ``keys``); ``None`` when none is."""
        now = self.clock()
        waits = [b.blocked_until - now for k in keys if (b := self._bursts.get(k)) and b.blocked_until > now]
        if not waits:
            return None
        for key in keys:  # counted, to be said in the next aggregated entry
            burst = self._bursts.get(key)
            if burst is not None and burst.blocked_until > now:
                burst.refused += 1
        return max(waits)

    def failure(self, keys: list[str]) -> list[str]:
        """Count a failure for every key; return the notes to audit now (usually none).

        A note is written for the first failure of a burst, when the burst trips the block (with the
        count), and, when a new burst starts, for the tries of the previous one not said yet.
        """
        now = self.clock()
        notes: list[str] = []
        if len(self._bursts) > _MAX_KEYS:
            self._prune(now)
        for key in keys:
            self._bursts[key] = _count_failure(
                self._bursts.get(key), key, now, self.max_failures, self.window_s, notes
            )
        return notes

    def _prune(self, now: float) -> None:
        stale = [
            k for k, b in self._bursts.items() if now - b.started > self.window_s and b.blocked_until <= now
        ]
        for key in stale:
            del self._bursts[key]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _bearer(scope: Scope) -> str | None:
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class SecurityGate:
    """The pure ASGI middleware described in the module docstring.

    Args:
        app: the wrapped application (FastAPI's middleware stack).
        settings: ``api_docs``, ``auth_max_failures`` and ``auth_window_s``.
        limiter: the failed-authentication limiter (one per app); a new one from the settings when ``None``:
            in the database, shared by every API process, when ``auth_limit_shared`` (by default in the
            distributed deployment), else in this process's memory.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        limiter: FailedAuthLimiter | SharedFailedAuthLimiter | None = None,
    ) -> None:
        self.app = app
        self.docs = settings.api_docs
        if limiter is None:
            shared = settings.auth_limit_shared
            if shared is None:
                shared = settings.database_url is not None
            kind = SharedFailedAuthLimiter if shared else FailedAuthLimiter
            limiter = kind(settings.auth_max_failures, settings.auth_window_s)
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        state = scope.setdefault("state", {})
        request_id = uuid.uuid4().hex
        state["request_id"] = request_id
        state["client_request_id"] = client_request_id(_header(scope, b"x-request-id"))
        send = self._with_headers(send, path, request_id)

        started = time.perf_counter()
        docs_path = path in _DOCS_PAGES or path == _DOCS_ASSETS or path.startswith(_DOCS_ASSETS + "/")
        refusal: tuple[int, str, dict[str, str]] | None = None
        if (docs_path and self.docs != "open") or (path == _OPENAPI and self.docs == "off"):
            refusal = (404, "Not Found", {})
        elif self._needs_token(scope, path):
            refusal = await self._authenticate(scope, request_id)
        if refusal is None:
            match = _JOB_PATH.match(path)
            if match is not None and not JOB_ID.fullmatch(match.group(1)):
                # before any query or audit write: an id that no job can have is simply not found
                refusal = (404, _NO_SUCH_JOB, {})
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, message, headers = refusal
        await _answer(send, status, message, headers)
        _access_log(scope, status, started)

    def _needs_token(self, scope: Scope, path: str) -> bool:
        if path == _OPENAPI:
            return self.docs == "token"
        if not (path.startswith("/v1/") or path == "/metrics"):
            return False
        if scope["method"] in ("GET", "HEAD") and _TICKET_ROUTES.match(path) and _bearer(scope) is None:
            # an <audio> element: the route checks its ticket (and has no body to protect)
            return "ticket" not in parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return True

    async def _authenticate(self, scope: Scope, request_id: str) -> tuple[int, str, dict[str, str]] | None:
        token = _bearer(scope)
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        keys = [f"address {address}"]
        if token and token.startswith(TOKEN_PREFIX):
            # keyed by the prefix, said by a digest of it: the audit log never holds a piece of a token
            digest = hashlib.sha256(token[:TOKEN_PREFIX_CHARS].encode()).hexdigest()[:12]
            keys.append(f"token prefix {digest}")
        state = scope["app"].state.verbatim
        limiter = self.limiter
        if isinstance(limiter, SharedFailedAuthLimiter):

            def blocked() -> float | None:
                with state.sessions() as session:
                    return limiter.retry_after(session, keys)

            wait = await run_in_threadpool(blocked)
        else:
            wait = limiter.retry_after(keys)
        if wait is not None:
            seconds = max(1, int(wait + 0.999))
            return (
                429,
                f"Too many failed authentications; try again in {seconds} s.",
                {"Retry-After": str(seconds)},
            )
        where = f"{scope['method']} {_route_template(scope['path'])}"

        def check() -> bool:
            with state.sessions() as session:
                user = authenticate(session, token)
                if user is not None:
                    scope["state"]["user_id"] = user.id
                return user is not None

        if await run_in_threadpool(check):
            return None
        reason = "missing token" if not token else "invalid token"
        if isinstance(limiter, SharedFailedAuthLimiter):

            def count() -> list[str]:
                with state.sessions() as session:
                    return limiter.failure(session, keys)

            notes = await run_in_threadpool(count)
        else:
            notes = limiter.failure(keys)
        if notes:

            def record() -> None:
                with state.sessions() as session:
                    audit.record(
                        session, user=None, action="login", outcome="denied", request_id=request_id,
                        detail=f"{reason}; {where}; {'; '.join(notes)}",
                    )  # fmt: skip

            await run_in_threadpool(record)
        return (
            401,
            "A valid bearer token is required (Authorization: Bearer <token>).",
            {"WWW-Authenticate": "Bearer"},
        )

    def _with_headers(self, send: Send, path: str, request_id: str) -> Send:
        static = path.startswith(_STATIC)
        docs_page = path in _DOCS_PAGES

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"
                ]
                present = {k.lower() for k, _ in headers}
                extra: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
                defaults = {
                    b"x-content-type-options": b"nosniff",
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"content-security-policy": (DOCS_CSP if docs_page else _API_CSP).encode(),
                }
                if not static:
                    defaults[b"cache-control"] = b"no-store"
                extra += [(k, v) for k, v in defaults.items() if k not in present]
                message = {**message, "headers": headers + extra}
            await send(message)

        return wrapped


def _route_template(path: str) -> str:
    """The template of the route a refused request aimed at (``/v1/jobs/{job_id}``), never what a client
    typed: ids become their parameter's name, and an unknown path is ``unmatched``."""
    match = _JOB_PATH.match(path)
    if match is not None:
        template = path[: match.start(1)] + "{job_id}" + path[match.end(1) :]
        head, sep, _unit = template.partition("/shares/")
        return head + sep + "{unit}" if sep and _unit else template if len(template) <= 80 else "unmatched"
    return path if path in _KNOWN_PATHS else "unmatched"


def _access_log(scope: Scope, status: int, started: float) -> None:
    """The access-log line of a request answered here (the app's own middleware logs the others)."""
    state = scope.get("state", {})
    route = _route_template(scope["path"])
    access_log.info(
        "%s %s %d",
        scope["method"],
        route,
        status,
        extra={
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "route": route,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            "user_id": state.get("user_id"),
            "client_request_id": state.get("client_request_id"),
        },
    )


_NO_SUCH_JOB = "No such job."
# The code of the pages' message catalogue (verbatim/api/messages.py) for each refusal at the door.
_CODES = {401: "not_authenticated", 403: "permission_denied", 404: "not_found", 413: "too_large",
          429: "rate_limited"}  # fmt: skip


async def _answer(send: Send, status: int, message: str, headers: dict[str, str] | None = None) -> None:
    code = "job_not_found" if message == _NO_SUCH_JOB else _CODES.get(status, "invalid_request")
    body = json.dumps({"error": message, "code": code}).encode()
    raw: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # the body, if any, was not read: the connection cannot carry another request
        (b"connection", b"close"),
    ]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    await send({"type": "http.response.body", "body": body})
