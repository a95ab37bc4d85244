"""`verbatim bench load`: many concurrent clients against the API, on loopback, for a bounded time.

The API runs as ``verbatim serve`` in a child process (the load generator's own event loop must not share
its interpreter), embedded by default (SQLite, local folder, in-process worker transcribing the uploads
while the load goes on) or on PostgreSQL. Each client loops over a weighted mix of requests until the
deadline; every request has a timeout, so the run stops by itself. At the end every job whose creation was
acknowledged (202) must still be found: none lost. Reported: status counts (no 5xx expected), p50 / p95 /
max latency per kind of request, and requests per second.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from verbatim.api.serving import free_port
from verbatim.bench.common import BenchError, fmt, format_table, stop_process
from verbatim.bench.service import percentile

T = TypeVar("T")

__all__ = ["LoadReport", "run_load"]

# (kind, weight): what a busy unit's clients do, mostly reading.
MIX: tuple[tuple[str, float], ...] = (
    ("get_job", 0.40),
    ("list_jobs", 0.20),
    ("healthz", 0.10),
    ("custody", 0.10),
    ("metrics", 0.05),
    ("upload", 0.15),
)
REQUEST_TIMEOUT_S = 60.0


@dataclass
class LoadReport:
    tables: list[str]
    data: dict[str, Any]


@dataclass
class _Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)


def _clip() -> bytes:
    """A 3 s WAV (a tone with pauses): small, valid, quick for the worker."""
    import soundfile as sf

    t = np.arange(16000 * 3) / 16000
    samples = (0.2 * np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0)).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


async def _client(
    client: Any,
    token: str,
    deadline: float,
    stats: _Stats,
    seeded: list[str],
    rng: random.Random,
    clip: bytes,
) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]
    while time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        job_id = rng.choice(seeded + stats.created[-50:])
        started = time.perf_counter()
        try:
            if kind == "get_job":
                r = await client.get(f"/v1/jobs/{job_id}", headers=headers)
            elif kind == "list_jobs":
                r = await client.get("/v1/jobs?limit=20", headers=headers)
            elif kind == "healthz":
                r = await client.get("/healthz")
            elif kind == "custody":
                r = await client.get(f"/v1/jobs/{job_id}/custody", headers=headers)
            elif kind == "metrics":
                r = await client.get("/metrics", headers=headers)
            else:
                r = await client.post(
                    "/v1/jobs",
                    headers=headers,
                    files={"file": ("load.wav", clip, "audio/wav")},
                    data={"language": "fr", "diarize": "false"},
                )
                if r.status_code == 202:
                    stats.created.append(r.json()["id"])
        except httpx.HTTPError as e:
            stats.errors[type(e).__name__] += 1
            continue
        stats.latencies[kind].append(time.perf_counter() - started)
        stats.statuses[str(r.status_code)] += 1


async def _drive(
    base_url: str, token: str, clients: int, seconds: float, seeded: list[str], seed: int
) -> _Stats:
    import httpx

    stats = _Stats()
    clip = _clip()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S) as client:
        deadline = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _client(client, token, deadline, stats, seeded, random.Random(seed * 1000 + i), clip)
                for i in range(clients)
            )
        )
    return stats


def _run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, in a thread of its own when this thread already runs an event loop (a caller inside
    async code, or a library that keeps one running, as Playwright's synchronous API does)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="bench-load") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _job_status(base_url: str, headers: dict[str, str], job_id: str) -> str | None:
    """A job's status once the server has drained the load (requests still queued in it may take a while)."""
    import httpx

    for _ in range(5):
        try:
            r = httpx.get(f"{base_url}/v1/jobs/{job_id}", headers=headers, timeout=60)
        except httpx.TimeoutException:
            continue
        if r.status_code == 200:
            status: str = r.json()["status"]
            return status
        if r.status_code == 404:
            return None
    raise BenchError(f"the API did not answer about job {job_id} after the load")


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "verbatim", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def run_load(
    *,
    clients: int = 200,
    seconds: float = 60.0,
    database_url: str | None = None,
    workdir: Path,
    seed: int = 0,
    log: Callable[[str], None] = lambda _: None,
) -> LoadReport:
    """Run the load test and check that no acknowledged job was lost.

    Args:
        clients: concurrent clients (one connection each).
        seconds: how long they send requests.
        database_url: PostgreSQL URL; ``None``: the embedded SQLite database.
        workdir: home of the API under test (database, objects, logs).
        seed: seed of the clients' choices.
        log: progress messages.
    """
    import httpx

    from verbatim.ops.accounts import create_user
    from verbatim.ops.db import make_engine, session_factory, upgrade
    from verbatim.ops.settings import Settings, get_settings

    home = workdir / "home"
    settings = Settings(home=home, models_dir=get_settings().models_dir, database_url=database_url)
    url = settings.resolved_database_url()
    home.mkdir(parents=True, exist_ok=True)
    upgrade(url)
    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            _, token = create_user(session, name="load", role="investigator", unit="load-unit")
    finally:
        engine.dispose()

    env = {
        **os.environ,
        "VERBATIM_HOME": str(home),
        "VERBATIM_MODELS_DIR": str(settings.models_dir),
        "VERBATIM_LOG_LEVEL": "WARNING",
    }
    env.pop("VERBATIM_BROKER_URL", None)
    if database_url:
        env["VERBATIM_DATABASE_URL"] = database_url
    else:
        env.pop("VERBATIM_DATABASE_URL", None)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server_log = workdir / "api.log"
    process = _serve(env, port, server_log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"the API did not start: {server_log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)
        headers = {"Authorization": f"Bearer {token}"}
        clip = _clip()
        seeded = []
        for _ in range(5):  # jobs to read from the first request on
            r = httpx.post(
                f"{base_url}/v1/jobs",
                headers=headers,
                files={"file": ("seed.wav", clip, "audio/wav")},
                data={"language": "fr", "diarize": "false"},
                timeout=30,
            )
            if r.status_code != 202:
                raise BenchError(f"could not create a job before the load: {r.status_code} {r.text[:200]}")
            seeded.append(r.json()["id"])
        backend = "PostgreSQL" if database_url else "SQLite"
        log(f"{clients} clients for {seconds:.0f} s against {base_url} ({backend})")
        started = time.perf_counter()
        stats = _run_coroutine(_drive(base_url, token, clients, seconds, seeded, seed))
        wall = time.perf_counter() - started

        log(f"checking the {len(stats.created) + len(seeded)} acknowledged jobs")
        lost: list[str] = []
        states: Counter[str] = Counter()
        for job_id in seeded + stats.created:
            status = _job_status(base_url, headers, job_id)
            if status is None:
                lost.append(job_id)
            else:
                states[status] += 1
    finally:
        stop_process(process)

    all_latencies = [v for values in stats.latencies.values() for v in values]
    total = sum(stats.statuses.values())
    server_errors = sum(n for code, n in stats.statuses.items() if code.startswith("5"))
    per_kind = {
        kind: {
            "requests": len(values),
            "p50_ms": (percentile(values, 50) or 0) * 1000,
            "p95_ms": (percentile(values, 95) or 0) * 1000,
            "max_ms": max(values) * 1000 if values else None,
        }
        for kind, values in sorted(stats.latencies.items())
    }
    data: dict[str, Any] = {
        "clients": clients,
        "seconds": seconds,
        "database": "postgresql" if database_url else "sqlite",
        "wall_s": wall,
        "requests": total,
        "requests_per_s": total / wall if wall > 0 else None,
        "statuses": dict(stats.statuses),
        "client_errors": dict(stats.errors),
        "server_errors": server_errors,
        "p50_ms": (percentile(all_latencies, 50) or 0) * 1000,
        "p95_ms": (percentile(all_latencies, 95) or 0) * 1000,
        "per_kind": per_kind,
        "jobs_acknowledged": len(seeded) + len(stats.created),
        "jobs_lost": len(lost),
        "job_states": dict(states),
    }
    rows = [
        [kind, v["requests"], fmt(v["p50_ms"], 1), fmt(v["p95_ms"], 1), fmt(v["max_ms"], 1)]
        for kind, v in per_kind.items()
    ]
    rows.append(["all", total, fmt(data["p50_ms"], 1), fmt(data["p95_ms"], 1), ""])
    tables = [
        format_table(
            f"API under load: {clients} clients, {seconds:.0f} s, {data['database']}",
            ["request", "count", "p50 ms", "p95 ms", "max ms"],
            rows,
        ),
        format_table(
            "Outcome",
            ["requests/s", "5xx", "client errors", "jobs acknowledged", "jobs lost", "job states"],
            [
                [
                    fmt(data["requests_per_s"], 1),
                    server_errors,
                    sum(stats.errors.values()),
                    data["jobs_acknowledged"],
                    len(lost),
                    ", ".join(f"{k} {v}" for k, v in sorted(states.items())),
                ]
            ],
        ),
    ]
    return LoadReport(tables, data)
