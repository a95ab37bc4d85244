"""Pure logic of corrections and audio streaming: replaying edits, search folding, byte ranges."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from verbatim.api.media import ByteRange, RangeNotSatisfiableError, media_type, parse_range
from verbatim.jobs.documents import apply_edits, fold
from verbatim.ops.db import TranscriptEdit


def _doc() -> dict[str, Any]:
    return {
        "schema": "verbatim.transcript/1",
        "audio": {"sha256": "ab" * 32, "duration": 4.0, "filename": "x.wav"},
        "speakers": [{"id": "S1", "name": "S1"}],
        "segments": [
            {
                "id": 0, "start": 0.0, "end": 2.0, "speaker": "S1", "text": "Bonjour, je suis Jean.",
                "words": [
                    {"start": 0.0, "end": 0.5, "text": "Bonjour,", "probability": 0.9},
                    {"start": 0.5, "end": 0.8, "text": "je", "probability": 0.9},
                    {"start": 0.8, "end": 1.0, "text": "suis", "probability": 0.9},
                    {"start": 1.0, "end": 1.5, "text": "Jean.", "probability": 0.3},
                ],
            },
            {"id": 1, "start": 2.0, "end": 3.0, "speaker": "S2", "text": "Oui.", "words": []},
        ],
    }  # fmt: skip


def _word(segment: int, index: int, after: str) -> TranscriptEdit:
    return TranscriptEdit(kind="word", segment_id=segment, word_index=index, before="", after=after)


def _speaker(speaker: str, after: str) -> TranscriptEdit:
    return TranscriptEdit(kind="speaker", speaker=speaker, before=speaker, after=after)


def test_a_word_is_replaced_in_place_keeping_punctuation_and_spacing() -> None:
    original = _doc()
    kept = copy.deepcopy(original)
    revised = apply_edits(original, [_word(0, 3, "Jeanne."), _word(0, 0, "Bonsoir,")])
    assert original == kept, "the original is never modified"
    segment = revised["segments"][0]
    assert segment["text"] == "Bonsoir, je suis Jeanne."
    assert [w["text"] for w in segment["words"]] == ["Bonsoir,", "je", "suis", "Jeanne."]
    assert revised["revision"] == {"edits": 2, "of": "ab" * 32}


def test_later_edits_win_and_speaker_names_are_set_or_added() -> None:
    revised = apply_edits(
        _doc(), [_word(0, 1, "tu"), _word(0, 1, "il"), _speaker("S1", "Juge"), _speaker("S2", "Greffière")]
    )
    assert revised["segments"][0]["text"] == "Bonjour, il suis Jean."
    assert revised["speakers"] == [{"id": "S1", "name": "Juge"}, {"id": "S2", "name": "Greffière"}]


def test_words_that_do_not_line_up_with_the_text_are_rejoined() -> None:
    doc = _doc()
    doc["segments"][0]["text"] = "something else entirely"
    revised = apply_edits(doc, [_word(0, 1, "tu")])
    assert revised["segments"][0]["text"] == "Bonjour, tu suis Jean."


def test_a_correction_marks_a_real_translation_outdated_and_updates_a_copied_one() -> None:
    doc = _doc()
    english = {"language": "en", "text": "Hello, I am Jean.", "model": "opus-mt-fr-en"}
    doc["segments"][0]["translation"] = english
    # An English answer in a French hearing translated into English: its "translation" is its text.
    doc["segments"][1].update(text="Yes.", language="en")
    doc["segments"][1]["translation"] = {"language": "en", "text": "Yes.", "model": "original"}
    doc["segments"][1]["words"] = [{"start": 2.0, "end": 2.5, "text": "Yes.", "probability": 0.9}]
    revised = apply_edits(doc, [_word(0, 3, "Jeanne."), _word(1, 0, "No.")])
    # Made from the words before the correction: kept as it was, and said to be older than it.
    assert revised["segments"][0]["translation"] == {
        "language": "en", "text": "Hello, I am Jean.", "model": "opus-mt-fr-en", "outdated": True,
    }  # fmt: skip
    # Already in the target language (a copy of the text): follows the correction.
    assert revised["segments"][1]["translation"] == {"language": "en", "text": "No.", "model": "original"}
    assert "outdated" not in doc["segments"][0]["translation"], "the original is never modified"
    # A speaker's new name changes no translation.
    renamed = apply_edits(doc, [_speaker("S1", "Juge")])
    assert "outdated" not in renamed["segments"][0]["translation"]


def test_no_edit_gives_the_document_unchanged() -> None:
    assert apply_edits(_doc(), []) == _doc()


def test_fold_ignores_case_accents_and_spacing() -> None:
    assert fold("  Enquêteur   ÉLODIE\nçà ") == "enqueteur elodie ca"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-10", ByteRange(990, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=900-5000", ByteRange(900, 999)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole object
        ("items=0-1", None),
        ("bytes=50-10", None),
    ],
)
def test_parse_range(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_range(header, 1000)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"fLaC\x00\x00", "audio/flac"),
        (b"OggS\x00\x02", "audio/ogg"),
        (b"ID3\x04", "audio/mpeg"),
        (b"\x00\x00\x00\x20ftypisom", "video/mp4"),
        (b"\x1a\x45\xdf\xa3\x01", "video/webm"),
        (b"garbage!", "application/octet-stream"),
    ],
)
def test_media_type_from_the_first_bytes(head: bytes, kind: str) -> None:
    assert media_type(head) == kind


def test_a_segment_given_to_another_speaker_keeps_its_words_and_follows_later_renames() -> None:
    doc = _doc()
    doc["segments"][0]["words"][0]["speaker"] = "S1"
    move = TranscriptEdit(kind="segment_speaker", segment_id=0, speaker="S2", before="S1", after="S2")
    revised = apply_edits(doc, [move, _speaker("S2", "Greffière")])
    segment = revised["segments"][0]
    assert segment["speaker"] == "S2" and segment["text"] == "Bonjour, je suis Jean."
    assert segment["words"][0]["speaker"] == "S2"
    assert doc["segments"][0]["speaker"] == "S1", "the original is never modified"
    undo = TranscriptEdit(kind="segment_speaker", segment_id=0, speaker="S1", before="S2", after="S1")
    assert apply_edits(doc, [move, undo])["segments"][0]["speaker"] == "S1"


def test_a_corrected_word_joins_the_previous_one_as_french_writes_it() -> None:
    revised = apply_edits(_doc(), [_word(0, 1, "d"), _word(0, 2, "'accord")])
    segment = revised["segments"][0]
    assert segment["text"] == "Bonjour, d'accord Jean."
    assert [w.get("join", " ") for w in segment["words"]] == [" ", " ", "", " "]
    # and back: "'accord" corrected into "accord" stands apart again
    again = apply_edits(revised, [_word(0, 2, "accord")])
    assert again["segments"][0]["text"] == "Bonjour, d accord Jean."
    assert again["segments"][0]["words"][2]["join"] == " "
    # a plain correction keeps the spacing it found (scripts written without spaces too)
    doc = _doc()
    doc["segments"][0]["text"] = "Bonjour,jesuisJean."
    assert apply_edits(doc, [_word(0, 2, "était")])["segments"][0]["text"] == "Bonjour,jeétaitJean."
