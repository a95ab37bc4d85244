"""Overlaps between recognizers are resolved into one span per stretch of text."""

from __future__ import annotations

import pytest

from verbatim.anonymize.spans import Span, merge_spans


def span(
    start: int, end: int, category: str, score: float, text: str = "", professional: bool = False
) -> Span:
    return Span(start, end, category, score, text or "x" * (end - start), "test", professional)


def test_same_category_overlaps_are_united_and_stay_private_if_one_part_is() -> None:
    text = "Julie Martin"
    merged = merge_spans([span(0, 5, "PER", 0.6, text[0:5], True), span(0, 12, "PER", 0.9, text, False)])
    assert [(s.start, s.end, s.score, s.professional) for s in merged] == [(0, 12, 0.9, False)]
    assert merged[0].text == text


def test_a_more_specific_category_wins_and_the_rest_is_cut() -> None:
    # An e-mail inside what the NER model called an organisation.
    text = "chez Renault julie@renault.fr"
    org = Span(5, 29, "ORG", 0.6, text[5:29], "spacy")
    email = Span(13, 29, "EMAIL", 1.0, text[13:29], "email")
    merged = merge_spans([org, email])
    assert [(s.category, s.text) for s in merged] == [("ORG", "Renault"), ("EMAIL", "julie@renault.fr")]


def test_invalid_offsets_are_refused() -> None:
    with pytest.raises(ValueError):
        Span(5, 5, "PER", 1.0, "", "test")
