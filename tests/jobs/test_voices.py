"""A unit's known voices end to end below the CLI: enrolled (real CAM++ weights), stored encrypted in the
real database (SQLite file, migrated), used for the unit's own recordings only, removed, each step audited."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.orm import Session

from tests.conftest import DATA, write_audio
from verbatim.anonymize.crypto import KeyError_
from verbatim.jobs.voices import (
    audit_matches,
    enrol_voice,
    list_voices,
    naming_for_unit,
    remove_voice,
    unit_voices,
)
from verbatim.ops.audit import query
from verbatim.ops.db import VoiceRecord, make_engine, session_factory, upgrade
from verbatim.ops.settings import Settings
from verbatim.pipeline.runner import name_known_voices
from verbatim.pipeline.types import Segment, Transcript

SR = 16000


@pytest.fixture(scope="module")
def diarizer():  # type: ignore[no-untyped-def]
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings

    return get_diarizer(get_settings())


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Enrolment recordings written from committed clips; JFK enrolled from other sentences than heard."""
    from verbatim.pipeline.decode import decode, decode_channels

    folder = tmp_path_factory.mktemp("voices")
    jfk = decode(DATA / "jfk.flac").samples
    en = decode(DATA / "picovoice_test_en.wav").samples
    stereo1 = decode_channels(DATA / "stereo_diarization.wav")[1].samples
    pause = np.zeros(SR // 2, np.float32)
    conv = np.concatenate([jfk[: 5 * SR], pause, en, pause, stereo1, pause, jfk[: 5 * SR] * 0.8])
    return {
        "jfk_last": write_audio(folder / "jfk_last.wav", jfk[5 * SR :]),
        "en": write_audio(folder / "en.wav", en),
        "fr": write_audio(folder / "fr.wav", decode(DATA / "picovoice_test_fr.wav").samples),
        "conversation": write_audio(folder / "conversation.wav", conv.astype(np.float32)),
    }


@pytest.fixture(scope="module")
def diarised(clips, diarizer):  # type: ignore[no-untyped-def]
    """The conversation's diarisation, its centroids, and a transcript with one segment per turn."""
    from verbatim.pipeline.decode import decode

    diarization, centroids = diarizer.diarize_with_centroids(decode(clips["conversation"]))
    segments = tuple(
        Segment(i, t.start, t.end, "...", speaker=t.speaker) for i, t in enumerate(diarization.turns)
    )
    transcript = Transcript("fr", 30.0, segments, speakers={s: s for s in diarization.speakers})
    return diarization, centroids, transcript


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[Settings, Session, Path]]:
    db = tmp_path / "verbatim.db"
    url = f"sqlite:///{db}"
    upgrade(url)
    engine = make_engine(url)
    settings = Settings(home=tmp_path, database_url=url)
    with session_factory(engine)() as session:
        yield settings, session, db
    engine.dispose()


def _enrol(env, diarizer, clips, *, unit: str, name: str, clip: str, role: str | None = None):  # type: ignore[no-untyped-def]
    settings, session, _db = env
    voice = enrol_voice(
        session,
        settings,
        diarizer.embedding,
        unit=unit,
        name=name,
        role=role,
        recordings=[clips[clip]],
        request_id="test",
        min_speech=3.0,
    )
    session.commit()
    return voice


def test_a_unit_names_its_own_enrolled_voice_never_another_units(env, diarizer, clips, diarised) -> None:  # type: ignore[no-untyped-def]
    settings, session, _db = env
    dupont = _enrol(env, diarizer, clips, unit="bpf-75", name="Dupont", role="Enquêteur", clip="jfk_last")
    _enrol(env, diarizer, clips, unit="bpf-75", name="Martin", role="Greffière", clip="fr")  # absent
    durand = _enrol(env, diarizer, clips, unit="tj-lyon", name="Durand", clip="en")  # heard, other unit
    diarization, centroids, transcript = diarised
    jfk_speaker = diarization.turns[0].speaker
    en_speaker = next(t.speaker for t in diarization.turns if 5.6 < (t.start + t.end) / 2 < 11.0)
    assert en_speaker != jfk_speaker

    naming = naming_for_unit(session, settings, unit="bpf-75")
    assert naming is not None and {v.name for v in naming.voices} == {"Enquêteur Dupont", "Greffière Martin"}
    named = name_known_voices(transcript, centroids, naming)
    assert named.speakers[jfk_speaker] == "Enquêteur Dupont"
    assert named.voices[jfk_speaker].voice_id == dupont.id and named.voices[jfk_speaker].similarity >= 0.6
    assert list(named.voices) == [jfk_speaker]  # the absent voice names nobody; Durand is not bpf-75's
    assert named.speakers[en_speaker] == en_speaker

    # the same recording in the other unit: its own voice is named there (so it could match), Dupont is not
    other = naming_for_unit(session, settings, unit="tj-lyon")
    assert other is not None
    named_there = name_known_voices(transcript, centroids, other)
    assert named_there.voices[en_speaker].voice_id == durand.id
    assert jfk_speaker not in named_there.voices

    assert audit_matches(session, named, unit="bpf-75", job_id=None, request_id="job-1") == 1
    matches = [e for e in query(session, unit="bpf-75") if e.detail.startswith("voices match")]
    assert len(matches) == 1 and dupont.id in matches[0].detail and "Dupont" not in matches[0].detail


