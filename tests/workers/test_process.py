"""process_job and the in-process dispatcher, embedded mode: SQLite and a local folder, real models."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.workers.helpers import JFK, check_transcript, load, upload_job
from verbatim.jobs.service import open_service
from verbatim.ops.db import User, claim_job
from verbatim.ops.settings import Settings, get_settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.workers.dispatch import InProcessDispatcher, make_dispatcher
from verbatim.workers.process import ProcessOptions, process_job

pytestmark = pytest.mark.models


@pytest.fixture
def settings() -> Settings:
    return get_settings()


def test_a_job_runs_once_to_success(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    owner: User,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    original = JFK.read_bytes()
    job_id = upload_job(sessions, store, owner, original)
    caplog.set_level(logging.INFO, logger="verbatim.worker")

    status = process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w1")

    assert status == "succeeded"
    job, artifacts = load(sessions, job_id)
    assert (job.status, job.progress, job.attempts, job.error) == ("succeeded", 1.0, 1, None)
    assert job.language == "en"
    assert job.duration == pytest.approx(11.0, abs=0.1)
    assert job.models and "asr" in job.models
    doc = check_transcript(store, job_id, artifacts)
    assert doc["audio"]["sha256"] == hashlib.sha256(original).hexdigest()
    assert doc["audio"]["filename"] == "audition Mme Dupont.flac"
    assert store.get_bytes(f"jobs/{job_id}/original") == original  # never modified
    assert job_id in caplog.text
    assert "Dupont" not in caplog.text and "Americans" not in caplog.text  # no personal data, no text

    # Idempotent: a second delivery of the same job changes nothing.
    before = store.stat(f"jobs/{job_id}/transcript.json")
    assert (
        process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w2") == "succeeded"
    )
    job2, artifacts2 = load(sessions, job_id)
    assert (job2.attempts, job2.worker_id, job2.finished_at) == (1, "w1", job.finished_at)
    assert len(artifacts2) == 1
    assert store.stat(f"jobs/{job_id}/transcript.json") == before


def test_progress_is_reported_while_running(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    job_id = upload_job(sessions, store, owner, JFK.read_bytes())
    seen: list[float] = []
    stages: list[str | None] = []  # the job row's stage after each write

    import verbatim.workers.process as process_module

    original_set_progress = process_module.set_progress

    def recording_set_progress(session: Session, **kwargs: object) -> bool:
        seen.append(float(kwargs["progress"]))  # type: ignore[arg-type]
        held = original_set_progress(session, **kwargs)  # type: ignore[arg-type]
        stages.append(load(sessions, job_id)[0].stage)
        return held

    mp = pytest.MonkeyPatch()
    mp.setattr(process_module, "set_progress", recording_set_progress)
    try:
        options = ProcessOptions(progress_interval=0.0)
        assert (
            process_job(
                job_id, settings=settings, sessions=sessions, store=store, worker_id="w", options=options
            )
            == "succeeded"
        )
    finally:
        mp.undo()
    assert seen and seen == sorted(seen)
    assert 0.5 < seen[-1] <= 1.0
    # the stage moves forward through its values (each named once, in the pipeline's order)
    from verbatim.pipeline.progress import STAGES

    moves = [s for n, s in enumerate(stages) if s is not None and (n == 0 or stages[n - 1] != s)]
    assert moves[:2] == ["decode", "transcribe"], stages
    assert moves == sorted(moves, key=STAGES.index) and len(set(moves)) == len(moves), stages
    job = load(sessions, job_id)[0]
    assert job.progress == 1.0 and job.stage is None  # finished: nothing at work


def test_a_corrupt_upload_fails_with_an_actionable_error(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    job_id = upload_job(sessions, store, owner, b"this is not audio at all" * 100, filename="secret name.mp3")

    status = process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w1")

    assert status == "failed"
    job, artifacts = load(sessions, job_id)
    assert job.status == "failed" and artifacts == []
    assert job.error and "not a readable audio or video file" in job.error
    assert "secret" not in job.error and "/tmp" not in job.error
    assert not store.exists(f"jobs/{job_id}/transcript.json")
    assert store.exists(f"jobs/{job_id}/original")


def test_bad_options_and_a_tampered_original_fail_the_job(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    bad = upload_job(sessions, store, owner, JFK.read_bytes(), options={"language": "klingon"})
    assert process_job(bad, settings=settings, sessions=sessions, store=store, worker_id="w") == "failed"
    assert "language" in (load(sessions, bad)[0].error or "")

    tampered = upload_job(sessions, store, owner, JFK.read_bytes())
    store.put_bytes(f"jobs/{tampered}/original", JFK.read_bytes()[:-10])
    assert process_job(tampered, settings=settings, sessions=sessions, store=store, worker_id="w") == "failed"
    assert "SHA-256" in (load(sessions, tampered)[0].error or "")


def test_an_unexpected_error_fails_the_job_with_a_reference_and_is_raised(
    sessions: sessionmaker[Session],
    store: LocalObjectStore,
    owner: User,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    job_id = upload_job(sessions, store, owner, JFK.read_bytes())

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("verbatim.jobs.stages.build_pipeline", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w")
    job, _ = load(sessions, job_id)
    assert job.status == "failed"
    assert job.error and job.error.startswith("internal error (reference ")
    reference = job.error.removeprefix("internal error (reference ").rstrip(")")
    assert reference in caplog.text and job_id in caplog.text


def test_a_job_held_by_a_live_worker_is_left_alone(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    job_id = upload_job(sessions, store, owner, JFK.read_bytes())
    with sessions() as session:
        assert claim_job(session, job_id=job_id, worker_id="other")
    assert process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="me") == "running"
    assert load(sessions, job_id)[0].worker_id == "other"


def test_in_process_dispatcher_runs_submitted_and_left_over_jobs(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    left_over = upload_job(sessions, store, owner, JFK.read_bytes())  # queued before the "restart"
    dispatcher = InProcessDispatcher(settings, sessions=sessions, store=store)
    try:
        submitted = upload_job(sessions, store, owner, JFK.read_bytes())
        dispatcher.submit(submitted)
        started = time.monotonic()
        dispatcher.join()
        assert time.monotonic() - started < 180
    finally:
        dispatcher.close()
    for job_id in (left_over, submitted):
        job, artifacts = load(sessions, job_id)
        assert job.status == "succeeded", job.error
        check_transcript(store, job_id, artifacts)


def test_make_dispatcher_without_a_broker_is_in_process_on_the_services_parts(tmp_path: Path) -> None:
    """The in-process worker runs on the service's own sessions and store (one engine, one store)."""
    settings = Settings(home=tmp_path / "home", models_dir=tmp_path / "models")
    service = open_service(settings, migrate=True)
    dispatcher = make_dispatcher(service)
    try:
        assert isinstance(dispatcher, InProcessDispatcher)
        assert dispatcher._sessions is service.sessions and dispatcher._store is service.store
    finally:
        dispatcher.close()
        service.close()


