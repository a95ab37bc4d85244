"""Token scoring of the anonymisation benchmark on a tiny hand-made annotated text."""

from __future__ import annotations

from pathlib import Path

from verbatim.bench.anonymize import load_conll, score_tokens


def test_token_recall_and_precision(tmp_path: Path) -> None:
    path = tmp_path / "doc.tsv"
    path.write_text(
        "Mme B-PER\nJulie I-PER\nMartin I-PER\nhabite O\nà O\nLyon B-LOC\n. O\n\n"
        "M B-LEGAL_PROFESSIONAL\n. I-LEGAL_PROFESSIONAL\nDupont I-LEGAL_PROFESSIONAL\njuge O\n",
        encoding="utf-8",
    )
    doc = load_conll(path, separator=None, name="t")
    assert doc.text == "Mme Julie Martin habite à Lyon .\nM . Dupont juge"
    julie = doc.text.index("Julie")
    dupont = doc.text.index("Dupont")
    prediction = [
        (julie, julie + len("Julie Martin"), "PER"),
        (dupont, dupont + 6, "PER"),  # a judge taken for a party: a PER false positive
        (doc.text.index("habite"), doc.text.index("habite") + 6, "LOC"),  # a LOC false positive
    ]
    counts = score_tokens(doc, prediction, ("PER", "LOC", "LEGAL_PROFESSIONAL"))
    # "Mme" is a title: not scored. Julie and Martin found; Dupont is not a party.
    assert (counts["PER"].gold, counts["PER"].tp, counts["PER"].predicted) == (2, 2, 3)
    assert counts["LOC"].recall == 0.0 and counts["LOC"].precision == 0.0
    assert counts["LEGAL_PROFESSIONAL"].recall == 0.0
    assert counts["identifying"].gold == 3 and counts["identifying"].tp == 2
