"""The test suite's throw-away services (tests/throwaway.py): with ``VERBATIM_TEST_*_URL`` pointing at a port
where nothing answers, a server of the suite's own is started from the distribution's binaries, the variable
points at it, and it answers; with a binary missing, one line says what to install."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from kombu import Connection
from sqlalchemy import create_engine, text

from tests.throwaway import ENV, default_which, ensure_services, reachable, url_of
from verbatim.api.serving import free_port

pytestmark = pytest.mark.services

UNREACHABLE = {
    "postgres": "postgresql+psycopg://postgres@127.0.0.1:{port}/test",
    "redis": "redis://127.0.0.1:{port}",
    "amqp": "amqp://guest:guest@127.0.0.1:{port}//",
}


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every ``VERBATIM_TEST_*_URL`` at a free port: nothing answers there."""
    for kind, url in UNREACHABLE.items():
        monkeypatch.setenv(ENV[kind], url.format(port=free_port()))
        assert not reachable(url_of(kind))
    yield


@pytest.mark.parametrize("kind", ["postgres", "redis", "amqp"])
def test_an_unreachable_service_is_started_for_the_suite(nowhere: None, tmp_path: Path, kind: str) -> None:
    services = ensure_services(tmp_path, (kind,))
    try:
        assert services.line() == "" and set(services.started) == {kind}
        url = url_of(kind)
        assert (
            url == services.started[kind].url.rsplit("/", 1)[0]
            if kind == "redis"
            else services.started[kind].url
        )
        if kind == "postgres":
            engine = create_engine(url)
            with engine.connect() as connection:
                assert connection.execute(text("select 1")).scalar() == 1
            engine.dispose()
        elif kind == "redis":
            assert redis.Redis.from_url(f"{url}/3").ping()
        else:
            with Connection(url, connect_timeout=5) as connection:
                connection.connect()
    finally:
        services.stop()
    assert not reachable(services.started[kind].url)


def test_a_missing_binary_is_said_in_one_line(nowhere: None, tmp_path: Path) -> None:
    services = ensure_services(
        tmp_path, which=lambda name: None if name != "redis-server" else default_which(name)
    )
    try:
        line = services.line()
        assert "\n" not in line and line.startswith("service tests need ")
        assert "apt-get install postgresql" in line and "apt-get install rabbitmq-server" in line
        assert "redis" in services.started and "redis-server (apt-get" not in line
    finally:
        services.stop()