def test_prints_and_names_are_not_stored_in_clear(env, diarizer, clips) -> None:  # type: ignore[no-untyped-def]
    settings, session, db = env
    voice = _enrol(env, diarizer, clips, unit="bpf-75", name="Dupontel", role="Enquêteur", clip="jfk_last")
    print_ = unit_voices(session, settings, unit="bpf-75")[0].embedding
    session.close()
    raw = db.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = db.with_name(db.name + suffix)
        if extra.exists():
            raw += extra.read_bytes()
    assert b"Dupontel" not in raw and "Enquêteur".encode() not in raw
    assert print_.astype(np.float32).tobytes()[:16] not in raw  # the print as float32 bytes
    assert json.dumps([round(float(x), 7) for x in print_[:3]])[1:-1].encode() not in raw  # nor as JSON text
    assert voice.id.encode() in raw  # the row is there, by id
    with sqlite3.connect(db) as con:
        (envelope,) = con.execute("select envelope from voices").fetchone()
    assert json.loads(envelope)["alg"] == "AES-256-GCM" and "embedding" not in envelope


def test_a_row_moved_to_another_unit_fails_to_decrypt(env, diarizer, clips) -> None:  # type: ignore[no-untyped-def]
    settings, session, _db = env
    _enrol(env, diarizer, clips, unit="bpf-75", name="Dupont", clip="jfk_last")
    row = session.query(VoiceRecord).one()
    row.unit = "tj-lyon"
    session.commit()
    with pytest.raises(KeyError_):
        unit_voices(session, settings, unit="tj-lyon")


def test_list_and_remove_are_scoped_to_the_unit_and_audited(env, diarizer, clips) -> None:  # type: ignore[no-untyped-def]
    settings, session, _db = env
    voice = _enrol(env, diarizer, clips, unit="bpf-75", name="Dupont", role="Enquêteur", clip="jfk_last")
    listed = list_voices(session, settings, unit="bpf-75", request_id="t")
    assert [(v.id, v.display) for v in listed] == [(voice.id, "Enquêteur Dupont")]
    assert list_voices(session, settings, unit="tj-lyon") == []
    from verbatim.errors import InvalidOptionError

    with pytest.raises(InvalidOptionError, match="no voice"):
        remove_voice(session, settings, unit="tj-lyon", voice=voice.id)  # another unit's: not found
    removed = remove_voice(session, settings, unit="bpf-75", voice="enquêteur dupont")
    session.commit()
    assert removed.id == voice.id and unit_voices(session, settings, unit="bpf-75") == ()
    assert naming_for_unit(session, settings, unit="bpf-75") is None
    details = [(e.action, e.outcome, e.unit, e.detail) for e in query(session)]
    action, outcome, unit, detail = details[0]
    assert (action, outcome, unit) == ("write", "ok", "bpf-75")
    assert detail.startswith(f"voices add id={voice.id} unit=bpf-75 speech_s=")
    assert ("read", "ok", "bpf-75", "voices list unit=bpf-75 count=1") in details
    assert ("delete", "denied", "tj-lyon", "voices remove unit=tj-lyon") in details  # another unit's
    assert ("delete", "ok", "bpf-75", f"voices remove id={voice.id} unit=bpf-75") in details
    assert all("Dupont" not in d[3] for d in details)


def test_audio_is_never_kept_and_bad_audio_is_refused(env, diarizer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from verbatim.errors import AudioDecodeError
    from verbatim.pipeline.voices import EnrolmentError

    settings, session, _db = env
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioDecodeError):
        enrol_voice(session, settings, diarizer.embedding, unit="bpf-75", name="X", recordings=[junk])
    silence = write_audio(tmp_path / "silence.wav", np.zeros(8 * SR, np.float32))
    with pytest.raises(EnrolmentError, match="no speech"):
        enrol_voice(session, settings, diarizer.embedding, unit="bpf-75", name="X", recordings=[silence])
    assert session.query(VoiceRecord).count() == 0
