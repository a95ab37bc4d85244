"""Sealed database columns and the keyed trigram search (issue 15), on SQLite and PostgreSQL: rows written
in clear are sealed by the idempotent upgrade, read back unchanged, found by a search without clear text,
re-sealed by a rotation, and a deleted job leaves no index row."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from verbatim.jobs.documents import index_document
from verbatim.jobs.search import search_filter
from verbatim.ops import accounts
from verbatim.ops.db import (
    Job,
    TranscriptEdit,
    TranscriptSearch,
    TranscriptTrigram,
    create_job,
    session_factory,
)
from verbatim.ops.db.sealed import PREFIX, SealError, attach_keyring, key_id_of, seal_rows
from verbatim.ops.keys import Keyring, init_keyring, new_key_id

NAME = "Audition-Zorglub.wav"
SECRET_WORDS = "le témoin Quetzalcoatl a vu la voiture"


def _raw(engine: Engine) -> str:
    """Every sealed column's stored text, as the database holds it."""
    with engine.connect() as connection:
        rows = [
            *connection.execute(
                text("SELECT filename, CAST(options AS TEXT), legal_hold_reference FROM jobs")
            ),
            *connection.execute(text("SELECT speaker, before, after FROM transcript_edits")),
            *connection.execute(text("SELECT text FROM transcript_search")),
        ]
    return " ".join(str(v) for row in rows for v in row)


def _fill(engine: Engine) -> str:
    factory = session_factory(engine)
    with factory() as session:
        owner, _ = accounts.create_user(session, name="ines", role="investigator", unit="brigade-lyon")
        job = create_job(
            session,
            owner=owner,
            options={"language": "fr", "hide": ["Zorglub Martin"]},
            filename=NAME,
            audio_sha256="a" * 64,
            audio_size=1,
            object_key="jobs/x/original",
        )
        job.status = "succeeded"
        job.legal_hold_reference = "PV 2026/Zorglub"
        session.add(
            TranscriptEdit(job_id=job.id, kind="speaker", speaker="S1", before="S1", after="Zorglub Martin")
        )
        index_document(session, job, {"segments": [{"text": SECRET_WORDS}], "speakers": []})
        session.commit()
        return job.id


def _found(session: Session, query: str) -> list[str]:
    return list(session.scalars(select(Job.id).where(search_filter(query, session=session))))


def test_clear_rows_are_sealed_found_rekeyed_and_deleted(engine: Engine, tmp_path: Path) -> None:
    job_id = _fill(engine)  # written with encryption off: in clear
    assert "Zorglub" in _raw(engine)
    ring = init_keyring(tmp_path / "ring.json")
    attach_keyring(engine, ring)
    try:
        assert seal_rows(engine, ring) == 7  # 3 of the job, 3 of the correction, the search text
        assert seal_rows(engine, ring) == 0  # idempotent
        raw = _raw(engine)
        for needle in ("Zorglub", "zorglub", "Quetzalcoatl", "quetzalcoatl", "temoin", "voiture"):
            assert needle not in raw
        factory = session_factory(engine)
        with factory() as session:
            job = session.get(Job, job_id)
            assert job is not None and job.filename == NAME
            assert job.options == {"language": "fr", "hide": ["Zorglub Martin"]}
            assert job.legal_hold_reference == "PV 2026/Zorglub"
            assert session.scalars(select(TranscriptEdit.after)).one() == "Zorglub Martin"
            assert (
                session.scalars(select(TranscriptSearch.text)).one()
                == "le temoin quetzalcoatl a vu la voiture"
            )
            count = session.scalar(select(func.count()).select_from(TranscriptTrigram))
            assert count and count > 20
            # accents and case folded; a word cut across two is no match; short queries are opened one by one
            assert _found(session, "TÉMOIN") == [job_id]
            assert _found(session, "quetzalcoatl a vu") == [job_id]
            assert _found(session, "vu") == [job_id]
            assert _found(session, "voiture verte") == []
            assert _found(session, "coatl vu") == []  # every trigram is there, not in that order
            assert (
                _found(session, "%") == _found(session, "_") == _found(session, "a%u") == []
            )  # no wildcards

        # a rotation: a new active key; values re-sealed under it, then the old key can go
        old = ring.active_id
        ring.keys[new := new_key_id() + "n"] = secrets.token_bytes(32)
        ring.active_id = new
        assert seal_rows(engine, ring, rekey=True) == 7
        assert {key_id_of(v) for v in _raw(engine).split() if v.startswith(PREFIX)} == {new}
        del ring.keys[old]
        with factory() as session:
            assert session.get(Job, job_id).filename == NAME  # type: ignore[union-attr]
            assert _found(session, "temoin") == [job_id]
            session.delete(session.get(Job, job_id))
            session.commit()
            assert session.scalar(select(func.count()).select_from(TranscriptTrigram)) == 0
    finally:
        attach_keyring(engine, None)


def test_a_sealed_value_needs_its_key_and_its_column(engine: Engine, tmp_path: Path) -> None:
    ring = init_keyring(tmp_path / "ring.json")
    attach_keyring(engine, ring)
    try:
        job_id = _fill(engine)
    finally:
        attach_keyring(engine, None)
    factory = session_factory(engine)
    with factory() as session, pytest.raises(SealError, match="encryption at rest is off"):
        session.get(Job, job_id)
    attach_keyring(engine, Keyring("other", {"other": secrets.token_bytes(32)}))
    try:
        with factory() as session, pytest.raises(SealError, match="does not hold"):
            session.get(Job, job_id)
        # a sealed value moved to another column does not open there
        attach_keyring(engine, ring)
        with engine.begin() as connection:
            connection.execute(
                text("UPDATE jobs SET legal_hold_reference = filename WHERE id = :id"), {"id": job_id}
            )
        with factory() as session, pytest.raises(SealError, match="failed authentication"):
            session.get(Job, job_id)
    finally:
        attach_keyring(engine, None)


def test_without_a_keyring_nothing_is_sealed_nor_hashed(engine: Engine) -> None:
    _fill(engine)
    assert PREFIX not in _raw(engine)
    with session_factory(engine)() as session:
        assert session.scalar(select(func.count()).select_from(TranscriptTrigram)) == 0
        assert len(_found(session, "témoin")) == 1
