"""Throw-away PostgreSQL, Redis and RabbitMQ servers for the test suite, from the distribution's binaries
(``scripts/setup.sh`` installs them), on free loopback ports, in temporary folders.

Where the tests find their services: ``VERBATIM_TEST_POSTGRES_URL``, ``VERBATIM_TEST_REDIS_URL`` (without a
database number: each test module picks its own) and ``VERBATIM_TEST_AMQP_URL``, else the default ports
(what ``.ci/run`` starts). When one is not reachable, :func:`ensure_services` starts one of its own and points
the variable at it; when the binary is missing too, it says in one line what to install.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import redis
from kombu import Connection

from verbatim.api.serving import free_port
from verbatim.bench.common import stop_process

DEFAULTS = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "redis": "redis://127.0.0.1:6379",
    "amqp": "amqp://guest:guest@127.0.0.1:5672//",
}
ENV = {
    "postgres": "VERBATIM_TEST_POSTGRES_URL",
    "redis": "VERBATIM_TEST_REDIS_URL",
    "amqp": "VERBATIM_TEST_AMQP_URL",
}
PACKAGES = {"postgres": "postgresql", "redis": "redis-server", "amqp": "rabbitmq-server"}
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def url_of(kind: str) -> str:
    """The URL the tests use for ``kind`` (``postgres``, ``redis``, ``amqp``), read when asked."""
    return os.environ.get(ENV[kind]) or DEFAULTS[kind]


def postgres_url() -> str:
    return url_of("postgres")


def redis_url(db: int) -> str:
    """The tests' Redis, database ``db`` (each test module uses a number of its own)."""
    return f"{url_of('redis').rstrip('/')}/{db}"


def amqp_url() -> str:
    return url_of("amqp")


