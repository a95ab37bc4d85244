"""`verbatim bench`: benchmarks run on demand (never in the test suite).

``verbatim bench`` alone runs the core benchmark (:mod:`verbatim.bench.core`); each further suite adds a
subcommand here and a module of its own. Tables go to stdout, progress to stderr, all figures to a JSON file.
Nothing heavy is imported until a benchmark runs.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from verbatim.bench.common import BenchError, default_json_path, resolve_data_dir, write_json

__all__ = ["bench_app"]

bench_app = typer.Typer(
    help="Benchmarks (run on demand, never in tests). Without a subcommand: the core benchmark.",
    invoke_without_command=True,
)


def _log(message: str) -> None:
    typer.echo(f"[bench] {message}", err=True)


def _fail(message: str) -> NoReturn:
    typer.echo(f"verbatim bench: error: {message}", err=True)
    raise typer.Exit(1)


def _emit(
    suite: str, tables: list[str], figures: dict[str, Any], started: float, json_out: Path | None
) -> None:
    """Write a suite's figures as JSON (``schema``, ``created``, ``wall_s`` first) and print its tables."""
    wall = time.perf_counter() - started
    out = json_out or default_json_path(suite)
    document = {
        "schema": f"verbatim.bench.{suite}/1",
        "created": datetime.now().isoformat(timespec="seconds"),
        "wall_s": wall,
        **figures,
    }
    write_json(out, document)
    typer.echo("\n\n".join(tables))
    typer.echo(f"\nwall time {wall:.0f} s; figures written to {out}")


@bench_app.callback()
def core(
    ctx: typer.Context,
    data: Annotated[
        Path | None,
        typer.Option(
            envvar="VERBATIM_BENCH_DATA",
            help="Evaluation data folder (default: ../shared/data from here, else from the repository).",
        ),
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option(
            help="JSON list of {path, language, reference | rttm, uem} instead of the default sets."
        ),
    ] = None,
    sets: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated sets (default: fr,fr-spontaneous,fr-phone,en,multi-speaker,silence)."
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N clips per set.")] = None,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/core-<time>.json)."),
    ] = None,
    long: Annotated[
        float | None,
        typer.Option(
            min=10.0,
            help="Instead of the clip sets: run the full pipeline on a recording of this "
            "many seconds (and of a quarter of it) built from the fr/en clips.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the long recording's clip order and pauses.")] = 0,
    interleave: Annotated[
        bool,
        typer.Option(
            help="Run ours (diarisation on) and plain faster-whisper in one process, clip by clip, so the "
            "machine's load weighs on both alike (wall-time ratio, seconds per stage); the multi-speaker "
            "recordings are transcribed by both too. Peak RSS is then the two together."
        ),
    ] = False,
) -> None:
    """Core benchmark: our pipeline vs plain faster-whisper (WER, RTF, memory); diariser vs senko (DER)."""
    if ctx.invoked_subcommand is not None:
        return
    from verbatim.bench.core import run_core, run_long
    from verbatim.bench.manifest import DEFAULT_SETS, default_clips, limit_per_set, load_manifest

    started = time.perf_counter()
    wanted = [s.strip() for s in sets.split(",") if s.strip()] if sets else None
    try:
        if manifest is not None:
            clips = load_manifest(manifest)
            if wanted:
                clips = [c for c in clips if c.set in wanted]
        else:
            data_dir = resolve_data_dir(data)
            _log(f"data: {data_dir}")
            if long is not None and wanted is None:
                wanted = ["fr", "en"]
            clips = default_clips(data_dir, wanted or DEFAULT_SETS)
        clips = limit_per_set(clips, limit)
        if not clips:
            raise BenchError("no clip left after --sets / --limit")
        if long is not None:
            long_report = run_long(clips, long, seed=seed, log=_log)
            tables, figures, suite = long_report.tables, long_report.data, "long"
        else:
            core_report = run_core(clips, log=_log, interleave=interleave)
            tables, figures, suite = core_report.tables, core_report.data, "core"
    except BenchError as e:
        _fail(str(e))
    _emit(suite, tables, figures, started, json_out)


