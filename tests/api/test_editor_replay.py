"""Pure logic of the editor's operations: each correction row kind replayed on the untouched original,
reverts (undo) and reverts of reverts (redo), the strict replay that refuses a revert a later row needs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.test_edits_units import _doc
from verbatim.errors import InvalidOptionError
from verbatim.jobs.documents import EditConflictError, active_edits, apply_edits
from verbatim.ops.db import TranscriptEdit
from verbatim.pipeline.export.json_format import transcript_from_dict


def _row(id_: int, kind: str, **values: Any) -> TranscriptEdit:
    return TranscriptEdit(id=id_, kind=kind, **{"before": "", "after": "", **values})


def _texts(doc: dict[str, Any]) -> list[str]:
    return [s["text"] for s in doc["segments"]]


def test_a_span_is_replaced_inserted_and_deleted_with_times_inside_the_span() -> None:
    original = _doc()
    kept = copy.deepcopy(original)
    replace = _row(
        1, "span", segment_id=0, word_index=1, word_count=2, before="je suis", after="nous sommes ici"
    )
    doc = apply_edits(original, [replace])
    assert original == kept
    words = doc["segments"][0]["words"]
    assert _texts(doc)[0] == "Bonjour, nous sommes ici Jean."
    assert [w["start"] for w in words[1:4]] == [
        0.5,
        pytest.approx(0.667, abs=1e-3),
        pytest.approx(0.833, abs=1e-3),
    ]
    assert words[3]["end"] == 1.0 and words[4]["start"] == 1.0  # the span's own time, shared evenly
    insert = _row(2, "span", segment_id=0, word_index=0, word_count=0, before="", after="Alors")
    delete = _row(3, "span", segment_id=0, word_index=4, word_count=1, before="ici", after="")
    doc = apply_edits(original, [replace, insert, delete])
    assert _texts(doc)[0] == "Alors Bonjour, nous sommes Jean."
    assert doc["segments"][0]["words"][0]["start"] == 0.0
    transcript_from_dict({**doc, "language": "fr"})  # still a valid transcript for every exporter


def test_deleting_every_word_of_a_turn_removes_it() -> None:
    gone = _row(
        1, "span", segment_id=0, word_index=0, word_count=4, before="Bonjour, je suis Jean.", after=""
    )
    doc = apply_edits(_doc(), [gone])
    assert [s["id"] for s in doc["segments"]] == [1]


def test_a_turn_is_split_at_a_word_and_merged_back() -> None:
    split = _row(1, "split", segment_id=0, word_index=2, other_segment_id=7, before="Bonjour, je suis Jean.")
    doc = apply_edits(_doc(), [split])
    assert [s["id"] for s in doc["segments"]] == [0, 7, 1]
    assert _texts(doc) == ["Bonjour, je", "suis Jean.", "Oui."]
    first, second = doc["segments"][:2]
    assert (first["start"], first["end"], second["start"], second["end"]) == (0.0, 0.8, 0.8, 2.0)
    assert second["speaker"] == "S1"
    merge = _row(2, "merge", segment_id=0, other_segment_id=7, before="Bonjour, je ¶ suis Jean.")
    doc = apply_edits(_doc(), [split, merge])
    assert _texts(doc) == ["Bonjour, je suis Jean.", "Oui."]
    assert doc["segments"][0]["end"] == 2.0
    with pytest.raises(InvalidOptionError):  # a merge needs the next turn right after it
        apply_edits(_doc(), [_row(3, "merge", segment_id=1, other_segment_id=0)])


def test_times_of_a_word_and_a_turn_are_set() -> None:
    word = _row(1, "times", segment_id=0, word_index=1, before="0.500 0.800", after="0.600 0.800")
    turn = _row(2, "times", segment_id=1, before="2.000 3.000", after="2.100 3.500")
    doc = apply_edits(_doc(), [word, turn])
    assert (
        doc["segments"][0]["words"][1]["start"],
        doc["segments"][1]["start"],
        doc["segments"][1]["end"],
    ) == (
        0.6,
        2.1,
        3.5,
    )


def test_a_revert_cancels_its_row_and_a_revert_of_the_revert_restores_it() -> None:
    word = _row(1, "word", segment_id=0, word_index=3, before="Jean.", after="Jeanne.")
    undo = _row(2, "revert", reverts=1, before="Jeanne.", after="Jean.")
    redo = _row(3, "revert", reverts=2, before="Jean.", after="Jeanne.")
    assert _texts(apply_edits(_doc(), [word, undo]))[0] == "Bonjour, je suis Jean."
    assert _texts(apply_edits(_doc(), [word, undo, redo]))[0] == "Bonjour, je suis Jeanne."
    assert [e.id for e in active_edits([word, undo, redo])] == [1]
    # the split's new turn is gone with its revert; a turn given to a speaker goes back
    split = _row(4, "split", segment_id=0, word_index=2, other_segment_id=7, before="Bonjour, je suis Jean.")
    doc = apply_edits(_doc(), [split, _row(5, "revert", reverts=4)])
    assert [s["id"] for s in doc["segments"]] == [0, 1]


def test_a_strict_replay_refuses_a_revert_that_a_later_correction_needs() -> None:
    first = _row(1, "word", segment_id=0, word_index=3, before="Jean.", after="Jeanne.")
    second = _row(2, "word", segment_id=0, word_index=3, before="Jeanne.", after="Jeannette.")
    revert_first = _row(3, "revert", reverts=1)
    with pytest.raises(EditConflictError):
        apply_edits(_doc(), [first, second, revert_first], strict=True)
    # reverting the newest first, then the older one, works
    rows = [first, second, _row(3, "revert", reverts=2), _row(4, "revert", reverts=1)]
    assert _texts(apply_edits(_doc(), rows, strict=True))[0] == "Bonjour, je suis Jean."


def test_a_translation_row_replaces_the_outdated_translation() -> None:
    original = _doc()
    original["segments"][0]["translation"] = {"language": "en", "text": "Hello, I am John.", "model": "m"}
    word = _row(1, "word", segment_id=0, word_index=3, before="Jean.", after="Paul.")
    doc = apply_edits(original, [word])
    assert doc["segments"][0]["translation"]["outdated"] is True
    again = _row(
        2, "translation", segment_id=0, speaker="m2", before="Hello, I am John.", after="Hello, I am Paul."
    )
    doc = apply_edits(original, [word, again])
    assert doc["segments"][0]["translation"] == {"language": "en", "text": "Hello, I am Paul.", "model": "m2"}
