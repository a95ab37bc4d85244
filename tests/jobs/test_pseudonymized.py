"""Pseudonymised copies after a correction: made again by a task on the workers' queue, never in a read.

The app's dispatcher records what it is handed (no worker): the correction queues the refresh, reads answer
409 "being made again" for the table and the released recording (the transcript view is made from the current
revision), and the worker's task (:func:`refresh_job`, called here as a worker would) makes them again once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import Actor, make_settings
from tests.conftest import tone, write_audio
from tests.services import RecordingDispatcher
from verbatim.api.deps import ServiceState
from verbatim.jobs.layout import ArtifactKind, key_of, original_key
from verbatim.jobs.pseudonymized import refresh_job, store_pseudonymized
from verbatim.jobs.request import parse_request
from verbatim.ops.accounts import create_user
from verbatim.ops.db import ArtifactRecord, claim_job, create_job, finish_job, new_job_id
from verbatim.pipeline.export import render
from verbatim.pipeline.types import Segment, Transcript, Word
from verbatim.server import create_app

WORDS = ("Bonjour,", " il", " est", " venu", " hier", " au", " consulat.")


def _transcript(sha256: str) -> Transcript:
    words = tuple(Word(0.2 + 0.3 * i, 0.45 + 0.3 * i, w, 0.9) for i, w in enumerate(WORDS))
    segment = Segment(0, 0.2, words[-1].end, "".join(WORDS), words)
    return Transcript("fr", 3.0, (segment,), audio_sha256=sha256)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[TestClient, ServiceState, Actor, RecordingDispatcher, str]]:
    """A succeeded job with its pseudonymised copies, made as the worker makes them (no ASR model)."""
    recorder = RecordingDispatcher()
    settings = make_settings(tmp_path / "home")
    with TestClient(create_app(settings, dispatcher=recorder)) as client:
        state: ServiceState = client.app.state.verbatim  # type: ignore[attr-defined]
        with state.sessions() as session:
            actor = Actor(*create_user(session, name="clerk", role="clerk", unit="court-a"))
        recording = write_audio(tmp_path / "hearing.wav", tone(3.0))
        data = recording.read_bytes()
        job_id = new_job_id()
        state.store.put_bytes(original_key(job_id), data, overwrite=False)
        transcript = _transcript(hashlib.sha256(data).hexdigest())
        request = parse_request({"pseudonymize": True, "language": "fr", "diarize": False}, settings)
        with state.sessions() as session:
            create_job(
                session, owner=actor.user, options=request.to_stored(), filename=None,
                audio_sha256=transcript.audio_sha256, audio_size=len(data), object_key=original_key(job_id),
                job_id=job_id,
            )  # fmt: skip
            assert claim_job(session, job_id=job_id, worker_id="w")
        json_doc = render(transcript, "json")
        key = key_of(job_id, ArtifactKind.TRANSCRIPT)
        state.store.put_bytes(key, json_doc, overwrite=True)
        records = [
            ArtifactRecord(ArtifactKind.TRANSCRIPT, key, hashlib.sha256(json_doc).hexdigest(), len(json_doc)),
            *store_pseudonymized(
                state.store,
                job_id,
                transcript,
                policy=request.policy(),
                settings=settings,
                recording=recording,
            ),
        ]
        with state.sessions() as session:
            assert finish_job(session, job_id=job_id, worker_id="w", artifacts=records, language="fr")
        yield client, state, actor, recorder, job_id


def test_a_correction_queues_the_refresh_and_reads_never_make_it(
    app: tuple[TestClient, ServiceState, Actor, RecordingDispatcher, str],
) -> None:
    client, state, actor, recorder, job_id = app
    h = actor.headers
    table = client.get(f"/v1/jobs/{job_id}/pseudonymization-map", headers=h)
    assert table.status_code == 200 and "Julie" not in table.text
    released_before = client.get(f"/v1/jobs/{job_id}/audio/pseudonymized", headers=h).content
    assert recorder.refreshed == []  # fresh copies: nothing to do

    edit = {"segment_id": 0, "word_index": 1, "before": "il", "after": "Julie"}
    assert client.post(f"/v1/jobs/{job_id}/edits", json={"edits": [edit]}, headers=h).status_code == 200
    assert recorder.refreshed == [job_id]  # queued by the correction

    def manifest() -> dict[str, Any]:
        body = client.get(f"/v1/jobs/{job_id}/custody", headers=h).json()
        return {a["kind"]: a["sha256"] for a in body["artifacts"]}

    hashes = manifest()
    for url in (f"/v1/jobs/{job_id}/pseudonymization-map", f"/v1/jobs/{job_id}/audio/pseudonymized"):
        r = client.get(url, headers=h)
        assert r.status_code == 409 and "being made again" in r.json()["error"], r.text
    assert manifest() == hashes  # no read made anything
    # The transcript view follows the correction at once (the text made now; the name replaced).
    view = client.get(f"/v1/jobs/{job_id}/transcript?view=pseudonymized&format=txt", headers=h)
    assert view.status_code == 200 and "Julie" not in view.text and "consulat" in view.text
    assert set(recorder.refreshed) == {job_id}

    # The worker's task, as the in-process or the Celery worker runs it.
    assert (
        refresh_job(job_id, sessions=state.sessions, store=state.store, settings=state.settings)
        == "refreshed"
    )
    assert refresh_job(job_id, sessions=state.sessions, store=state.store, settings=state.settings) == "fresh"
    table = client.get(f"/v1/jobs/{job_id}/pseudonymization-map", headers=h)
    assert table.status_code == 200 and "Julie" in json.dumps(table.json(), ensure_ascii=False)
    released = client.get(f"/v1/jobs/{job_id}/audio/pseudonymized", headers=h)
    assert released.status_code == 200 and released.content != released_before
    after = manifest()
    assert after[ArtifactKind.AUDIO_PSEUDONYMIZED] == hashlib.sha256(released.content).hexdigest()
    assert after[ArtifactKind.PSEUDONYMIZATION_MAP] != hashes[ArtifactKind.PSEUDONYMIZATION_MAP]