@bench_app.command("service")
def service(
    jobs: Annotated[int, typer.Option(min=1, help="Concurrent one-minute jobs per worker count.")] = 4,
    job_seconds: Annotated[float, typer.Option(min=5.0, help="Length of each concurrent job.")] = 60.0,
    long_seconds: Annotated[
        float, typer.Option(min=0.0, help="Length of the long recording split across workers (0: skip).")
    ] = 240.0,
    split_seconds: Annotated[float, typer.Option(min=5.0, help="Split length of the long recording.")] = 60.0,
    embedded: Annotated[
        bool, typer.Option(help="The embedded deployment (in-process worker, SQLite): one worker only.")
    ] = False,
    redis_url: Annotated[
        str, typer.Option(help="Redis broker on loopback (a per-run key prefix is added).")
    ] = "redis://127.0.0.1:6379/12",
    database_url: Annotated[
        str | None,
        typer.Option(help="PostgreSQL URL (default: a temporary schema on the local test server)."),
    ] = None,
    diarize: Annotated[bool, typer.Option(help="Jobs with speaker diarisation.")] = True,
    timeout: Annotated[float, typer.Option(min=10.0, help="Seconds allowed to each phase.")] = 3600.0,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/service-<time>.json)."),
    ] = None,
) -> None:
    """Service: concurrent-job throughput with 1 and 2 workers, API p95 latency, long-recording speed-up."""
    from verbatim.bench.service import run_service

    started = time.perf_counter()
    try:
        report = run_service(
            jobs=jobs,
            job_seconds=job_seconds,
            long_seconds=long_seconds,
            split_seconds=split_seconds,
            embedded=embedded,
            redis_url=redis_url,
            database_url=database_url,
            diarize=diarize,
            timeout_s=timeout,
            log=_log,
        )
    except BenchError as e:
        _fail(str(e))
    _emit("service", report.tables, report.data, started, json_out)


@bench_app.command("load")
def load(
    clients: Annotated[int, typer.Option(min=1, max=1000, help="Concurrent clients.")] = 200,
    seconds: Annotated[float, typer.Option(min=1.0, max=600.0, help="How long they send requests.")] = 60.0,
    database_url: Annotated[
        str | None, typer.Option(help="PostgreSQL URL (default: the embedded SQLite database).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the clients' choices.")] = 0,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/load-<time>.json)."),
    ] = None,
) -> None:
    """Load: N concurrent clients on loopback for a bounded time; p50/p95, no 5xx, no lost job."""
    import tempfile

    from verbatim.bench.load import run_load

    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="verbatim-load-") as workdir:
            report = run_load(
                clients=clients,
                seconds=seconds,
                database_url=database_url,
                workdir=Path(workdir),
                seed=seed,
                log=_log,
            )
    except BenchError as e:
        _fail(str(e))
    _emit("load", report.tables, report.data, started, json_out)
    if report.data["server_errors"] or report.data["jobs_lost"]:
        _fail(f"{report.data['server_errors']} server errors, {report.data['jobs_lost']} jobs lost")


@bench_app.command("anonymize")
def anonymize(
    data: Annotated[
        Path | None,
        typer.Option(envvar="VERBATIM_BENCH_DATA", help="Evaluation data folder (default: ../shared/data)."),
    ] = None,
    split: Annotated[
        str, typer.Option(help="ECHR split to score: dev (default); train served to design heuristics.")
    ] = "dev",
    systems: Annotated[
        str, typer.Option(help="Comma-separated: verbatim, spacy (NER alone), presidio (French config).")
    ] = "verbatim,spacy,presidio",
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/anonymize-<time>.json)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated hearings.")] = 0,
) -> None:
    """Pseudonymisation detection: token recall/precision per category, ours vs spaCy alone vs Presidio."""
    from verbatim.bench.anonymize import run_anonymize

    started = time.perf_counter()
    try:
        data_dir = resolve_data_dir(data)
        _log(f"data: {data_dir}")
        report = run_anonymize(
            data_dir,
            split=split,
            systems=[s.strip() for s in systems.split(",") if s.strip()],
            log=_log,
            seed=seed,
        )
    except BenchError as e:
        _fail(str(e))
    _emit("anonymize", report.tables, report.data, started, json_out)


