"""Spoken French numbers become digits, with the way back to the words that were said."""

from __future__ import annotations

import pytest

from verbatim.anonymize.normalize import fold, french_number, normalize_numbers


@pytest.mark.parametrize(
    "n", [*range(2, 9), *range(10, 100), 101, 116, 171, 199, 238, 1985, 2012, 3000, 70071, 99999]
)
def test_every_number_said_in_words_comes_back_as_its_digits(n: int) -> None:
    words = french_number(n)
    assert normalize_numbers(words).text == str(n), words


def test_a_phone_number_said_in_pairs_keeps_its_groups_and_maps_back() -> None:
    text = "c'est le zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit, voilà"
    norm = normalize_numbers(text)
    assert norm.text == "c'est le 0 6 12 34 56 78, voilà"
    start = norm.text.index("0")
    end = norm.text.index("78") + 2
    o_start, o_end = norm.original_span(start, end)
    assert text[o_start:o_end] == "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit"


def test_unhyphenated_tens_and_units_are_two_numbers_as_in_a_dictated_number() -> None:
    # "soixante douze" dictated in pairs is 60 then 12; "soixante-douze" is 72.
    assert normalize_numbers("zéro sept vingt-cinq soixante douze trente").text == "0 7 25 60 12 30"
    assert normalize_numbers("soixante-douze").text == "72"


def test_a_lone_article_is_not_a_number_but_an_age_is() -> None:
    assert normalize_numbers("j'ai un frère et une sœur").text == "j'ai un frère et une sœur"
    assert normalize_numbers("j'ai neuf ans").text == "j'ai 9 ans"


def test_commas_separate_numbers() -> None:
    assert normalize_numbers("quatre-vingt-dix-neuf, mille").text == "99 1000"


def test_fold_ignores_accents_and_case() -> None:
    assert fold("Kévin LEFÈVRE") == fold("kevin lefevre")
