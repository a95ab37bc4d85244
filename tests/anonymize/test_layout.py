"""The detection text: invisible characters, composed accents and speaker labels (no model needed)."""

from __future__ import annotations

import unicodedata

import pytest

from verbatim.anonymize import get_policy, pseudonymize_text
from verbatim.anonymize.analyzer import default_analyzer
from verbatim.anonymize.layout import (
    detection_text,
    is_structure_label,
    label_spans,
    refuse_invisible,
    strip_invisible,
)
from verbatim.errors import InvalidOptionError

RULES_ONLY = default_analyzer(ner=False)


@pytest.mark.parametrize(
    "line",
    [
        "L'enquêteur : Mme Martin",
        "Enquêtrice : d'accord",
        "Greffière : oui",
        "Question : tu as quel âge ?",
        "S2 : non",
        "SPEAKER_01 : non",
        "Le juge des enfants : bonjour",
        "[00:01:02] Enquêteur : bonjour",
        "Locuteur 2 : oui",
    ],
)
def test_labels_that_open_a_line_are_found(line: str) -> None:
    spans = label_spans(line)
    assert spans, line
    start, end = spans[-1]
    assert line[start:end].rstrip().endswith(":")


def test_two_labels_in_a_row_and_names_are_no_label() -> None:
    line = "Greffière : Question : tu t'appelles comment ?"
    assert [line[s:e] for s, e in label_spans(line)] == ["Greffière :", "Question :"]
    assert label_spans("Mme Martin : oui") == []
    assert label_spans("Julie : oui") == []
    assert label_spans("Il a dit : enquêteur") == []


def test_structure_labels_among_speaker_names() -> None:
    for name in ("Enquêteur", "SPEAKER_00", "S3", "Greffière", "L'avocat de la défense"):
        assert is_structure_label(name), name
    for name in ("Julie Martin", "jdupont42", "Maître Durand"):
        assert not is_structure_label(name), name


def test_detection_text_maps_back_over_invisible_and_decomposed_characters() -> None:
    text = "Je suis Ju\u200blie Mar\u200btin, ne\u0301e a\u0300 Lyon."
    detection = detection_text(text)
    assert detection.text == "Je suis Julie Martin, née à Lyon."
    start = detection.text.index("Julie Martin")
    o_start, o_end = detection.original_span(start, start + len("Julie Martin"))
    assert text[o_start:o_end] == "Ju\u200blie Mar\u200btin"
    at = detection.text.index("née")
    assert text[slice(*detection.original_span(at, at + 3))] == "ne\u0301e"


def test_labels_are_blanked_with_the_same_length() -> None:
    text = "Enquêteur : Julie, viens.\nS1 : oui"
    detection = detection_text(text)
    assert len(detection.text) == len(text)
    assert detection.text.startswith(" " * len("Enquêteur :"))
    assert "S1" not in detection.text and "Julie" in detection.text


def test_invisible_characters_are_refused_with_a_clear_message() -> None:
    assert refuse_invisible("Julie Martin", what="correction") == "Julie Martin"
    assert refuse_invisible("ne\u0301e", what="correction") == "née"
    for bad in ("Ju\u200blie", "\u202eeiluJ", "a\u2066b", "x\ufeff"):
        with pytest.raises(InvalidOptionError, match="correction: invisible or text-direction"):
            refuse_invisible(bad, what="correction")
    assert strip_invisible("Ju\u200blie \u202eX") == "Julie X"


def test_a_name_split_by_invisible_characters_is_replaced_whole() -> None:
    text = "Je m'appelle Ju\u200blie Mar\u200btin."
    result, _ = pseudonymize_text(text, get_policy("hearing"), analyzer=RULES_ONLY)
    assert "\u200b" not in result.text
    for piece in ("Ju", "lie", "Mar", "tin"):
        assert piece not in result.text.removeprefix("Je m'appelle "), result.text
    assert result.text.startswith("Je m'appelle ") and result.text.endswith(".")


def test_labels_are_never_replaced_and_a_name_after_one_is_found() -> None:
    text = "Enquêteur : Julie, est-ce que tu peux me dire ?\nS1 : oui.\nEnquêtrice : bon."
    result, _ = pseudonymize_text(text, get_policy("hearing"), analyzer=RULES_ONLY)
    assert "Julie" not in result.text
    lines = result.text.splitlines()
    assert lines[0].startswith("Enquêteur : ") and lines[1] == "S1 : oui." and lines[2] == "Enquêtrice : bon."


def test_case_numbers_stop_at_a_sentence_and_a_line() -> None:
    policy = get_policy("open-data")
    for text, kept in (
        ("Dossier 2026/123. Le témoin est arrivé.", "Le témoin est arrivé."),
        ("Dossier 2026/123\nLe témoin est arrivé.", "\nLe témoin est arrivé."),
        ("PV n° 2024/01234. Audition", ". Audition"),
    ):
        result, _ = pseudonymize_text(text, policy, analyzer=RULES_ONLY)
        assert result.text.endswith(kept), result.text
        assert "[Numéro de procédure]" in result.text
    result, _ = pseudonymize_text("dossier 12-AB-345 et RG 23/04567", policy, analyzer=RULES_ONLY)
    assert "12" not in result.text and "04567" not in result.text


def test_nothing_but_the_replaced_spans_changes() -> None:
    text = "Témoin : Oui. Ju\u200blie est venue, 06 12 34 56 78.\nQ : et ensuite ?"
    result, _ = pseudonymize_text(text, get_policy("hearing"), analyzer=RULES_ONLY)
    rebuilt, cursor = [], 0
    for r in sorted(result.replacements, key=lambda r: r.start):
        rebuilt += [text[cursor : r.start], r.replacement]
        cursor = r.end
    rebuilt.append(text[cursor:])
    assert "".join(rebuilt) == result.text
    assert unicodedata.is_normalized("NFC", result.text)
