"""The front door (issue 15): authentication before any body, body limits, odd ids, brute force, request ids,
headers and the API docs, through a real uvicorn server on SQLite and PostgreSQL.

No model is loaded: no job here reaches a worker (the dispatcher is a recorder).
"""

from __future__ import annotations

import contextlib
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from verbatim.api.deps import ServiceState
from verbatim.api.security import FailedAuthLimiter, SharedFailedAuthLimiter
from verbatim.api.serving import ApiThread
from verbatim.ops.accounts import create_user
from verbatim.ops.db import AuditEntry, make_engine
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.settings import Settings, get_settings
from verbatim.server import create_app

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)]


class _Recorder:
    def __init__(self) -> None:
        self.submitted: list[str] = []

    def submit(self, job_id: str) -> None:
        self.submitted.append(job_id)


@dataclass
class Server:
    api: ApiThread
    token: str

    @property
    def state(self) -> ServiceState:
        state: ServiceState = self.api.app.state.verbatim
        return state

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def audit_count(self) -> int:
        with self.state.sessions() as session:
            return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def _serve(home: Path, database_url: str | None, **overrides: object) -> Server:
    settings = Settings(
        home=home, models_dir=get_settings().models_dir, database_url=database_url, **overrides
    )
    api = ApiThread(create_app(settings, _Recorder()))
    state: ServiceState = api.app.state.verbatim
    with state.sessions() as session:
        _, token = create_user(session, name="inv", role="investigator", unit="brigade-a")
    return Server(api, token)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "sqlite":
        served = _serve(tmp_path / "home", None)
        try:
            yield served
        finally:
            served.api.stop()
        return
    with temporary_postgres_schema() as url:
        served = _serve(tmp_path / "home", url)
        try:
            yield served
        finally:
            served.api.stop()


def _first_answer(port: int, head: bytes, *, body_bytes: int, chunk: int = 64 * 1024) -> tuple[bytes, int]:
    """Send ``head`` then up to ``body_bytes`` of body while watching for an answer.

    Returns:
        The first bytes of the answer and how many body bytes had been sent when it arrived.
    """
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head)
        conn.setblocking(False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                data = conn.recv(65536)
                if data:
                    return data, sent
            except BlockingIOError:
                pass
            if sent < body_bytes:
                try:
                    sent += conn.send(b"\0" * chunk)
                except BlockingIOError:
                    time.sleep(0.01)
                except (BrokenPipeError, ConnectionResetError):
                    break
            else:
                time.sleep(0.01)
    return b"", sent


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/jobs", "multipart/form-data; boundary=x"),
        (f"/v1/jobs/{uuid.uuid4()}/edits", "application/json"),
    ],
)
def test_a_tokenless_huge_body_is_refused_before_it_is_sent(
    server: Server, path: str, content_type: str
) -> None:
    declared = 200 * 1024 * 1024
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    # The server answers 401 and closes while body bytes are still arriving: its kernel then resets the
    # connection, and a reset that overtakes the answer discards it on the client's side (seen once in a CI
    # run on a loaded machine). A reset with nothing read is tried again; the 401 must come on some try.
    for _ in range(3):
        answer, sent = _first_answer(server.api.port, head, body_bytes=declared)
        if answer:
            break
        assert sent < declared // 10  # even the reset came while the body was still being sent
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert sent < declared // 10  # the answer came while the body was still being sent
    assert (
        list((server.state.settings.home / "objects").glob("**/*")) == [] or server.state.store.list("") == []
    )


def test_a_tokenless_chunked_upload_gets_401_at_once(server: Server) -> None:
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(3200):  # 200 MB if it were all read
            sent += 65536
            yield b"\0" * 65536

    with httpx.Client(base_url=server.api.base_url, timeout=60) as client:
        r = client.post(
            "/v1/jobs", content=body(), headers={"Content-Type": "multipart/form-data; boundary=x"}
        )
    assert r.status_code == 401
    assert sent < 200 * 1024 * 1024


