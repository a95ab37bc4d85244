"""The API served by uvicorn in a thread of this process, on a loopback port: for benchmarks and tests
that need a real HTTP server next to their own code (production runs ``verbatim serve``)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

__all__ = ["ApiThread", "free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class ApiThread:
    """Serve ``app`` with uvicorn in a daemon thread until :meth:`stop`.

    Args:
        app: the ASGI application (its lifespan runs in the server).
        port: the port; a free one when ``None``.
        start_timeout: seconds allowed for start-up.

    Raises:
        RuntimeError: the server stopped or did not start in time.
    """

    def __init__(self, app: Any, *, port: int | None = None, start_timeout: float = 60.0) -> None:
        import uvicorn

        self.app = app
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="verbatim-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + start_timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the API server stopped during start-up")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API server did not start in {start_timeout:.0f} s")
            time.sleep(0.05)

    def stop(self, timeout: float = 60.0) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()