@bench_app.command("translate")
def translate(
    data: Annotated[
        Path | None,
        typer.Option(envvar="VERBATIM_BENCH_DATA", help="Evaluation data folder (default: ../shared/data)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most N FLEURS clips per language.")] = None,
    beam_size: Annotated[int, typer.Option(min=1, help="Beam width of both systems.")] = 5,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/translate-<time>.json)."),
    ] = None,
) -> None:
    """Speech translation into English (BLEU, chrF) and per-segment language identification, ours vs plain
    faster-whisper; cost of the identification on monolingual clips."""
    from verbatim.bench.translate import run_translate

    started = time.perf_counter()
    try:
        report = run_translate(resolve_data_dir(data), limit=limit, beam_size=beam_size, log=_log)
    except BenchError as e:
        _fail(str(e))
    _emit("translate", report.tables, report.data, started, json_out)


def _speaker_range(text: str) -> tuple[int, int]:
    """``"MIN-MAX"`` (or one number) -> (min, max), 1 <= min <= max <= 7."""
    found = re.fullmatch(r"\s*(\d+)(?:-(\d+))?\s*", text)
    if found is None:
        raise BenchError(f"--speakers must be MIN-MAX, such as 1-2, got {text!r}")
    bounds = (int(found[1]), int(found[2] or found[1]))
    if not 1 <= bounds[0] <= bounds[1] <= 7:
        raise BenchError(f"--speakers must lie within 1-7 with MIN <= MAX, got {text!r}")
    return bounds


@bench_app.command("diarization")
def diarization(
    data: Annotated[
        Path | None,
        typer.Option(envvar="VERBATIM_BENCH_DATA", help="Evaluation data folder (default: ../shared/data)."),
    ] = None,
    simulated: Annotated[
        int,
        typer.Option(min=0, help="Simulated conversations built from the data's voices."),
    ] = 30,
    seed: Annotated[int, typer.Option(help="Seed of the simulated conversations.")] = 1,
    speakers: Annotated[
        str,
        typer.Option(
            help="Speakers per simulated conversation, drawn uniformly in MIN-MAX (1-2: calls and "
            "interviews; 1-7 by default)."
        ),
    ] = "1-7",
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/diarization-<time>.json)."),
    ] = None,
) -> None:
    """Who spoke: DER and speaker count on the real multi-speaker recordings and simulated conversations,
    without hints, given the true count, and leaving each recording out of the threshold choice."""
    from verbatim.bench.diarization import run_diarization

    started = time.perf_counter()
    try:
        tables, figures = run_diarization(
            resolve_data_dir(data),
            simulated=simulated,
            seed=seed,
            log=_log,
            speakers=_speaker_range(speakers),
        )
    except BenchError as e:
        _fail(str(e))
    _emit("diarization", tables, figures, started, json_out)


@bench_app.command("voices")
def voices(
    data: Annotated[
        Path | None,
        typer.Option(envvar="VERBATIM_BENCH_DATA", help="Evaluation data folder (default: ../shared/data)."),
    ] = None,
    count: Annotated[int, typer.Option(min=1, help="Simulated conversations per seed.")] = 30,
    tune_seed: Annotated[
        int, typer.Option(help="Seed of the conversations the constants are chosen on.")
    ] = 11,
    test_seed: Annotated[int, typer.Option(help="Seed of the held-out conversations.")] = 12,
    json_out: Annotated[
        Path | None,
        typer.Option(help="Where to write all figures (default: bench-results/voices-<time>.json)."),
    ] = None,
    rescore: Annotated[
        Path | None,
        typer.Option(help="Score again the clusters of an earlier run's JSON (no diarisation)."),
    ] = None,
) -> None:
    """Known voices: correct names on enrolled speakers and false matches (enrolled voices absent), on
    simulated conversations; constants chosen on one seed, reported on another and leaving one out."""
    from verbatim.bench.voices import run_voices

    started = time.perf_counter()
    try:
        tables, figures = run_voices(
            resolve_data_dir(data) if rescore is None else Path("."),
            count=count,
            tune_seed=tune_seed,
            test_seed=test_seed,
            log=_log,
            rescore=rescore,
        )
    except BenchError as e:
        _fail(str(e))
    _emit("voices", tables, figures, started, json_out)
