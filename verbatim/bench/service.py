"""`verbatim bench service`: the service under load, on loopback.

Distributed (default): a Redis broker (a key prefix of its own, removed afterwards), a PostgreSQL schema of
its own (dropped afterwards) or ``--database-url``, a local object folder shared by every process, the API
(built by ``create_app(settings)``) under uvicorn on a loopback port, and 1 then 2 Celery worker processes.
Embedded (``--embedded``): the same API with its in-process worker and SQLite; one-worker figures only.

Three figures, each from one run:

- throughput: N concurrent one-minute jobs uploaded through ``POST /v1/jobs``, audio seconds per wall second
  from the first upload to the last job seen finished, with 1 and 2 workers, and their ratio;
- API latency: ``GET /v1/jobs/{id}`` timed while those jobs run (a bounded polling loop), p50 / p95 / max;
- long recording: one recording (4 min by default) split every ``--split-seconds``, wall time with 2
  workers against 1.

Recordings are built by concatenating the committed English test clips (``tests/data``) with short pauses.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from verbatim.api.serving import ApiThread
from verbatim.bench.common import BenchError, format_table, ratio, repo_root, stop_process

if TYPE_CHECKING:
    import httpx

    from verbatim.ops.settings import Settings

__all__ = [
    "PhaseResult",
    "ServiceReport",
    "build_recording",
    "percentile",
    "run_service",
    "service_tables",
    "throughput",
]

Log = Callable[[str], None]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/12"
"""A database number no test uses; every key also carries a per-run prefix."""
UNPREFIXED_KEYS = ("asr", "cpu", "_kombu.binding.asr", "_kombu.binding.cpu", "_kombu.binding_permanent.asr")
SOURCE_CLIPS = ("jfk.flac", "picovoice_test_en.wav")
PAUSE_SECONDS = 0.6
MAX_POLLS = 20_000
"""Upper bound of latency probes in one phase (the polling loop is bounded)."""
POLL_PAUSE_S = 0.05


# --- pure helpers -------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100), interpolated between closest ranks; ``None`` when empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(v for v in values if math.isfinite(v))
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def throughput(audio_seconds: float, wall_seconds: float) -> float | None:
    """Audio seconds processed per wall second; ``None`` when the wall time is not positive."""
    if wall_seconds <= 0:
        return None
    return ratio(audio_seconds, wall_seconds)


@dataclass
class PhaseResult:
    """One batch of jobs with a given number of workers."""

    workers: int
    jobs: int
    audio_s: float
    wall_s: float
    succeeded: int
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def throughput(self) -> float | None:
        return throughput(self.audio_s, self.wall_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "jobs": self.jobs,
            "audio_s": self.audio_s,
            "wall_s": self.wall_s,
            "succeeded": self.succeeded,
            "throughput_audio_s_per_s": self.throughput,
            "latency_ms": {
                "count": len(self.latencies_ms),
                "p50": percentile(self.latencies_ms, 50),
                "p95": percentile(self.latencies_ms, 95),
                "max": max(self.latencies_ms, default=None),
            },
        }


def service_tables(data: dict[str, Any]) -> list[str]:
    """The tables of a report's figures (``ServiceReport.data``)."""
    rows: list[list[object]] = []
    for phase in data.get("throughput", []):
        lat = phase["latency_ms"]
        rows.append(
            [
                phase["workers"],
                f"{phase['succeeded']}/{phase['jobs']}",
                phase["audio_s"],
                phase["wall_s"],
                phase["throughput_audio_s_per_s"],
                lat["count"],
                lat["p50"],
                lat["p95"],
                lat["max"],
            ]
        )
    tables = [
        format_table(
            f"Concurrent jobs ({data.get('mode', '?')}): throughput; GET /v1/jobs/{{id}} latency while busy",
            ["workers", "ok", "audio s", "wall s", "audio s / s", "GETs", "p50 ms", "p95 ms", "max ms"],
            rows,
        )
    ]
    long_rows: list[list[object]] = [
        [
            p["workers"],
            f"{p['succeeded']}/{p['jobs']}",
            p["audio_s"],
            p["wall_s"],
            p["throughput_audio_s_per_s"],
        ]
        for p in data.get("long", [])
    ]
    if long_rows:
        tables.append(
            format_table(
                f"One long recording split every {data.get('split_seconds', '?')} s",
                ["workers", "ok", "audio s", "wall s", "audio s / s"],
                long_rows,
            )
        )
    ratios = data.get("ratios", {})
    tables.append(
        format_table(
            "Ratios (2 workers / 1 worker, one run each)",
            ["figure", "ratio"],
            [
                ["throughput of concurrent jobs", _ratio_cell(ratios.get("throughput_2_over_1"))],
                ["speed-up of the long recording", _ratio_cell(ratios.get("long_speedup_2_over_1"))],
            ],
        )
    )
    return tables


