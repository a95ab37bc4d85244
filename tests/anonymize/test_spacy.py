"""The real spaCy French model: persons, places, organisations, and the whole analyzer on a hearing."""

from __future__ import annotations

import pytest

from verbatim.anonymize import get_policy, pseudonymize_text
from verbatim.anonymize.analyzer import default_analyzer
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.registry import create_recognizer

pytestmark = pytest.mark.models

HEARING = (
    "Le brigadier Lefort : Bonjour, tu peux me dire comment tu t'appelles ?\n"
    "Je m'appelle Inès Benali, j'ai neuf ans. J'habite à Villeurbanne avec maman et Rachid.\n"
    "Rachid Benali c'est mon beau-père. Il travaille chez Renault. Mon école c'est le collège Jean-Moulin.\n"
    "Maître Girard assiste l'enfant. Hier, Rachid a crié sur Inès."
)


def test_spacy_recognizer_finds_persons_and_places() -> None:
    spans = create_recognizer("spacy").analyze(
        AnalysisContext("Hier Paul Durand est allé à Lyon chez Renault.")
    )
    found = {(s.text, s.category) for s in spans}
    assert ("Paul Durand", "PER") in found and ("Lyon", "LOC") in found


def test_a_hearing_of_a_minor_keeps_the_professionals_only() -> None:
    result, mapping = pseudonymize_text(HEARING, get_policy("hearing"), analyzer=default_analyzer())
    out = result.text
    for name in ("Inès", "Benali", "Rachid", "Villeurbanne", "Renault"):
        assert name not in out, out
    assert "brigadier Lefort" in out and "Maître Girard" in out
    assert "maman" in out
    # Same aliases everywhere.
    rachid = next(e["alias"] for e in mapping.entries if "Rachid" in e["originals"])
    assert out.count(rachid) == 3
