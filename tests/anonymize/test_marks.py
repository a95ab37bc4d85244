"""Spans marked or unmarked by hand reach every part of the pseudonymised transcript."""

from __future__ import annotations

import pytest

from verbatim.anonymize import get_policy
from verbatim.anonymize.engine import HandMark, pseudonymize_transcript
from verbatim.pipeline.types import Segment, SegmentTranslation, Transcript, Word

pytestmark = pytest.mark.models


def _words(text: str, t0: float) -> tuple[Word, ...]:
    return tuple(
        Word(t0 + i * 0.3, t0 + i * 0.3 + 0.25, (" " if i else "") + w, 0.9)
        for i, w in enumerate(text.split())
    )


def _transcript() -> Transcript:
    first = "Il a jeté une Pierre sur la voiture de Julie."
    second = "Le petit loup est venu avec Kévin."
    segments = (
        Segment(
            0, 0.0, 3.0, first, _words(first, 0.0), "S1", "fr",
            translation=SegmentTranslation("en", "He threw a Pierre at the car.", "test"),
        ),
        Segment(1, 3.0, 6.0, second, _words(second, 3.0), "S2", "fr"),
    )  # fmt: skip
    return Transcript(
        language="fr", duration=6.0, segments=segments, audio_sha256="0" * 64, filename="",
        speakers={"S1": "Enquêteur", "S2": "loup"},
    )  # fmt: skip


def test_unmark_leaves_a_detected_word_in_clear_in_its_segment_and_translation() -> None:
    transcript = _transcript()
    copy, _ = pseudonymize_transcript(transcript, get_policy("hearing"))
    assert "Pierre" not in copy.segments[0].translation.text  # type: ignore[union-attr]
    copy, _ = pseudonymize_transcript(
        transcript, get_policy("hearing"), marks=[HandMark(0, 4, 1, marked=False)]
    )
    assert "une Pierre sur" in copy.segments[0].text
    assert "a Pierre at" in copy.segments[0].translation.text  # type: ignore[union-attr]
    assert "Julie" not in copy.segments[0].text  # the rest is still pseudonymised


def test_mark_hides_a_missed_word_in_text_speaker_names_and_the_released_audio() -> None:
    transcript = _transcript()
    copy, mapping = pseudonymize_transcript(transcript, get_policy("hearing"))
    assert "loup" in copy.segments[1].text and copy.speakers["S2"] != "loup"
    loup = transcript.segments[1].words[2]
    assert not any(s <= loup.start and loup.end <= e for s, e in mapping.intervals)
    copy, mapping = pseudonymize_transcript(
        transcript, get_policy("hearing"), marks=[HandMark(1, 2, 1, marked=True)]
    )
    assert "loup" not in copy.segments[1].text.lower()
    assert "loup" not in copy.speakers["S2"].lower()
    assert any(s <= loup.start and loup.end <= e for s, e in mapping.intervals)  # toned in the release


def test_the_last_mark_over_the_same_words_wins() -> None:
    marks = [HandMark(0, 4, 1, marked=False), HandMark(0, 4, 1, marked=True)]
    copy, _ = pseudonymize_transcript(_transcript(), get_policy("hearing"), marks=marks)
    assert "Pierre" not in copy.segments[0].text
