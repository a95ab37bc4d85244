"""Phone numbers, e-mails, NIR and IBAN, written and spoken: recall 1.0, look-alikes refused."""

from __future__ import annotations

import pytest

from verbatim.anonymize.analyzer import default_analyzer
from verbatim.bench.anonymize import generate_contact_cases, score_generated


def _predict_rules(text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.category) for s in default_analyzer(ner=False).analyze(text)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_generated_forms_are_all_found(seed: int) -> None:
    cases = generate_contact_cases(seed=seed, per_form=8)
    forms = {c.form for c in cases}
    assert {"phone spoken", "email spoken", "nir spoken", "iban spoken", "iban blocks", "decoys"} <= forms
    assert {"siret grouped", "siren in context", "siren compact"} <= forms
    scores = score_generated(cases, _predict_rules)
    expected = {"COMPANY_ID": 1.0, "EMAIL": 1.0, "IBAN": 1.0, "NIR": 1.0, "PHONE": 1.0}
    assert scores["recall"] == expected, scores["missed_forms"]
    # a wrong NIR key, a wrong IBAN checksum, a wrong SIREN check digit, per round
    assert scores["decoys"] == 24 and scores["decoys_found"] == 0


@pytest.mark.models
def test_generated_forms_with_the_ner_model_too() -> None:
    analyzer = default_analyzer()
    scores = score_generated(
        generate_contact_cases(seed=3, per_form=4),
        lambda text: [(s.start, s.end, s.category) for s in analyzer.analyze(text)],
    )
    assert set(scores["recall"].values()) == {1.0}, scores["missed_forms"]
    assert scores["decoys_found"] == 0
