"""A TCP proxy on loopback that a test switches off and on: a service "unavailable" without stopping it.

Stopping moto's S3 server would lose its objects (it keeps them in memory); a proxy between the store and
the server makes the server unreachable while it keeps everything.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed or unreachable peer looks to the client.

    ``shutdown`` first: closing a socket that another thread is blocked reading (a pipe thread) neither wakes
    that thread nor ends the connection (the kernel keeps it open for the pending read), and the client would
    wait on it for its whole read timeout."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class TcpProxy:
    """Forward ``127.0.0.1:<port>`` to ``target``; :meth:`down` cuts every connection and refuses new ones
    (each is reset at once) until :meth:`up`; :meth:`hang` keeps accepting and reading but never answers (a
    server stuck, or a network that drops packets), until :meth:`up`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.endpoint = f"127.0.0.1:{self.port}"
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._available = True
        self._hanging = False
        self._closed = False
        self.refused = 0  # connections refused while down
        self.hung = 0  # connections accepted and never answered while hanging
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def down(self) -> None:
        """Make the target unreachable: reset live connections, reset new ones."""
        with self._lock:
            self._available = False
            live, self._open = self._open, set()
        for sock in live:
            _reset(sock)

    def hang(self) -> None:
        """Accept and read everything, answer nothing: live connections stop forwarding too."""
        with self._lock:
            self._hanging = True

    def up(self) -> None:
        """Forward again."""
        with self._lock:
            self._available = True
            self._hanging = False

    def close(self) -> None:
        self._closed = True
        self.down()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                available, hanging = self._available, self._hanging
            if not available:
                self.refused += 1
                _reset(client)
                continue
            if hanging:
                self.hung += 1
                with self._lock:
                    self._open.add(client)
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                gone = not self._available  # went down while this connection was being made
                if not gone:
                    self._open.update((client, server))
            if gone:
                _reset(client)
                _reset(server)
                continue
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _swallow(self, client: socket.socket) -> None:
        try:
            while client.recv(65536):
                pass
        except OSError:
            pass

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                with self._lock:
                    hanging = self._hanging
                if not hanging:  # while hanging, what arrives is dropped: nobody ever answers
                    sink.sendall(data)
        except OSError:
            pass
        finally:
            # One side ended (or down() reset it): end the other side too.
            with self._lock:
                self._open.discard(source)
                self._open.discard(sink)
            for sock in (sink, source):
                with contextlib.suppress(OSError):
                    sock.close()