def _ratio_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


# --- recordings ---------------------------------------------------------------------------------------------


def build_recording(path: Path, seconds: float, *, data_dir: Path | None = None) -> Path:
    """A FLAC of exactly ``seconds`` of speech: the committed English clips in turn, with short pauses."""
    import numpy as np
    import soundfile as sf

    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.types import SAMPLE_RATE

    folder = data_dir or repo_root() / "tests" / "data"
    missing = [name for name in SOURCE_CLIPS if not (folder / name).is_file()]
    if missing:
        raise BenchError(f"test clips not found in {folder}: {', '.join(missing)}")
    pause = np.zeros(round(PAUSE_SECONDS * SAMPLE_RATE), np.float32)
    pieces = [np.concatenate([decode(folder / name).samples, pause]) for name in SOURCE_CLIPS]
    unit = np.concatenate(pieces)
    wanted = round(seconds * SAMPLE_RATE)
    samples = np.tile(unit, wanted // len(unit) + 1)[:wanted]
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    return path


# --- the deployment -----------------------------------------------------------------------------------------


class _ApiServer(ApiThread):
    """The app of ``settings`` served in a thread; start-up failures become :class:`BenchError`."""

    def __init__(self, settings: Settings) -> None:
        from verbatim.server import create_app

        try:
            super().__init__(create_app(settings))
        except RuntimeError as e:
            raise BenchError(str(e)) from e


@dataclass
class _Deployment:
    embedded: bool
    base: Path
    models_dir: Path
    database_url: str
    objects: Path
    token: str
    redis_url: str
    prefix: str

    def settings(self, split_seconds: float) -> Settings:
        from verbatim.ops.settings import Settings, StorageSettings, WorkerSettings

        return Settings(
            home=self.base / "api-home",
            models_dir=self.models_dir,
            broker_url=None if self.embedded else self.redis_url,
            database_url=self.database_url,
            storage=StorageSettings(backend="local", local_root=self.objects),
            worker=WorkerSettings(key_prefix=self.prefix, split_seconds=split_seconds),
        )

    def worker_env(self, split_seconds: float) -> dict[str, str]:
        return {
            **os.environ,
            "VERBATIM_HOME": str(self.base / "worker-home"),
            "VERBATIM_MODELS_DIR": str(self.models_dir),
            "VERBATIM_BROKER_URL": self.redis_url,
            "VERBATIM_DATABASE_URL": self.database_url,
            "VERBATIM_STORAGE__BACKEND": "local",
            "VERBATIM_STORAGE__LOCAL_ROOT": str(self.objects),
            "VERBATIM_WORKER__KEY_PREFIX": self.prefix,
            "VERBATIM_WORKER__SPLIT_SECONDS": str(split_seconds),
            "PYTHONUNBUFFERED": "1",
        }


def _start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen[bytes]:
    """A Celery worker process on the ``asr`` queue, as ``verbatim worker`` runs it."""
    with log.open("wb") as out:  # the child holds its own descriptor
        return subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "verbatim.workers.celery_app", "worker",
                "-Q", "asr", "-c", "1", "--pool", "solo", "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h",
                "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat",
            ],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wait_ready(logs: list[Path], processes: list[subprocess.Popen[bytes]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not all("ready." in p.read_text(errors="replace") for p in logs):
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            tails = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs)
            raise BenchError(f"the Celery workers did not get ready\n{tails}")
        time.sleep(0.2)


@contextmanager
def _deployment(
    *, embedded: bool, redis_url: str, database_url: str | None, log: Log
) -> Iterator[_Deployment]:
    from verbatim.ops.accounts import create_user
    from verbatim.ops.db import make_engine, session_factory, upgrade
    from verbatim.ops.settings import get_settings

    with ExitStack() as stack:
        base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verbatim-bench-service-")))
        prefix = f"vbbench-{uuid.uuid4().hex[:8]}:"
        if embedded:
            url = f"sqlite:///{base / 'verbatim.db'}"
        elif database_url is not None:
            url = database_url
        else:
            from verbatim.ops.db.testing import temporary_postgres_schema

            try:
                url = stack.enter_context(temporary_postgres_schema(prefix="vb_bench"))
            except Exception as e:
                raise BenchError(f"no PostgreSQL for a temporary schema ({e}); give --database-url") from e
        if not embedded:
            import redis

            client = redis.Redis.from_url(redis_url)
            try:
                client.ping()
            except Exception as e:
                raise BenchError(f"no Redis at {redis_url}: {e}") from e

            def clean() -> None:
                keys = list(client.scan_iter(match=f"{prefix}*"))
                if keys:
                    client.delete(*keys)
                client.delete(*UNPREFIXED_KEYS)
                client.close()

            stack.callback(clean)
        upgrade(url)
        engine = make_engine(url)
        try:
            with session_factory(engine)() as session:
                _, token = create_user(
                    session, name=f"bench-{uuid.uuid4().hex[:6]}", role="investigator", unit="bench"
                )
        finally:
            engine.dispose()
        log(f"deployment: {'embedded' if embedded else 'distributed'}, database {url.split('@')[-1]}")
        yield _Deployment(
            embedded=embedded,
            base=base,
            models_dir=get_settings().models_dir,
            database_url=url,
            objects=base / "objects",
            token=token,
            redis_url=redis_url,
            prefix=prefix,
        )


# --- one phase ----------------------------------------------------------------------------------------------


def _submit(client: httpx.Client, headers: dict[str, str], path: Path, options: dict[str, str]) -> str:
    with path.open("rb") as f:
        r = client.post(
            "/v1/jobs", headers=headers, files={"file": (path.name, f, "audio/flac")}, data=options
        )
    if r.status_code != 202:
        raise BenchError(f"upload refused: {r.status_code} {r.text[:300]}")
    job_id: str = r.json()["id"]
    return job_id


def _phase(
    deployment: _Deployment,
    *,
    workers: int,
    recordings: list[tuple[Path, float]],
    split_seconds: float,
    options: dict[str, str],
    timeout_s: float,
    log: Log,
) -> PhaseResult:
    """Start ``workers`` workers and the API, upload every recording at once, poll until all are finished."""
    import httpx

    procs: list[subprocess.Popen[bytes]] = []
    api: _ApiServer | None = None
    try:
        if not deployment.embedded:
            env = deployment.worker_env(split_seconds)
            # Workers sharing one machine share its cores: each gets its share of threads, or CTranslate2's
            # and torch's thread pools oversubscribe the cores and 2 workers run slower than 1.
            share = str(max(1, (os.cpu_count() or 1) // workers))
            env = {**env, "VERBATIM_ASR__CPU_THREADS": share, "OMP_NUM_THREADS": share}
            logs = [
                deployment.base / f"worker-{workers}-{i}-{uuid.uuid4().hex[:4]}.log" for i in range(workers)
            ]
            procs = [_start_worker(env, p, f"bench{i}") for i, p in enumerate(logs)]
            _wait_ready(logs, procs)
        api = _ApiServer(deployment.settings(split_seconds))
        headers = {"Authorization": f"Bearer {deployment.token}"}
        with httpx.Client(base_url=api.base_url, timeout=120) as client:
            started = time.perf_counter()
            ids: list[str] = [""] * len(recordings)

            def upload(i: int) -> None:
                ids[i] = _submit(client, headers, recordings[i][0], options)

            threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(recordings))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if not all(ids):
                raise BenchError("an upload failed (see above)")
            log(f"{workers} worker(s): {len(ids)} job(s) submitted in {time.perf_counter() - started:.1f} s")
            latencies: list[float] = []
            finished: dict[str, str] = {}
            last_done = started
            deadline = time.monotonic() + timeout_s
            while len(finished) < len(ids) and len(latencies) < MAX_POLLS and time.monotonic() < deadline:
                for job_id in ids:
                    if job_id in finished:
                        continue
                    t0 = time.perf_counter()
                    r = client.get(f"/v1/jobs/{job_id}", headers=headers)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != 200:
                        raise BenchError(f"GET /v1/jobs/{job_id}: {r.status_code} {r.text[:300]}")
                    status = r.json()["status"]
                    if status in ("succeeded", "failed"):
                        finished[job_id] = status
                        last_done = time.perf_counter()
                time.sleep(POLL_PAUSE_S)
            if len(finished) < len(ids):
                raise BenchError(f"{len(ids) - len(finished)} job(s) unfinished after {timeout_s:.0f} s")
        wall = last_done - started
        succeeded = sum(1 for s in finished.values() if s == "succeeded")
        log(f"{workers} worker(s): done in {wall:.1f} s, {succeeded}/{len(ids)} succeeded")
        return PhaseResult(
            workers=workers,
            jobs=len(ids),
            audio_s=sum(seconds for _, seconds in recordings),
            wall_s=wall,
            succeeded=succeeded,
            latencies_ms=latencies,
        )
    finally:
        if api is not None:
            api.stop()
        for p in procs:
            stop_process(p)


# --- the benchmark ------------------------------------------------------------------------------------------


@dataclass
class ServiceReport:
    tables: list[str]
    data: dict[str, Any]


def run_service(
    *,
    jobs: int = 4,
    job_seconds: float = 60.0,
    long_seconds: float = 240.0,
    split_seconds: float = 60.0,
    embedded: bool = False,
    redis_url: str = DEFAULT_REDIS_URL,
    database_url: str | None = None,
    diarize: bool = True,
    timeout_s: float = 3600.0,
    log: Log = lambda _: None,
) -> ServiceReport:
    """Run every phase and gather the figures (see the module's docstring)."""
    counts = [1] if embedded else [1, 2]
    options = {"language": "en", "diarize": "true" if diarize else "false"}
    with _deployment(embedded=embedded, redis_url=redis_url, database_url=database_url, log=log) as dep:
        clip = build_recording(dep.base / f"clip-{job_seconds:g}s.flac", job_seconds)
        long_clip = (
            build_recording(dep.base / f"long-{long_seconds:g}s.flac", long_seconds)
            if long_seconds > 0
            else None
        )
        log(f"recordings built: {job_seconds:g} s clip, long {long_seconds:g} s")
        batches: list[PhaseResult] = []
        longs: list[PhaseResult] = []
        for n in counts:
            # The concurrent one-minute jobs are never split: each is one job for one worker.
            batches.append(
                _phase(
                    dep,
                    workers=n,
                    recordings=[(clip, job_seconds)] * jobs,
                    split_seconds=0,
                    options=options,
                    timeout_s=timeout_s,
                    log=log,
                )
            )
            if long_clip is not None:
                longs.append(
                    _phase(
                        dep,
                        workers=n,
                        recordings=[(long_clip, long_seconds)],
                        split_seconds=split_seconds,
                        options=options,
                        timeout_s=timeout_s,
                        log=log,
                    )
                )
    by_workers = {p.workers: p for p in batches}
    long_by = {p.workers: p for p in longs}
    data: dict[str, Any] = {
        "mode": "embedded" if embedded else "distributed",
        "jobs": jobs,
        "job_seconds": job_seconds,
        "long_seconds": long_seconds,
        "split_seconds": split_seconds,
        "diarize": diarize,
        "cpu_count": os.cpu_count(),
        "throughput": [p.to_dict() for p in batches],
        "long": [p.to_dict() for p in longs],
        "ratios": {
            "throughput_2_over_1": ratio(
                by_workers[2].throughput if 2 in by_workers else None, by_workers[1].throughput
            ),
            "long_speedup_2_over_1": ratio(
                long_by[1].wall_s if 1 in long_by else None, long_by[2].wall_s if 2 in long_by else None
            ),
        },
    }
    return ServiceReport(service_tables(data), data)
