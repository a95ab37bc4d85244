"""A long recording split into parts (embedded: SQLite, local folder, real models): same words and speakers
as a single pass, and the parts kept in the store."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.workers.helpers import DATA, load, make_owner, upload_job
from verbatim.jobs.layout import chunk_key
from verbatim.ops.db import session_factory
from verbatim.ops.db.testing import migrated_engine
from verbatim.ops.settings import Settings, WorkerSettings, get_settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.pipeline.decode import decode
from verbatim.workers.process import process_job

pytestmark = pytest.mark.models


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_engine("sqlite", tmp_path) as engine:
        yield session_factory(engine)


def _long_recording(path: Path) -> bytes:
    """JFK (11 s), 1 s of silence, Quilter (another man, 6 s), 4 s of silence, JFK again: 33 s, 16-bit WAV.

    Cut every 12 s, each passage is one part: the parts must agree on who is who."""
    import soundfile as sf

    jfk = decode(DATA / "jfk.flac").samples
    quilter = decode(DATA / "picovoice_test_en.wav").samples
    gap = np.zeros(16000, np.float32)
    samples = np.concatenate([jfk, gap, quilter, np.zeros(4 * 16000, np.float32), jfk])
    sf.write(str(path), samples, 16000, subtype="PCM_16")
    return path.read_bytes()


def _speakers_by_passage(doc: dict[str, object]) -> dict[str, set[str]]:
    by: dict[str, set[str]] = {"jfk": set(), "quilter": set()}
    for segment in doc["segments"]:  # type: ignore[attr-defined]
        text = segment["text"].lower()
        if "fellow americans" in text or "your country" in text:
            by["jfk"].add(segment["speaker"])
        if "quilter" in text:
            by["quilter"].add(segment["speaker"])
    return by


def _run(
    sessions: sessionmaker[Session], store: LocalObjectStore, data: bytes, split: float
) -> tuple[str, dict[str, object]]:
    settings: Settings = get_settings().model_copy(update={"worker": WorkerSettings(split_seconds=split)})
    job_id = upload_job(sessions, store, make_owner(sessions, f"u{split}"), data, options={"language": "en"})
    assert (
        process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w") == "succeeded"
    )
    job, artifacts = load(sessions, job_id)
    assert artifacts[0].kind == "transcript"
    if split == 0:
        assert len(artifacts) == 1
    else:  # every stored part is listed in the custody manifest with its hash; leases are gone
        parts = artifacts[1:]
        expected = [
            f"{kind}-{n}" for n in range(len(parts) // 2) for kind in ("chunk-audio", "chunk-transcript")
        ]
        assert sorted(a.kind for a in parts) == sorted(expected) and parts
        assert not [k for k in store.list(f"jobs/{job_id}/chunks/") if k.endswith(".lease")]
        for part in parts:
            assert hashlib.sha256(store.get_bytes(part.object_key)).hexdigest() == part.sha256
    doc: dict[str, object] = json.loads(store.get_bytes(f"jobs/{job_id}/transcript.json"))
    assert job.duration == pytest.approx(32.9, abs=0.5)
    return job_id, doc


def test_a_long_recording_is_split_and_merged(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    data = _long_recording(tmp_path / "long.wav")

    single_id, single = _run(sessions, store, data, 0)  # never split
    split_id, split = _run(sessions, store, data, 12)

    assert not store.list(f"jobs/{single_id}/chunks/")
    keys = store.list(f"jobs/{split_id}/chunks/")
    count = len([k for k in keys if k.endswith(".json")])
    assert count == 3
    for n in range(count):
        assert store.exists(chunk_key(split_id, n, "wav"))
        assert store.exists(chunk_key(split_id, n, "json"))

    # same form as a single pass: same keys, same speakers, same words (give or take a cut)
    assert set(split) == set(single)
    assert split["audio"]["sha256"] == single["audio"]["sha256"]  # type: ignore[index]
    assert [s["id"] for s in split["speakers"]] == ["S1", "S2"]  # type: ignore[attr-defined]
    for doc in (single, split):
        by = _speakers_by_passage(doc)
        assert len(by["jfk"]) == 1, "both JFK passages must be one speaker"
        assert len(by["quilter"]) == 1 and by["jfk"].isdisjoint(by["quilter"])
        for segment in doc["segments"]:  # type: ignore[attr-defined]
            assert {w.get("speaker", segment["speaker"]) for w in segment["words"]} == {segment["speaker"]}
    words = [
        [w["text"].strip(" .,").lower() for s in d["segments"] for w in s["words"]] for d in (single, split)
    ]  # type: ignore[attr-defined]
    common = len(set(words[0]) & set(words[1])) / len(set(words[0]))
    assert common > 0.9, (words[0], words[1])
