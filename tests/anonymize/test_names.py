"""Persons found without the NER model: titles, contexts, first names, spelled names; professionals."""

from __future__ import annotations

from verbatim.anonymize.analyzer import default_analyzer
from verbatim.anonymize.spans import Span


def people(text: str) -> list[Span]:
    return [s for s in default_analyzer(ner=False).analyze(text) if s.category == "PER"]


def names(text: str) -> list[tuple[str, bool]]:
    return [(s.text, s.professional) for s in people(text)]


def test_context_words_announce_a_name_even_in_lower_case() -> None:
    found = names("Bonjour, je m'appelle Julie Martin. Mon beau-père Kévin, il crie. elle s'appelle inès")
    assert ("Julie Martin", False) in found
    assert ("Kévin", False) in found
    assert ("inès", False) in found


def test_titles_and_initials() -> None:
    found = names("La requérante, Mme Anne-Marie Andersson, et M. E. Palm, juge, ont été entendus.")
    assert ("Anne-Marie Andersson", False) in found
    assert ("E. Palm", True) in found


def test_a_known_first_name_alone_mid_sentence() -> None:
    assert names("Hier soir, Sandrine est rentrée tard.") == [("Sandrine", False)]
    # A capitalised word at the start of a sentence is not taken for a first name on its own.
    assert names("Rose était la couleur du mur.") == []


def test_spelled_names_carry_the_word_they_spell() -> None:
    found = people("Ça s'écrit M-A-R-T-I-N. Et le prénom : J, U, L, I, E.")
    assert [(s.text, s.key) for s in found] == [("M-A-R-T-I-N", "martin"), ("J, U, L, I, E", "julie")]
    assert people("Le jugement dit D E C I D E :") == []


def test_professionals_stay_marked_parties_do_not() -> None:
    text = (
        "Le brigadier Lefort entend la mineure. Maître Lefèvre assiste l'enfant. Je m'appelle Julie Martin. "
        "Mme Sandrine Leroy, greffière, prend note. Le juge M. Caron préside. Plus tard, M. Lefort reprend."
    )
    found = dict(names(text))
    assert found["Lefèvre"] is True
    assert found["Julie Martin"] is False
    assert found["Sandrine Leroy"] is True
    assert found["Caron"] is True
    assert all(p for t, p in names(text) if "Lefort" in t)


def test_the_client_of_a_lawyer_is_a_party() -> None:
    text = "La SCP Durand, Hannotin, avocat de M. Clovis Aliker ; M. Aliker soutient que..."
    found = names(text)
    assert ("Clovis Aliker", False) in found
    assert ("Aliker", False) in found


def test_a_list_of_judges_is_professional_as_a_whole() -> None:
    text = (
        "La chambre était composée de M. R. Ryssdal, président, M. B. Walsh, Mme E. Palm et "
        "M. J. De Meyer, juges."
    )
    found = names(text)
    assert found and all(p for _, p in found), found


def test_names_found_once_are_found_everywhere() -> None:
    text = "Je m'appelle Julie Martin. Plus tard Julie est partie et Martin aussi."
    found = [s.text for s in people(text)]
    assert found.count("Julie") == 1 and found.count("Martin") == 1