def test_a_job_names_its_units_enrolled_voice_and_audits_the_match(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    from verbatim.jobs.stages import get_diarizer
    from verbatim.jobs.voices import enrol_voice
    from verbatim.ops.audit import query

    embedding = get_diarizer(settings).embedding
    with sessions() as session:
        mine = enrol_voice(
            session, settings, embedding, unit="brigade-1", name="Kennedy", role="Enquêteur", recordings=[JFK]
        )
        theirs = enrol_voice(session, settings, embedding, unit="brigade-2", name="Other", recordings=[JFK])
        session.commit()
    job_id = upload_job(sessions, store, owner, JFK.read_bytes(), options={"language": "en", "diarize": True})

    assert (
        process_job(job_id, settings=settings, sessions=sessions, store=store, worker_id="w1") == "succeeded"
    )

    _job, artifacts = load(sessions, job_id)
    doc = check_transcript(store, job_id, artifacts)
    named = [s for s in doc["speakers"] if "voice" in s]
    assert [(s["name"], s["voice"]["id"]) for s in named] == [
        ("Enquêteur Kennedy", mine.id)
    ]  # not brigade-2's
    with sessions() as session:
        matches = [e for e in query(session, job_id=job_id) if e.detail.startswith("voices match")]
    assert len(matches) == 1 and mine.id in matches[0].detail and theirs.id not in matches[0].detail
    assert matches[0].unit == "brigade-1" and "Kennedy" not in matches[0].detail


def test_the_in_process_dispatcher_enrols_voices_left_pending_and_deletes_their_recordings(
    sessions: sessionmaker[Session], store: LocalObjectStore, owner: User, settings: Settings
) -> None:
    """Two voices accepted before a "restart": one with its recording (made ready), one whose recording is
    gone (failed); neither leaves an object behind, and only the ready one names speakers."""
    from verbatim.jobs.voices import create_pending_voice, unit_voices, voice_upload_prefix
    from verbatim.ops.db import VoiceRecord

    with sessions() as session:
        ok = create_pending_voice(session, settings, unit="brigade-1", name="Kennedy", role=None, by=owner)
        lost = create_pending_voice(session, settings, unit="brigade-1", name="Other", role=None, by=owner)
    store.put_bytes(f"{voice_upload_prefix(ok.id)}recording-1.flac", JFK.read_bytes())
    with sessions() as session:
        assert unit_voices(session, settings, unit="brigade-1") == ()  # pending: names nobody
    dispatcher = InProcessDispatcher(settings, sessions=sessions, store=store)
    try:
        dispatcher.join()
    finally:
        dispatcher.close()
    with sessions() as session:
        rows = {r.id: (r.status, r.error) for r in session.query(VoiceRecord)}
        assert rows == {ok.id: ("ready", None), lost.id: ("failed", "internal")}
        assert [v.id for v in unit_voices(session, settings, unit="brigade-1")] == [ok.id]
    assert store.list("voices/") == []