def test_json_bodies_are_small(server: Server) -> None:
    job = str(uuid.uuid4())
    big = b'{"unit": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    r = httpx.post(
        f"{server.api.base_url}/v1/jobs/{job}/shares",
        content=big,
        headers={**server.headers, "Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 413, r.text


@pytest.mark.parametrize(
    "job_id",
    ["nope", "x" * 5000, str(uuid.uuid4()).upper(), str(uuid.uuid4()) + "0", "'; DROP TABLE jobs; --"],
)
def test_odd_job_ids_answer_404_before_any_query_or_audit(server: Server, job_id: str) -> None:
    before = server.audit_count()
    base = server.api.base_url
    with httpx.Client(base_url=base, headers=server.headers, timeout=30) as client:
        for method, suffix in (("GET", ""), ("GET", "/transcript"), ("DELETE", ""), ("GET", "/custody")):
            r = client.request(method, f"/v1/jobs/{job_id}{suffix}")
            assert r.status_code == 404, (method, suffix, r.status_code, r.text)
    assert server.audit_count() == before
    # a well-formed id that names no job is looked up, and that refusal is audited
    r = httpx.get(f"{base}/v1/jobs/{uuid.uuid4()}", headers=server.headers)
    assert r.status_code == 404 and server.audit_count() == before + 1


def test_without_a_token_an_odd_id_is_401(server: Server) -> None:
    assert httpx.get(f"{server.api.base_url}/v1/jobs/{'x' * 5000}").status_code == 401


def test_twenty_wrong_tokens_from_one_address_get_429_and_one_audit_burst(server: Server) -> None:
    before = server.audit_count()
    statuses = []
    with httpx.Client(base_url=server.api.base_url, timeout=30) as client:
        for n in range(20):
            r = client.get("/v1/jobs", headers={"Authorization": f"Bearer vbt_guess{n:04d}{'A' * 30}"})
            statuses.append(r.status_code)
        assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}, statuses
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # during the block even the right token waits: a guess that happened to be right is not told so
        assert client.get("/v1/jobs", headers=server.headers).status_code == 429
    with server.state.sessions() as session:
        rows = list(session.scalars(select(AuditEntry).where(AuditEntry.id > 0).order_by(AuditEntry.id)))[
            before:
        ]
    assert 1 <= len(rows) <= 2, [r.detail for r in rows]  # not one row per try
    assert any("10 failed authentications" in (r.detail or "") for r in rows)
    assert all(r.action == "login" and r.outcome == "denied" for r in rows)
    assert all("vbt_" not in (r.detail or "") for r in rows)  # no piece of a token


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_api_processes_share_the_failed_authentication_limit(backend: str, tmp_path: Path) -> None:
    """Two API instances on one database: their failures add up to one limit, one aggregated audit entry."""
    with contextlib.ExitStack() as stack:
        url = None if backend == "sqlite" else stack.enter_context(temporary_postgres_schema())
        first = _serve(tmp_path / "home", url, auth_limit_shared=True)
        stack.callback(first.api.stop)
        settings = Settings(
            home=tmp_path / "home",
            models_dir=get_settings().models_dir,
            database_url=url,
            auth_limit_shared=True,
        )
        second = ApiThread(create_app(settings, _Recorder()))
        stack.callback(second.stop)
        before = first.audit_count()
        statuses = []
        for n in range(12):  # alternately: neither instance alone sees more than 6
            base = (first.api if n % 2 else second).base_url
            r = httpx.get(f"{base}/v1/jobs", headers={"Authorization": f"Bearer vbt_guess{n:04d}{'A' * 30}"})
            statuses.append(r.status_code)
        assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429], statuses
        for api in (first.api, second):  # blocked on both, the right token too
            assert httpx.get(f"{api.base_url}/v1/jobs", headers=first.headers).status_code == 429
        with first.state.sessions() as session:
            rows = list(session.scalars(select(AuditEntry).order_by(AuditEntry.id)))[before:]
        assert 1 <= len(rows) <= 2, [r.detail for r in rows]
        assert any("10 failed authentications" in r.detail for r in rows)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_shared_limiter_counts_concurrent_failures_exactly(backend: str, tmp_path: Path) -> None:
    """Failures counted at once by many threads (as by several processes) add up: none is lost."""
    from concurrent.futures import ThreadPoolExecutor

    from verbatim.ops.db import AuthFailure, session_factory, upgrade
    from verbatim.ops.db.testing import temporary_database

    with temporary_database(backend, tmp_path) as url:
        upgrade(url)
        engine = make_engine(url)
        try:
            sessions = session_factory(engine)
            limiter = SharedFailedAuthLimiter(max_failures=1000, window_s=60, prune_every=10**9)

            def fail(_: int) -> list[str]:
                with sessions() as session:
                    return limiter.failure(session, ["address 10.0.0.9", "token prefix abc"])

            with ThreadPoolExecutor(8) as pool:
                notes = [n for batch in pool.map(fail, range(40)) for n in batch]
            with sessions() as session:
                counts = {r.key: r.failures for r in session.scalars(select(AuthFailure))}
            assert counts == {"address 10.0.0.9": 40, "token prefix abc": 40}
            assert sorted(notes) == [
                "address 10.0.0.9: failed authentication",
                "token prefix abc: failed authentication",
            ]
        finally:
            engine.dispose()