def reachable(url: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at the URL's host and port."""
    parts = urlsplit(url)
    default = {"postgresql+psycopg": 5432, "postgresql": 5432, "redis": 6379, "amqp": 5672}
    port = parts.port or default.get(parts.scheme, 0)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Server(Protocol):
    url: str

    def stop(self) -> None: ...


def _wait(
    ready: Callable[[], bool], process: subprocess.Popen[bytes], what: str, log: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(
                f"{what} exited: {log.read_text(errors='replace')[-2000:] if log.exists() else ''}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.1)


class RedisServer:
    """``redis-server`` on a free loopback port, persisting to an append-only file in ``folder``."""

    def __init__(self, folder: Path, binary: str = "redis-server") -> None:
        self.port = free_port()
        self.folder = folder
        self.binary = binary
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None
        self._process = subprocess.Popen(
            [
                self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "yes", "--dir", str(self.folder), "--logfile", str(self.folder / "redis.log"),
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)

        def ping() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        try:
            _wait(ping, self._process, "redis-server", self.folder / "redis.log", 20)
        finally:
            client.close()

    def stop(self) -> None:
        """SIGTERM: Redis writes its append-only file out and exits."""
        if self._process is not None:
            stop_process(self._process)


class RabbitNode:
    """A RabbitMQ node of its own (name, AMQP and distribution ports, data folder under ``folder``), so that
    restarting it touches no other test's broker; ``stop`` is a SIGTERM (a clean shutdown, as a service
    restart does), ``start`` boots it again on its data: durable queues and persistent messages are back."""

    def __init__(self, folder: Path, server: Path = RABBITMQ_SERVER) -> None:
        self.port = free_port()
        self.folder = folder
        self.server = server
        self.name = f"vbtest-{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        self._env = {
            **os.environ,
            "HOME": str(folder),  # its own Erlang cookie
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_PID_FILE": str(folder / "node.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(folder / "none"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(folder / "advanced.config"),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        assert self._process is None or self._process.poll() is not None
        with (self.folder / "node.out").open("ab") as out:
            # The server script itself: the packaged wrapper would switch to the rabbitmq user.
            self._process = subprocess.Popen(
                [str(self.server)], env=self._env, stdout=out, stderr=subprocess.STDOUT
            )

        def connects() -> bool:
            try:
                with Connection(self.url, connect_timeout=1) as connection:
                    connection.connect()
                    return True
            except Exception:  # not listening, or still booting
                return False

        _wait(connects, self._process, "the RabbitMQ node", self.folder / "node.out", 90)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=60)

    def waiting(self, queue: str) -> int:
        """Messages ready in ``queue`` (those a stopped worker held unacknowledged are back to ready)."""
        with Connection(self.url, connect_timeout=5) as connection:
            _, count, _ = connection.channel().queue_declare(queue, passive=True)
            return int(count)


def _postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return candidates[-1] if candidates else None


class PostgresServer:
    """A PostgreSQL cluster of its own (``initdb`` in a temporary folder, trust authentication on loopback,
    a free port) with a database ``test``. Run as the ``postgres`` account when the tests run as root
    (PostgreSQL refuses to run as root)."""

    def __init__(self, initdb: str, pg_ctl: str) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="verbatim-pg-"))  # /tmp: reachable by the postgres account
        self.pg_ctl = pg_ctl
        self._as: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        data = self.folder / "data"
        log = self.folder / "server.log"
        subprocess.run(
            [*self._as, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*self._as, pg_ctl, "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        self.data = data
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname="postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE test")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/test"

    def stop(self) -> None:
        subprocess.run(
            [*self._as, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Services:
    """What :func:`ensure_services` started (stopped by :meth:`stop`) and what could not be had."""

    started: dict[str, Server] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    saved: dict[str, str | None] = field(default_factory=dict)

    def line(self) -> str:
        """One line saying what is missing, or ``""``."""
        if not self.missing:
            return ""
        return "service tests need " + "; ".join(self.missing)

    def stop(self) -> None:
        for server in self.started.values():
            server.stop()
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _start(kind: str, folder: Path, which: Callable[[str], str | None]) -> Server | str:
    """A server of ``kind``, or the one line saying which binary is missing."""
    if kind == "postgres":
        initdb, pg_ctl = which("initdb"), which("pg_ctl")
        if not (initdb and pg_ctl):
            return "initdb/pg_ctl (apt-get install postgresql)"
        return PostgresServer(initdb, pg_ctl)
    if kind == "redis":
        binary = which("redis-server")
        if not binary:
            return "redis-server (apt-get install redis-server)"
        base = folder / "redis"
        base.mkdir(parents=True, exist_ok=True)
        return RedisServer(base, binary)
    server = which("rabbitmq-server")
    if not server:
        return f"{RABBITMQ_SERVER} (apt-get install rabbitmq-server)"
    base = folder / "rabbitmq"
    base.mkdir(parents=True, exist_ok=True)
    return RabbitNode(base, Path(server))


def default_which(name: str) -> str | None:
    """Where the distribution put a server's binary (``scripts/setup.sh`` installs them)."""
    if name in ("initdb", "pg_ctl"):
        return _postgres_bin(name)
    if name == "rabbitmq-server":
        return str(RABBITMQ_SERVER) if RABBITMQ_SERVER.exists() else None
    return shutil.which(name)


def ensure_services(
    folder: Path,
    kinds: tuple[str, ...] = ("postgres", "redis", "amqp"),
    *,
    which: Callable[[str], str | None] = default_which,
) -> Services:
    """For each of ``kinds`` not reachable where the tests look (:func:`url_of`), start one of our own and
    point its ``VERBATIM_TEST_*_URL`` at it; the missing binaries, in one line (:meth:`Services.line`)."""
    services = Services()
    for kind in kinds:
        url = url_of(kind)
        if reachable(url):
            continue
        try:
            made = _start(kind, folder, which)
        except (OSError, RuntimeError, subprocess.CalledProcessError, KeyError) as e:
            detail = getattr(e, "stderr", b"") or b""
            reason = detail.decode(errors="replace").strip().splitlines()[-1:] if detail else [str(e)]
            services.missing.append(
                f"a {kind} server: none at {url}, and starting one failed ({' '.join(reason)[:200]})"
            )
            continue
        if isinstance(made, str):
            services.missing.append(f"a {kind} server: none at {url}, and no {made}")
            continue
        services.started[kind] = made
        services.saved[ENV[kind]] = os.environ.get(ENV[kind])
        os.environ[ENV[kind]] = made.url if kind != "redis" else made.url.rsplit("/", 1)[0]
    return services
