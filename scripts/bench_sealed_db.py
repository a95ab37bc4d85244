"""Cost of the database's encryption at rest (issue 15): a job's search-index write and the search latency,
without (clear text, LIKE) and with sealed columns (keyed trigrams, confirmed by decryption).

Transcripts are made of the French FLORES sentences of tests/data (about an hour of speech each: 9,000 words
in 600 segments of 3 speakers), shuffled per job; a rare name is put in 3 jobs.

    PYTHONPATH=. .venv/bin/python scripts/bench_sealed_db.py [--jobs 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from verbatim.jobs.documents import index_document
from verbatim.jobs.search import search_filter
from verbatim.ops import accounts
from verbatim.ops.db import (
    TRIGRAM_INDEX,
    Job,
    TranscriptTrigram,
    create_job,
    make_engine,
    session_factory,
    upgrade,
)
from verbatim.ops.db.sealed import attach_keyring
from verbatim.ops.db.testing import temporary_postgres_schema
from verbatim.ops.keys import init_keyring

SENTENCES = (Path(__file__).parent.parent / "tests/data/flores200_dev_excerpt.fra").read_text().splitlines()
WORDS_PER_JOB = 9000


def _doc(rng: random.Random, rare: bool) -> dict[str, Any]:
    words: list[str] = []
    while len(words) < WORDS_PER_JOB:
        words.extend(rng.choice(SENTENCES).split())
    if rare:
        words.insert(rng.randrange(len(words)), "Zéphyrine")
    segments = [
        {"id": i, "speaker": f"S{i % 3 + 1}", "text": " ".join(words[j : j + 15])}
        for i, j in enumerate(range(0, len(words), 15))
    ]
    return {"segments": segments, "speakers": [{"id": f"S{k}", "name": None} for k in (1, 2, 3)]}


def _run(engine: Engine, sealed: bool, jobs: int, tmp: Path) -> dict[str, float]:
    attach_keyring(engine, init_keyring(tmp / f"ring-{time.monotonic_ns()}.json") if sealed else None)
    factory = session_factory(engine)
    rng = random.Random(7)
    writes: list[float] = []
    with factory() as session:
        owner, _ = accounts.create_user(
            session, name=f"u{time.monotonic_ns()}", role="investigator", unit="b"
        )
        for n in range(jobs):
            job = create_job(
                session, owner=owner, options={"language": "fr", "hide": ["Jean Dupont"]},
                filename=f"audition-{n}.wav", audio_sha256="a" * 64, audio_size=1, object_key=f"jobs/{n}/o",
            )  # fmt: skip
            job.status = "succeeded"
            session.commit()
            doc = _doc(rng, rare=n in (3, 50, 97))
            started = time.perf_counter()
            index_document(session, job, doc)
            session.commit()
            writes.append(time.perf_counter() - started)
        rows = session.scalar(select(func.count()).select_from(TranscriptTrigram)) or 0
        # a correction: one word of the last job changed, the job indexed again
        doc["segments"][5]["text"] = "Quetzalcoatl " + doc["segments"][5]["text"]
        started = time.perf_counter()
        index_document(session, job, doc)
        session.commit()
        correction = time.perf_counter() - started
    out = {
        "write_median_ms": statistics.median(writes) * 1000,
        "write_max_ms": max(writes) * 1000,
        "trigram_rows_per_job": rows / jobs,
        "correction_reindex_ms": correction * 1000,
    }
    for label, query in (
        ("rare", "zephyrine"),
        ("phrase", "des scientifiques"),
        ("short", "de"),
        ("none", "qwxzy"),
    ):
        times = []
        for _ in range(5):
            with factory() as session:
                started = time.perf_counter()
                found = list(
                    session.scalars(select(Job.id).where(search_filter(query, unit="b", session=session)))
                )
                times.append(time.perf_counter() - started)
        out[f"search_{label}_ms"] = statistics.median(times) * 1000
        out[f"search_{label}_hits"] = len(found)
    attach_keyring(engine, None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--postgres", default=None)
    parser.add_argument("--drop-pg-trgm-index", action="store_true", help="without migration 0005's index")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for sealed in (False, True):
            if args.postgres:
                with temporary_postgres_schema(args.postgres) as url:
                    upgrade(url)
                    engine = make_engine(url)
                    if args.drop_pg_trgm_index:
                        with engine.begin() as connection:
                            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
                    result = _run(engine, sealed, args.jobs, tmp)
                    engine.dispose()
            else:
                url = f"sqlite:///{tmp / f'bench-{sealed}.db'}"
                upgrade(url)
                engine = make_engine(url)
                result = _run(engine, sealed, args.jobs, tmp)
                size = (tmp / f"bench-{sealed}.db").stat().st_size
                result["db_mb"] = size / 1e6
                engine.dispose()
            line = {k: round(v, 2) for k, v in result.items()}
            sys.stdout.write(f"{'sealed' if sealed else 'clear '} {line}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
