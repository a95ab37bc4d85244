"""First names that are also French words ("claire", "marine", "rose", "pierre"): names where a person's
name fits, words everywhere else."""

from __future__ import annotations

import pytest

from verbatim.anonymize import get_policy, pseudonymize_text
from verbatim.anonymize.analyzer import default_analyzer

pytestmark = pytest.mark.models

NAMES = [
    ("Réponse : c'est claire qui me l'a dit", "claire"),
    ("Et ta sœur marine, elle était là ?", "marine"),
    ("R : marc il m'a frappée.", "marc"),
    ("Après l'école je suis allée chez pierre.", "pierre"),
    ("Question : rose, est-ce que tu peux me dire ce qu'il t'a fait ?", "rose"),
    ("Oui. Et claire m'a dit de rien dire.", "claire"),
    ("Je m'appelle marine.", "marine"),
    ("Madame rose, vous confirmez ?", "rose"),
    ("Merci claire.", "claire"),
    ("Non, c'est Aimé qui m'a emmenée.", "Aimé"),
    ("OPJ : Tu peux épeler ton nom ? Pierre ?", "Pierre"),
    ("Vous êtes bien Julie Pierre ?", "Pierre"),
]

WORDS = [
    "La pierre est tombée du mur.",
    "L'eau était claire ce matin.",
    "Il porte un pull bleu marine.",
    "Elle a acheté une rose rouge au marché.",
    "La marine nationale a envoyé un navire.",
    "Pierre qui roule n'amasse pas mousse.",
    "Une maison en pierre, claire et lumineuse.",
    "La situation est claire, il faut agir.",
    "Il a une voix claire.",
    "Et la pierre, il l'a jetée où ?",
    "Je voudrais une réponse claire, est-ce que tu comprends ?",
    "Il est entré dans la marine à dix-huit ans.",
    "C'est une pierre qui vient de la carrière.",
    "Il a jeté une pierre sur la voiture.",
    "Mon frère est dans la marine.",
    "J'ai vu une rose, elle était rouge.",
    "Ma fille aime le rose.",
    "La pierre était claire et lisse.",
]


@pytest.mark.parametrize(("line", "name"), NAMES)
def test_a_word_name_where_a_name_fits_is_hidden(line: str, name: str) -> None:
    result, _ = pseudonymize_text(line, get_policy("hearing"))
    assert name not in result.text, result.text


@pytest.mark.parametrize("line", WORDS)
def test_the_same_words_as_words_are_kept(line: str) -> None:
    assert [s for s in default_analyzer().analyze(line) if s.category == "PER"] == []


def test_a_name_the_document_gives_is_found_again_in_lower_case_only_where_a_name_fits() -> None:
    text = (
        "Mineure : Ma copine Claire Dubois est venue.\nR : après avec claire on est rentrées.\n"
        "L'eau était claire."
    )
    result, _ = pseudonymize_text(text, get_policy("hearing"))
    lines = result.text.split("\n")
    assert "Claire" not in lines[0] and "claire" not in lines[1]
    assert lines[2] == "L'eau était claire."
