"""Corrections, speaker names, search, the recording's byte ranges and audio tickets: behaviour and access.

A real app (SQLite, local store, in-process worker with the real models) transcribes a two-channel clip
once (one speaker per channel, so two speakers); every test reads or corrects that job.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.conftest import Actor, Service
from tests.conftest import DATA
from verbatim.ops.db import AuditEntry, MediaTicket
from verbatim.ops.roles import PERMISSIONS

pytestmark = pytest.mark.models

STEREO = DATA / "stereo_diarization.wav"
WRONG = {"Authorization": "Bearer vbt_" + "x" * 43}


@pytest.fixture(scope="module")
def job(service: Service) -> dict[str, Any]:
    created = service.upload(path=STEREO, language="en", channels="split")
    body = service.wait(created["id"])
    assert body["status"] == "succeeded", body
    return body


def _transcript(service: Service, job_id: str, fmt: str = "json", actor: Actor | None = None) -> Any:
    r = service.client.get(
        f"/v1/jobs/{job_id}/transcript?format={fmt}", headers=(actor or service.investigator).headers
    )
    assert r.status_code == 200, r.text
    return r.json() if fmt == "json" else r.content


def _first_word(doc: dict[str, Any]) -> tuple[int, int, str]:
    segment = doc["segments"][0]
    index = max(range(len(segment["words"])), key=lambda i: len(segment["words"][i]["text"]))
    return segment["id"], index, segment["words"][index]["text"]


def _audit_texts(service: Service) -> list[str]:
    with service.state.sessions() as session:
        return [f"{e.action} {e.outcome} {e.detail}".lower() for e in session.scalars(select(AuditEntry))]


# --- access --------------------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/v1/jobs/{id}/edits", None, 200),
    (
        "POST",
        "/v1/jobs/{id}/edits",
        {"edits": [{"segment_id": 0, "word_index": 0, "before": "x", "after": "y"}]},
        409,
    ),
    ("PUT", "/v1/jobs/{id}/speakers", {"names": {"S9": "Nobody"}}, 422),
    ("POST", "/v1/jobs/{id}/audio-ticket", None, 200),
    ("GET", "/v1/jobs/{id}/audio", None, 200),
]


def _call(service: Service, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    response = service.client.request(method, path, headers=headers, json=body)
    request_id = response.headers["X-Request-ID"]  # the server's own id
    with service.state.sessions() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.request_id == request_id)))
    return response, entries


@pytest.mark.parametrize(("method", "path", "body", "ok"), ROUTES)
@pytest.mark.parametrize("who", ["none", "wrong", "outsider", "colleague", "admin"])
def test_access_matrix(
    service: Service, job: dict[str, Any], method: str, path: str, body: Any, ok: int, who: str
) -> None:
    headers = {"none": {}, "wrong": WRONG}[who] if who in ("none", "wrong") else getattr(service, who).headers
    response, entries = _call(service, method, path.format(id=job["id"]), body, headers)
    if who in ("none", "wrong"):
        # failed authentications are audited once per burst of a client, not once per try
        assert response.status_code == 401
        assert all((e.action, e.outcome) == ("login", "denied") for e in entries)
        return
    assert entries, "every attempt is audited"
    if who == "outsider":
        assert response.status_code == 404
        assert [(e.outcome, e.job_id, e.unit) for e in entries] == [("denied", job["id"], "court-b")]
    else:
        actor: Actor = getattr(service, who)
        assert response.status_code == ok, response.text
        assert {(e.user_id, e.job_id) for e in entries} == {(actor.user.id, job["id"])}
        assert {e.outcome for e in entries} == ({"ok"} if ok < 400 else {"error"})


# --- corrections ----------------------------------------------------------------------------------------


def test_a_correction_is_applied_to_every_export_and_the_original_stays(
    service: Service, job: dict[str, Any]
) -> None:
    original = _transcript(service, job["id"])
    original_artifact = next(
        a
        for a in service.client.get(f"/v1/jobs/{job['id']}/custody", headers=service.admin.headers).json()[
            "artifacts"
        ]
        if a["kind"] == "transcript"
    )
    segment_id, index, before = _first_word(original)
    r = service.client.post(
        f"/v1/jobs/{job['id']}/edits",
        headers=service.colleague.headers,
        json={
            "edits": [{"segment_id": segment_id, "word_index": index, "before": before, "after": "Zanzibar"}]
        },
    )
    assert r.status_code == 200, r.text
    [edit] = r.json()["edits"]
    assert (edit["before"], edit["after"], edit["user_name"]) == (before, "Zanzibar", "inv-a2")
    revision = r.json()["revision_sha256"]

    current = _transcript(service, job["id"])
    segment = next(s for s in current["segments"] if s["id"] == segment_id)
    assert segment["words"][index]["text"] == "Zanzibar"
    assert "Zanzibar" in segment["text"] and before not in segment["text"].split()
    assert current["revision"]["edits"] >= 1
    for fmt in ("txt", "srt", "vtt"):
        assert b"Zanzibar" in _transcript(service, job["id"], fmt)
    from docx import Document

    docx = Document(io.BytesIO(_transcript(service, job["id"], "docx")))
    assert "Zanzibar" in "\n".join(p.text for p in docx.paragraphs)

    # Evidence: the original object is untouched, the manifest lists it beside the revision.
    custody = service.client.get(
        f"/v1/jobs/{job['id']}/custody?verify=true", headers=service.admin.headers
    ).json()
    kinds = {a["kind"]: a for a in custody["artifacts"]}
    assert kinds["transcript"]["sha256"] == original_artifact["sha256"] and kinds["transcript"]["verified"]
    assert kinds["transcript_revision"]["sha256"] == revision and kinds["transcript_revision"]["verified"]
    exported = service.client.get(f"/v1/jobs/{job['id']}/transcript", headers=service.admin.headers).content
    assert hashlib.sha256(exported).hexdigest() == revision

    history = service.client.get(f"/v1/jobs/{job['id']}/edits", headers=service.investigator.headers).json()
    assert any(e["after"] == "Zanzibar" and e["revision_sha256"] == revision for e in history["edits"])
    assert not any("zanzibar" in t or before.lower() in t.split() for t in _audit_texts(service))


def test_a_misattributed_segment_is_given_to_the_other_speaker_and_back(
    service: Service, job: dict[str, Any]
) -> None:
    doc = _transcript(service, job["id"])
    segment = doc["segments"][0]
    speakers = sorted({s["speaker"] for s in doc["segments"] if s.get("speaker")})
    assert len(speakers) == 2
    mine, other = segment["speaker"], next(s for s in speakers if s != segment["speaker"])
    url = f"/v1/jobs/{job['id']}/segment-speakers"
    h = service.investigator.headers
    move = {"segment_id": segment["id"], "before": mine, "after": other}
    r = service.client.post(url, headers=h, json={"edits": [move]})
    assert r.status_code == 200, r.text
    [row] = r.json()["edits"]
    assert (row["kind"], row["segment_id"], row["before"], row["after"]) == (
        "segment_speaker",
        0,
        mine,
        other,
    )
    moved = _transcript(service, job["id"])["segments"][0]
    assert moved["speaker"] == other and moved["text"] == segment["text"]
    assert other in _transcript(service, job["id"], "srt").decode().split("\n\n")[0]
    # stale (the client still sees the old speaker): 409; an unknown speaker: 422; nothing changed
    assert service.client.post(url, headers=h, json={"edits": [move]}).status_code == 409
    bad = service.client.post(url, headers=h, json={"edits": [{**move, "before": other, "after": "S9"}]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_option"
    back = {"segment_id": segment["id"], "before": other, "after": mine}
    assert service.client.post(url, headers=h, json={"edits": [back]}).status_code == 200
    assert _transcript(service, job["id"])["segments"][0]["speaker"] == mine
    history = service.client.get(f"/v1/jobs/{job['id']}/edits", headers=h).json()["edits"]
    assert [(e["before"], e["after"]) for e in history if e["kind"] == "segment_speaker"][-2:] == [
        (mine, other),
        (other, mine),
    ]
    outsider = service.client.post(url, headers=service.outsider.headers, json={"edits": [back]})
    assert outsider.status_code == 404


def test_a_stale_correction_is_refused_and_changes_nothing(service: Service, job: dict[str, Any]) -> None:
    doc = _transcript(service, job["id"])
    segment = doc["segments"][-1]
    r = service.client.post(
        f"/v1/jobs/{job['id']}/edits",
        headers=service.investigator.headers,
        json={
            "edits": [
                {"segment_id": segment["id"], "word_index": 0, "before": "not-what-it-was", "after": "x"}
            ]
        },
    )
    assert r.status_code == 409 and "reload" in r.json()["error"]
    assert _transcript(service, job["id"]) == doc


@pytest.mark.parametrize(
    ("edit", "status"),
    [
        ({"segment_id": 999, "word_index": 0, "before": "a", "after": "b"}, 422),
        ({"segment_id": 0, "word_index": 999, "before": "a", "after": "b"}, 422),
        ({"segment_id": 0, "word_index": 0, "before": "a", "after": "   "}, 422),
        ({"segment_id": 0, "word_index": 0, "before": "a", "after": "x" * 300}, 422),
        # Zero-width and right-to-left override characters hide or reorder what a record says.
        ({"segment_id": 0, "word_index": 0, "before": "a", "after": "Ju\u200blie"}, 422),
        ({"segment_id": 0, "word_index": 0, "before": "a", "after": "\u202eeilu J"}, 422),
    ],
)
def test_bad_corrections_answer_422(
    service: Service, job: dict[str, Any], edit: dict[str, Any], status: int
) -> None:
    doc = _transcript(service, job["id"])
    edit = {**edit, "before": doc["segments"][0]["words"][0]["text"]} if edit["segment_id"] == 0 else edit
    r = service.client.post(
        f"/v1/jobs/{job['id']}/edits", headers=service.investigator.headers, json={"edits": [edit]}
    )
    assert r.status_code == status, r.text


def test_renamed_speakers_show_in_every_export_and_in_the_history(
    service: Service, job: dict[str, Any]
) -> None:
    r = service.client.put(
        f"/v1/jobs/{job['id']}/speakers",
        headers=service.investigator.headers,
        json={"names": {"S1": "Enquêteur"}},
    )
    assert r.status_code == 200, r.text
    assert {"id": "S1", "name": "Enquêteur"} in r.json()["speakers"]
    [edit] = r.json()["edits"]
    assert (edit["kind"], edit["speaker"], edit["before"], edit["after"]) == (
        "speaker",
        "S1",
        "S1",
        "Enquêteur",
    )
    assert {"id": "S1", "name": "Enquêteur"} in _transcript(service, job["id"])["speakers"]
    for fmt in ("txt", "srt", "vtt"):
        assert "Enquêteur".encode() in _transcript(service, job["id"], fmt), fmt
    # Renaming to the same name again records nothing.
    again = service.client.put(
        f"/v1/jobs/{job['id']}/speakers",
        headers=service.investigator.headers,
        json={"names": {"S1": "Enquêteur"}},
    )
    assert again.json()["edits"] == []
    assert not any("enquêteur" in t for t in _audit_texts(service))


# --- search and filters ------------------------------------------------------------------------------------


def _ids(service: Service, query: str, actor: Actor | None = None) -> set[str]:
    r = service.client.get(f"/v1/jobs?{query}", headers=(actor or service.investigator).headers)
    assert r.status_code == 200, r.text
    return {j["id"] for j in r.json()["jobs"]}


def test_search_finds_words_of_the_units_transcripts_only(service: Service, job: dict[str, Any]) -> None:
    doc = _transcript(service, job["id"])
    word = max((w["text"] for s in doc["segments"] for w in s["words"]), key=len).strip(".,!?")
    assert job["id"] in _ids(service, f"q={word.upper()}")
    assert job["id"] not in _ids(service, "q=qwertyuiopzz")
    assert job["id"] not in _ids(service, f"q={word}", service.outsider)
    assert job["id"] in _ids(service, f"q={word}", service.admin)
    # Corrections are searchable at once, without accents too.
    service.client.put(
        f"/v1/jobs/{job['id']}/speakers",
        headers=service.investigator.headers,
        json={"names": {"S2": "Témoin"}},
    )
    assert job["id"] in _ids(service, "q=temoin")
    assert not any(word.lower() in t.split() or "temoin" in t for t in _audit_texts(service))


def test_filters_by_language_and_date(service: Service, job: dict[str, Any]) -> None:
    today = datetime.now(UTC).date()
    assert job["id"] in _ids(service, "language=en")
    assert job["id"] not in _ids(service, "language=fr")
    assert job["id"] in _ids(service, f"since={today}&until={today}")
    assert job["id"] not in _ids(service, f"since={today + timedelta(days=1)}")
    assert job["id"] not in _ids(service, f"until={today - timedelta(days=1)}")
    assert service.client.get("/v1/jobs?q=", headers=service.investigator.headers).status_code == 200
    assert (
        service.client.get("/v1/jobs?q=" + "x" * 300, headers=service.investigator.headers).status_code == 422
    )


def test_options_of_other_features_are_tolerated_by_the_upload(service: Service) -> None:
    with STEREO.open("rb") as fh:
        r = service.client.post(
            "/v1/jobs",
            headers=service.investigator.headers,
            files={"file": (STEREO.name, fh)},
            data={
                "language": "en", "diarize": "false", "translate_to": "fr", "pseudonymize": "true",
                "languages": "en, fr", "prompt": "Maître Dupont, Mashhad.",
            },
        )  # fmt: skip
    assert r.status_code == 202, r.text
    job = service.client.get(f"/v1/jobs/{r.json()['id']}", headers=service.investigator.headers).json()
    assert job["options"]["languages"] == ["en", "fr"]
    assert job["options"]["prompt"] == "Maître Dupont, Mashhad."


# --- the recording ---------------------------------------------------------------------------------------


def test_the_recording_streams_in_ranges(service: Service, job: dict[str, Any]) -> None:
    data = STEREO.read_bytes()
    url = f"/v1/jobs/{job['id']}/audio"
    whole = service.client.get(url, headers=service.investigator.headers)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/wav" and whole.headers["accept-ranges"] == "bytes"
    part = service.client.get(url, headers={**service.investigator.headers, "Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = service.client.get(url, headers={**service.investigator.headers, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_ended = service.client.get(
        url, headers={**service.investigator.headers, "Range": f"bytes={len(data) - 5}-"}
    )
    assert open_ended.content == data[-5:]
    past = service.client.get(url, headers={**service.investigator.headers, "Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"


def test_an_audio_ticket_opens_one_job_for_a_short_while(service: Service, job: dict[str, Any]) -> None:
    r = service.client.post(f"/v1/jobs/{job['id']}/audio-ticket", headers=service.investigator.headers)
    assert r.status_code == 200
    url = r.json()["url"]
    assert url.startswith(f"/v1/jobs/{job['id']}/audio?ticket=vat_")
    ranged = service.client.get(url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.content == STEREO.read_bytes()[:100]
    ticket = url.split("ticket=")[1]
    other = str(uuid.uuid4())
    assert service.client.get(f"/v1/jobs/{other}/audio?ticket={ticket}").status_code == 401
    assert service.client.get(f"/v1/jobs/{job['id']}/audio?ticket=vat_forged").status_code == 401
    with service.state.sessions() as session:
        for row in session.scalars(select(MediaTicket)):
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    assert service.client.get(url).status_code == 401
    with service.state.sessions() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.detail.contains("audio"))))
    assert any(e.outcome == "ok" and e.detail.startswith("audio range=bytes=0-99") for e in entries)
    assert not any(ticket in e.detail for e in entries)


def test_the_pages_are_served_with_a_strict_policy(service: Service) -> None:
    for path in ("/web/", "/web/upload", "/web/voices", f"/web/jobs/{uuid.uuid4()}"):
        r = service.client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert "http://" not in r.text and "https://" not in r.text, "no CDN, no external font"
    assert service.client.get("/web/static/app.js").status_code == 200
    me = service.client.get("/v1/me", headers=service.investigator.headers).json()
    assert me == {"name": "inv-a", "role": "investigator", "unit": "brigade-a"}
    # The pages offer a link or a form to the roles the API lets through: the role table, as it is.
    roles = service.client.get("/web/roles.json").json()["permissions"]
    assert set(roles) == set(PERMISSIONS) and roles["administer"] == ["admin"]
    assert roles["voices"] == ["investigator", "clerk", "admin"]
    assert json.loads(service.client.get("/v1/me").content)["error"]


def test_search_indexing_goes_by_batches_within_a_time_budget(service: Service, job: dict[str, Any]) -> None:
    """Jobs finished before anyone searched are indexed by the search itself, a bounded amount at a time."""
    from verbatim.jobs.search import ensure_indexed, fold
    from verbatim.ops.db import Artifact, Job, TranscriptSearch, User, create_job

    original = service.client.get(
        f"/v1/jobs/{job['id']}/transcript", headers=service.investigator.headers
    ).content
    store = service.state.store
    with service.state.sessions() as session:
        owner = session.get(User, service.colleague.user.id)
        assert owner is not None
        ensure_indexed(session, store, user=owner)  # what earlier tests left
        assert owner is not None
        ids = []
        for _ in range(5):
            row = create_job(
                session, owner=owner, options={}, filename=None, audio_sha256=None, audio_size=None,
                object_key=None,
            )  # fmt: skip
            stored = store.put_bytes(f"jobs/{row.id}/transcript.json", original)
            session.add(
                Artifact(job_id=row.id, kind="transcript", object_key=stored.key, sha256="0" * 64, size=1)
            )
            row.status = "succeeded"
            ids.append(row.id)
        session.commit()
        user = session.get(User, service.colleague.user.id)
        assert user is not None
        assert ensure_indexed(session, store, user=user, batch=2, budget_s=0.0) == 2
        assert ensure_indexed(session, store, user=user, batch=2, budget_s=60.0) == 3
        assert ensure_indexed(session, store, user=user) == 0
        indexed = set(
            session.scalars(select(TranscriptSearch.job_id).where(TranscriptSearch.job_id.in_(ids)))
        )
        assert indexed == set(ids)
        texts = set(session.scalars(select(TranscriptSearch.text).where(TranscriptSearch.job_id.in_(ids))))
        expected = fold(json.loads(original)["segments"][-1]["text"])
        assert len(texts) == 1 and expected in texts.pop()
        for job_id in ids:
            session.delete(session.get(Job, job_id))
        session.commit()


def test_deleting_the_job_removes_its_corrections_index_and_tickets(
    service: Service, job: dict[str, Any]
) -> None:
    """Corrections and the search index hold transcript text: they go with the job (its audit trail stays)."""
    from verbatim.ops.db import TranscriptEdit, TranscriptSearch

    def count(model: Any) -> int:
        with service.state.sessions() as session:
            return len(list(session.scalars(select(model).where(model.job_id == job["id"]))))

    headers = service.investigator.headers
    service.client.post(f"/v1/jobs/{job['id']}/audio-ticket", headers=headers)
    service.client.put(f"/v1/jobs/{job['id']}/speakers", headers=headers, json={"names": {"S2": "Témoin 2"}})
    assert count(TranscriptEdit) and count(TranscriptSearch) and count(MediaTicket)
    assert (
        service.client.delete(f"/v1/jobs/{job['id']}", headers=service.investigator.headers).status_code
        == 204
    )
    assert count(TranscriptEdit) == count(TranscriptSearch) == count(MediaTicket) == 0
    assert not service.state.store.list(f"jobs/{job['id']}/")