def test_the_limiter_forgives_after_its_window() -> None:
    now = [0.0]
    limiter = FailedAuthLimiter(max_failures=3, window_s=60, clock=lambda: now[0])
    keys = ["address 10.0.0.1"]
    assert [bool(limiter.failure(keys)) for _ in range(3)] == [True, False, True]
    assert limiter.retry_after(keys) == pytest.approx(60)
    assert limiter.retry_after(["address 10.0.0.2"]) is None
    now[0] = 61.0
    assert limiter.retry_after(keys) is None
    notes = limiter.failure(keys)  # a new burst: what the last one did not say yet is said now
    assert any("more failed or refused tries" in n for n in notes) and any(
        "failed authentication" in n for n in notes
    )


def test_request_ids_are_the_servers(server: Server) -> None:
    before = server.audit_count()
    r = httpx.get(f"{server.api.base_url}/v1/jobs", headers={**server.headers, "X-Request-ID": "mine-123"})
    assert r.status_code == 200
    assert r.headers["X-Request-ID"] != "mine-123" and len(r.headers["X-Request-ID"]) == 32
    with server.state.sessions() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
    assert server.audit_count() == before + 1 and entry.request_id == r.headers["X-Request-ID"]


def test_security_headers(server: Server) -> None:
    base = server.api.base_url
    for r in (
        httpx.get(f"{base}/v1/jobs", headers=server.headers),
        httpx.get(f"{base}/v1/jobs"),
        httpx.get(f"{base}/healthz"),
    ):
        assert r.headers["Cache-Control"] == "no-store"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    page = httpx.get(f"{base}/web/")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]  # the page's own, kept


def test_docs_are_off_by_default(server: Server) -> None:
    base = server.api.base_url
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js"):
        assert httpx.get(f"{base}{path}", headers=server.headers).status_code == 404, path


@pytest.mark.parametrize("mode", ["token", "open"])
def test_docs_by_setting(tmp_path: Path, mode: str) -> None:
    served = _serve(tmp_path / "home", None, api_docs=mode)
    try:
        base = served.api.base_url
        spec_open = httpx.get(f"{base}/openapi.json")
        spec = httpx.get(f"{base}/openapi.json", headers=served.headers)
        docs = httpx.get(f"{base}/docs")
        if mode == "token":
            assert spec_open.status_code == 401 and spec.status_code == 200 and docs.status_code == 404
        else:
            assert spec_open.status_code == 200 and docs.status_code == 200
            csp = docs.headers["Content-Security-Policy"]
            assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
            assert docs.headers["X-Frame-Options"] == "DENY"
    finally:
        served.api.stop()


@pytest.mark.parametrize("backend", BACKENDS)
def test_sql_parameters_never_reach_an_error_message(backend: str, tmp_path: Path) -> None:
    def check(url: str) -> None:
        engine = make_engine(url)
        try:
            with engine.connect() as connection, pytest.raises(Exception) as caught:
                connection.execute(text("SELECT no_such_column WHERE :who = :who"), {"who": "Jeanne Martin"})
            assert "Jeanne Martin" not in str(caught.value)
        finally:
            engine.dispose()

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'x.db'}")
    else:
        with temporary_postgres_schema() as url:
            check(url)
