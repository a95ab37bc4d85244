"""A bound on request bodies, enforced while they arrive.

Starlette parses a multipart upload before the route runs, spooling it to a temporary file. A declared
``Content-Length`` over the bound is refused before a byte is read; a body sent without one (chunked
transfer) is counted as it arrives and cut off at the bound, so an unbounded upload never fills the disk.
The route's own bound (on the file part, while it is streamed to the object store) still applies.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]


class BodyLimit:
    """ASGI middleware answering 413 once a request body exceeds ``limit`` bytes.

    Args:
        app: the wrapped application.
        limit: the largest body accepted, framing included, on the ``upload_paths``.
        message: the error shown to the client.
        small_limit: the largest body of every other route (JSON: a correction, a share); ``limit`` when
            ``None``.
        upload_paths: the routes that receive recordings.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        message: str,
        small_limit: int | None = None,
        upload_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.large = (limit, json.dumps({"error": message, "code": "too_large"}).encode())
        small = limit if small_limit is None else small_limit
        too_large = {"error": f"request body larger than {small} bytes", "code": "too_large"}
        self.small = (small, json.dumps(too_large).encode())
        self.upload_paths = upload_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        limit, body = self.large if scope["path"] in self.upload_paths else self.small
        await _Limited(self.app, limit, body)(scope, receive, send)


class _Limited:
    """One request under one bound."""

    def __init__(self, app: ASGIApp, limit: int, body: bytes) -> None:
        self.app = app
        self.limit = limit
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return

        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    if not started:
                        await self._refuse(send)
                    # The app sees a client that went away: it stops parsing and stores nothing.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # our 413 has been sent; whatever the app answers to the "disconnect" is dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
            (b"connection", b"close"),
        ]
        start: dict[str, Any] = {"type": "http.response.start", "status": 413, "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": self.body})
