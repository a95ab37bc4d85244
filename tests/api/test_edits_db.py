"""Corrections and search on both databases (SQLite and the real PostgreSQL), including concurrent edits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from verbatim.jobs.documents import (
    REVISION_KIND,
    WordEdit,
    edit_words,
    load_current,
    rename_speakers,
)
from verbatim.jobs.search import job_filters
from verbatim.ops.accounts import create_user
from verbatim.ops.db import Artifact, Job, TranscriptEdit, User, create_job, session_factory
from verbatim.ops.db.testing import migrated_engine
from verbatim.ops.storage import LocalObjectStore

WORDS = 40


def _document() -> dict[str, Any]:
    words = [
        {"start": i * 0.5, "end": i * 0.5 + 0.4, "text": f"mot{i}", "probability": 0.9} for i in range(WORDS)
    ]
    return {
        "schema": "verbatim.transcript/1",
        "audio": {"sha256": "cd" * 32, "duration": WORDS * 0.5, "filename": "x.wav"},
        "language": "fr",
        "speakers": [{"id": "S1", "name": "S1"}],
        "segments": [
            {"id": 0, "start": 0.0, "end": WORDS * 0.5, "speaker": "S1", "language": "fr",
             "text": " ".join(w["text"] for w in words), "words": words},
        ],
    }  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], Any, str]]:
    with migrated_engine(request.param, tmp_path) as engine:
        sessions = session_factory(engine)
        store = LocalObjectStore(tmp_path / "objects")
        with sessions() as session:
            user, _ = create_user(session, name="greffiere", role="clerk", unit="tj-paris")
            job = create_job(
                session, owner=user, options={}, filename=None, audio_sha256=None, audio_size=None,
                object_key=None,
            )  # fmt: skip
            data = (json.dumps(_document(), indent=2) + "\n").encode()
            stored = store.put_bytes(f"jobs/{job.id}/transcript.json", data)
            session.add(
                Artifact(job_id=job.id, kind="transcript", object_key=stored.key, sha256="0" * 64, size=1)
            )
            job.status = "succeeded"
            job.language = "fr"
            session.commit()
            job_id = job.id
        yield sessions, store, job_id


def _load(session: Session, job_id: str) -> tuple[Job, User]:
    job = session.get(Job, job_id)
    user = session.scalars(select(User)).one()
    assert job is not None
    return job, user


def test_concurrent_corrections_all_end_up_in_the_revision(world: tuple[Any, Any, str]) -> None:
    sessions, store, job_id = world
    errors: list[BaseException] = []

    def correct(index: int) -> None:
        try:
            with sessions() as session:
                job, user = _load(session, job_id)
                edit_words(
                    session,
                    store,
                    job=job,
                    user=user,
                    edits=[WordEdit(0, index, f"mot{index}", f"fixed{index}")],
                )
        except BaseException as e:  # collected: a thread's exception would otherwise be lost
            errors.append(e)

    threads = [threading.Thread(target=correct, args=(i,)) for i in range(0, 16, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with sessions() as session:
        job, _ = _load(session, job_id)
        doc = json.loads(load_current(store, job))
        texts = [w["text"] for w in doc["segments"][0]["words"]]
        assert [texts[i] for i in range(0, 16, 2)] == [f"fixed{i}" for i in range(0, 16, 2)]
        assert doc["revision"]["edits"] == 8
        rows = session.scalars(select(TranscriptEdit).order_by(TranscriptEdit.id)).all()
        assert len(rows) == 8
        artifact = next(a for a in job.artifacts if a.kind == REVISION_KIND)
        # The artefact names the revision with every edit: the last edit's hash.
        assert artifact.sha256 == rows[-1].revision_sha256


def test_search_and_filters_on_this_database(world: tuple[Any, Any, str]) -> None:
    sessions, store, job_id = world
    with sessions() as session:
        job, user = _load(session, job_id)
        rename_speakers(session, store, job=job, user=user, names={"S1": "Présidente"})
        for query, found in (("presidente", True), ("MOT7", True), ("100%_x", False), ("mot99", False)):
            filters, note = job_filters(
                session, store, user=user, q=query, language="fr", since=None, until=None
            )
            ids = set(session.scalars(select(Job.id).where(*filters)))
            assert (job_id in ids) is found, query
            assert note == " filters=language+search"
