"""The editor's operations through the API on a real transcript (SQLite, local store, in-process worker with
the real models): spans replaced, inserted and deleted, words given to another speaker, turns split and
merged, times adjusted, undo and redo (reverts), a segment re-translated. Each is a correction row (who,
when, before, after), audited without text, and shows in the JSON, SRT and DOCX exports and in the
pseudonymised copy made again by the worker."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from tests.api.conftest import Service
from tests.conftest import DATA
from verbatim.jobs import stages
from verbatim.ops.db import AuditEntry

pytestmark = pytest.mark.models

STEREO = DATA / "stereo_diarization.wav"
FRENCH = DATA / "picovoice_test_fr.wav"


@pytest.fixture(scope="module")
def job(service: Service) -> dict[str, Any]:
    created = service.upload(path=STEREO, language="en", channels="split", pseudonymize="true")
    body = service.wait(created["id"])
    assert body["status"] == "succeeded", body
    return body


def _get(service: Service, job_id: str, fmt: str = "json", view: str | None = None) -> Any:
    url = f"/v1/jobs/{job_id}/transcript?format={fmt}" + (f"&view={view}" if view else "")
    deadline = time.monotonic() + 180
    while True:
        r = service.client.get(url, headers=service.investigator.headers)
        if r.status_code != 409 or view is None:  # the pseudonymised copy is being made again meanwhile
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.3)
    assert r.status_code == 200, r.text
    return r.json() if fmt == "json" else r.content


def _post(
    service: Service, job_id: str, *operations: dict[str, Any], status: int = 200
) -> list[dict[str, Any]]:
    r = service.client.post(
        f"/v1/jobs/{job_id}/corrections",
        headers=service.investigator.headers,
        json={"operations": list(operations)},
    )
    assert r.status_code == status, r.text
    rows: list[dict[str, Any]] = r.json().get("edits", []) if status == 200 else []
    return rows


def _words(segment: dict[str, Any]) -> list[str]:
    return [w["text"].strip() for w in segment["words"]]


def _docx_text(data: bytes) -> str:
    from docx import Document

    document = Document(io.BytesIO(data))
    cells = [c.text for t in document.tables for r in t.rows for c in r.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def _everywhere(service: Service, job_id: str) -> dict[str, str]:
    return {
        "json": " ".join(s["text"] for s in _get(service, job_id)["segments"]),
        "srt": _get(service, job_id, "srt").decode(),
        "docx": _docx_text(_get(service, job_id, "docx")),
        "pseudonymized": " ".join(s["text"] for s in _get(service, job_id, view="pseudonymized")["segments"]),
    }


def test_a_span_is_replaced_inserted_and_deleted_in_every_export_and_the_pseudonymised_copy(
    service: Service, job: dict[str, Any]
) -> None:
    doc = _get(service, job["id"])
    first, last = doc["segments"][0], doc["segments"][-1]
    words = _words(first)
    assert len(words) >= 4
    rows = _post(
        service, job["id"],
        {"op": "span", "segment_id": first["id"], "word_index": 0, "word_count": 2,
         "before": " ".join(words[:2]), "after": "umbrella lighthouse"},
        {"op": "span", "segment_id": last["id"], "word_index": 0, "word_count": 0, "before": "",
         "after": "meanwhile"},
        {"op": "span", "segment_id": first["id"], "word_index": 2, "word_count": 1, "before": words[2],
         "after": ""},
    )  # fmt: skip
    assert [(r["kind"], r["before"], r["after"], r["user_name"]) for r in rows] == [
        ("span", " ".join(words[:2]), "umbrella lighthouse", "inv-a"),
        ("span", "", "meanwhile", "inv-a"),
        ("span", words[2], "", "inv-a"),
    ]
    now = _get(service, job["id"])
    assert _words(now["segments"][0]) == ["umbrella", "lighthouse", *words[3:]]
    assert _words(now["segments"][-1])[0] == "meanwhile"
    shown = _everywhere(service, job["id"])
    for where, text in shown.items():
        assert "meanwhile" in text and " ".join(words[:3]) not in text, where
        # the pseudonymiser takes "umbrella lighthouse" at a sentence's start for a name: replaced there
        assert where == "pseudonymized" or "umbrella lighthouse" in text, where
    # the archival formats too: ODT (its XML) and PDF/A (made by LibreOffice, read back with pypdf)
    import re
    import zipfile

    from pypdf import PdfReader

    odt = zipfile.ZipFile(io.BytesIO(_get(service, job["id"], "odt"))).read("content.xml").decode()
    assert "umbrella lighthouse" in odt and "meanwhile" in odt
    pdf = PdfReader(io.BytesIO(_get(service, job["id"], "pdf")))
    text = re.sub(r"\s+", " ", " ".join(p.extract_text() or "" for p in pdf.pages))
    assert "umbrella lighthouse" in text and "meanwhile" in text
    # a stale span (the client saw the old words): 409, nothing recorded
    _post(
        service, job["id"],
        {"op": "span", "segment_id": first["id"], "word_index": 0, "word_count": 2,
         "before": " ".join(words[:2]), "after": "x"}, status=409,
    )  # fmt: skip
    with service.state.sessions() as session:
        details = [
            e.detail or "" for e in session.scalars(select(AuditEntry).where(AuditEntry.job_id == job["id"]))
        ]
    assert any("kinds=span" in d for d in details)
    assert not any("umbrella" in d or "meanwhile" in d for d in details)


def test_words_given_to_another_speaker_split_the_turn_and_a_split_is_merged_back(
    service: Service, job: dict[str, Any]
) -> None:
    doc = _get(service, job["id"])
    segment = doc["segments"][0]
    speakers = sorted({s["speaker"] for s in doc["segments"] if s.get("speaker")})
    mine, other = segment["speaker"], next(s for s in speakers if s != segment["speaker"])
    words = _words(segment)
    count = len(doc["segments"])
    rows = _post(
        service, job["id"],
        {"op": "words_speaker", "segment_id": segment["id"], "word_index": 1, "word_count": 1,
         "before": mine, "after": other},
    )  # fmt: skip
    assert [r["kind"] for r in rows] == ["split", "split", "segment_speaker"]
    now = _get(service, job["id"])
    assert len(now["segments"]) == count + 2
    parts = now["segments"][:3]
    assert [p["speaker"] for p in parts] == [mine, other, mine]
    assert [_words(p) for p in parts] == [words[:1], words[1:2], words[2:]]
    assert parts[0]["end"] <= parts[1]["start"] <= parts[1]["end"] <= parts[2]["start"]
    srt = _get(service, job["id"], "srt").decode()
    assert f"[{other}] {words[1]}" in srt or f"{other}: {words[1]}" in srt or words[1] in srt.split("\n\n")[1]
    # merge the three parts back into one turn (two merges), then the split rows stay in the history
    merged = _post(
        service, job["id"],
        {"op": "segment_speaker", "segment_id": parts[1]["id"], "before": other, "after": mine},
        {"op": "merge", "segment_id": parts[0]["id"], "next_segment_id": parts[1]["id"]},
        {"op": "merge", "segment_id": parts[0]["id"], "next_segment_id": parts[2]["id"]},
    )  # fmt: skip
    assert [r["kind"] for r in merged] == ["segment_speaker", "merge", "merge"]
    back = _get(service, job["id"])
    assert len(back["segments"]) == count and _words(back["segments"][0]) == words
    assert back["segments"][0]["end"] == segment["end"]
    # a turn is split at a word (the DOCX and the pseudonymised copy show two turns)
    split = _post(
        service,
        job["id"],
        {"op": "split", "segment_id": segment["id"], "word_index": 2, "before": segment["text"]},
    )
    assert split[0]["other_segment_id"] not in {s["id"] for s in doc["segments"]}
    assert len(_get(service, job["id"], view="pseudonymized")["segments"]) == count + 1
    # the first split cannot be reverted while the merges stand on it: 409 with the reason, nothing recorded
    r = service.client.post(
        f"/v1/jobs/{job['id']}/corrections",
        headers=service.investigator.headers,
        json={"operations": [{"op": "revert", "edit_id": rows[0]["id"]}]},
    )
    assert r.status_code == 409 and "later correction needs it" in r.json()["error"]
    assert r.json()["code"] == "revert_blocked"
    # the split reverted: the turn whole again (a strict replay of every row without it)
    _post(service, job["id"], {"op": "revert", "edit_id": split[0]["id"]})
    assert len(_get(service, job["id"])["segments"]) == count
    # a split at the turn's edge is refused
    _post(
        service,
        job["id"],
        {"op": "split", "segment_id": segment["id"], "word_index": 9999, "before": ""},
        status=409,
    )


def test_times_are_adjusted_ordered_and_within_the_recording(service: Service, job: dict[str, Any]) -> None:
    doc = _get(service, job["id"])
    segment = doc["segments"][-1]
    word = segment["words"][1]
    before = (word["start"], word["end"])
    _post(
        service, job["id"],
        {"op": "times", "segment_id": segment["id"], "word_index": 1, "before": before,
         "after": [word["start"] + 0.05, word["end"]]},
    )  # fmt: skip
    now = _get(service, job["id"])["segments"][-1]
    assert now["words"][1]["start"] == pytest.approx(word["start"] + 0.05, abs=1e-3)
    # the turn: a later end (subtitle cues follow the words' times); out of the recording, or not
    # around its own words: 422
    duration = doc["audio"]["duration"]
    new_end = round(min(duration, segment["end"] + 0.2), 3)
    turn = {"op": "times", "segment_id": segment["id"], "before": [segment["start"], segment["end"]]}
    _post(service, job["id"], {**turn, "after": [segment["start"], new_end]})
    assert _get(service, job["id"])["segments"][-1]["end"] == pytest.approx(new_end, abs=1e-3)
    turn["before"] = [segment["start"], new_end]
    r = service.client.post(
        f"/v1/jobs/{job['id']}/corrections", headers=service.investigator.headers,
        json={"operations": [{**turn, "after": [segment["start"], duration + 5]}]},
    )  # fmt: skip
    assert r.status_code == 422 and r.json()["code"] == "invalid_option"
    late = segment["words"][0]["start"] + 0.3
    _post(service, job["id"], {**turn, "after": [late, new_end]}, status=422)
    _post(
        service, job["id"],
        {"op": "times", "segment_id": segment["id"], "word_index": 1,
         "before": [now["words"][1]["start"], word["end"]], "after": [word["end"] + 1, word["end"]]},
        status=422,
    )  # fmt: skip


def test_undo_and_redo_are_reverts_of_rows_and_a_needed_row_cannot_be_reverted(
    service: Service, job: dict[str, Any]
) -> None:
    segment = _get(service, job["id"])["segments"][-1]
    words = _words(segment)
    [first] = _post(
        service, job["id"],
        {"op": "word", "segment_id": segment["id"], "word_index": 0, "before": words[0], "after": "firstly"},
    )  # fmt: skip
    [second] = _post(
        service, job["id"],
        {"op": "word", "segment_id": segment["id"], "word_index": 0, "before": "firstly",
         "after": "secondly"},
    )  # fmt: skip
    # the older row is needed by the newer one: its revert is refused, nothing recorded
    _post(service, job["id"], {"op": "revert", "edit_id": first["id"]}, status=409)
    [undo] = _post(service, job["id"], {"op": "revert", "edit_id": second["id"]})
    assert (undo["kind"], undo["reverts"], undo["before"], undo["after"]) == (
        "revert",
        second["id"],
        "secondly",
        "firstly",
    )
    assert _words(_get(service, job["id"])["segments"][-1])[0] == "firstly"
    _post(service, job["id"], {"op": "revert", "edit_id": second["id"]}, status=409)  # already reverted
    [redo] = _post(service, job["id"], {"op": "revert", "edit_id": undo["id"]})
    assert _words(_get(service, job["id"])["segments"][-1])[0] == "secondly"
    for where, text in _everywhere(service, job["id"]).items():
        assert "secondly" in text, where
    history = service.client.get(f"/v1/jobs/{job['id']}/edits", headers=service.investigator.headers).json()
    flags = {e["id"]: e["reverted"] for e in history["edits"]}
    assert (flags[second["id"]], flags[undo["id"]], flags[redo["id"]]) == (False, True, False)


def test_a_corrected_segment_is_translated_again_on_demand(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = service.upload(path=FRENCH, language="fr", diarize="false", translate_to="en")
    body = service.wait(created["id"], timeout=300)
    assert body["status"] == "succeeded", body
    doc = _get(service, body["id"])
    segment = doc["segments"][0]
    words = _words(segment)
    index = words.index("il")
    _post(
        service, body["id"],
        {"op": "word", "segment_id": segment["id"], "word_index": index, "before": "il", "after": "Julie"},
    )  # fmt: skip
    outdated = _get(service, body["id"])["segments"][0]["translation"]
    assert outdated["outdated"] is True
    url = f"/v1/jobs/{body['id']}/segments/{segment['id']}/retranslate"
    r = service.client.post(url, headers=service.investigator.headers, json={"before": "stale"})
    assert r.status_code == 409, r.text
    loaded_on: list[str] = []  # the threads that asked for a model during the re-translation
    for name in ("get_asr", "get_translator"):
        real = getattr(stages, name)

        def spy(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            loaded_on.append(threading.current_thread().name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(stages, name, spy)
    r = service.client.post(url, headers=service.investigator.headers, json={"before": outdated["text"]})
    assert r.status_code == 200, r.text
    # the embedded deployment's worker made it, on its re-translation thread, not the request's
    assert loaded_on and all(n.startswith("verbatim-retranslate") for n in loaded_on), loaded_on
    [row] = r.json()["edits"]
    assert row["kind"] == "translation" and row["before"] == outdated["text"] and row["after"].strip()
    assert row["speaker"].endswith(
        ":translate"
    )  # Whisper's speech translation: the only route into English here
    fresh = _get(service, body["id"])["segments"][0]["translation"]
    assert "outdated" not in fresh and fresh["text"] == row["after"]
    assert row["after"] in _docx_text(_get(service, body["id"], "docx"))
