"""Shared by the worker tests: an owner, and a job uploaded the way the API does it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from verbatim.jobs.layout import ArtifactKind, key_of, original_key
from verbatim.ops.db import Artifact, Job, User, create_job, new_job_id
from verbatim.ops.storage.base import ObjectStore

DATA = Path(__file__).parent.parent / "data"
JFK = DATA / "jfk.flac"
FAST_OPTIONS: dict[str, Any] = {"language": "en", "diarize": False}


def make_owner(sessions: sessionmaker[Session], name: str = "investigator") -> User:
    with sessions() as session:
        user = User(
            name=name,
            role="investigator",
            unit="brigade-1",
            token_hash=hashlib.sha256(name.encode()).hexdigest(),
        )
        session.add(user)
        session.commit()
        return user


def upload_job(
    sessions: sessionmaker[Session],
    store: ObjectStore,
    owner: User,
    data: bytes,
    *,
    options: dict[str, Any] | None = None,
    filename: str = "audition Mme Dupont.flac",
) -> str:
    job_id = new_job_id()
    key = original_key(job_id)
    stored = store.put_bytes(key, data, overwrite=False)
    with sessions() as session:
        create_job(
            session,
            owner=owner,
            options=FAST_OPTIONS if options is None else options,
            filename=filename,
            audio_sha256=hashlib.sha256(data).hexdigest(),
            audio_size=stored.size,
            object_key=key,
            job_id=job_id,
        )
    return job_id


def load(sessions: sessionmaker[Session], job_id: str) -> tuple[Job, list[Artifact]]:
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        artifacts = list(session.query(Artifact).filter(Artifact.job_id == job_id))
        return job, artifacts


def check_transcript(store: ObjectStore, job_id: str, artifacts: list[Artifact]) -> dict[str, Any]:
    """The job has exactly one transcript artefact, matching the stored object; return the JSON."""
    assert [a.kind for a in artifacts] == ["transcript"]
    (artifact,) = artifacts
    assert artifact.object_key == f"jobs/{job_id}/transcript.json"
    data = store.get_bytes(artifact.object_key)
    assert hashlib.sha256(data).hexdigest() == artifact.sha256
    assert len(data) == artifact.size
    doc: dict[str, Any] = json.loads(data)
    text = " ".join(s["text"] for s in doc["segments"])
    assert "fellow Americans" in text
    return doc


def transcript_doc(segments: list[dict[str, Any]], language: str = "fr") -> dict[str, Any]:
    """A transcript JSON document of one speaker around ``segments``."""
    return {
        "schema": "verbatim.transcript/1",
        "audio": {"sha256": "cd" * 32, "duration": 3.0, "filename": "x.wav"},
        "language": language,
        "models": {},
        "speakers": [{"id": "S1", "name": "S1"}],
        "segments": segments,
    }


def succeeded_job(
    sessions: sessionmaker[Session], store: ObjectStore, owner: User, doc: dict[str, Any]
) -> str:
    """A succeeded job whose transcript is ``doc`` (no recording stored, no model run)."""
    with sessions() as session:
        job = create_job(
            session, owner=owner, options={}, filename=None, audio_sha256=None, audio_size=None,
            object_key=None,
        )  # fmt: skip
        key = key_of(job.id, ArtifactKind.TRANSCRIPT)
        stored = store.put_bytes(key, (json.dumps(doc) + "\n").encode())
        session.add(
            Artifact(
                job_id=job.id, kind=ArtifactKind.TRANSCRIPT.value, object_key=key, sha256=stored.sha256,
                size=stored.size,
            )
        )  # fmt: skip
        job.status = "succeeded"
        job.language = str(doc.get("language") or "") or None
        session.commit()
        return job.id
