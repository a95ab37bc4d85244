"""Text normalisation, WER aggregation, ratios, tables, JSON and data-folder lookup of the benchmark."""

from __future__ import annotations

import json
import math
from datetime import datetime
from pathlib import Path

import pytest

from verbatim.bench.common import (
    BenchError,
    WerScore,
    clip_wer,
    corpus_wer,
    default_json_path,
    format_table,
    normalize_text,
    pair_order,
    ratio,
    resolve_data_dir,
    stage_seconds,
    write_json,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il a ajouté qu’« on ne devrait pas »", "il a ajouté qu'on ne devrait pas"),
        ("L'accident, a eu lieu... en TERRAIN montagneux !", "l'accident a eu lieu en terrain montagneux"),
        ("des États-Unis", "des états unis"),
        ("  many\tspaces\n here ", "many spaces here"),
        ("'quoted' words", "quoted words"),
        ("25 to 30 years", "25 to 30 years"),
        ("", ""),
        ("?!...", ""),
    ],
)
def test_normalize_text(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


def test_normalize_text_is_nfc() -> None:
    decomposed = "e\u0301te\u0301"  # "été" written with combining accents
    assert normalize_text(decomposed) == "été"
    assert normalize_text(decomposed) == normalize_text("ÉTÉ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il a vingt-deux ans.", "il a 22 ans"),
        ("Il a 22 ans", "il a 22 ans"),
        ("en mille neuf cent quatre-vingt-dix-huit", "en 1998"),
        ("dix-sept heures trente", "17 heures 30"),
        ("1 000 euros", "1000 euros"),
        ("mille euros", "1000 euros"),
        # small numbers are articles and pronouns too: they stay words on both sides
        ("un chat et une souris", "un chat et une souris"),
    ],
)
def test_french_numbers_are_scored_as_digits(text: str, expected: str) -> None:
    assert normalize_text(text, "fr") == expected


def test_numbers_only_in_a_known_language() -> None:
    assert normalize_text("vingt-deux") == "vingt deux"
    assert normalize_text("twenty two people", "en") == "22 people"
    assert normalize_text("vingt-deux", "ar") == "vingt deux"


def test_spelled_number_against_digits_is_no_error() -> None:
    reference = "elle est partie à dix-sept heures avec vingt-deux personnes"
    assert clip_wer(reference, "Elle est partie à 17 heures avec 22 personnes.", "fr").errors == 0
    assert clip_wer(reference, "Elle est partie à 17 heures avec 22 personnes.").errors == 4


def test_fillers_dropped_only_when_asked() -> None:
    reference = "et euh donc heu c'est toi hum qui as les contacts"
    hypothesis = "Et donc c'est toi qui as les contacts."
    kept = clip_wer(reference, hypothesis, "fr")
    assert (kept.deletions, kept.reference_words) == (3, 11)
    bare = clip_wer(reference, hypothesis, "fr", drop_fillers=True)
    assert (bare.errors, bare.reference_words) == (0, 8)
    # a hypothesis's own fillers go as well, and words that carry meaning stay
    assert normalize_text("Euh, ben oui, hum.", "fr", drop_fillers=True) == "ben oui"


def test_clip_wer_normalises_both_sides() -> None:
    score = clip_wer("Ask not what your country can do for you.", "ask not, what your country can do for YOU")
    assert score.errors == 0
    assert score.reference_words == 9
    assert score.wer == 0.0


def test_clip_wer_counts_each_error_kind() -> None:
    score = clip_wer("a b c d", "a x c d e")
    assert (score.substitutions, score.deletions, score.insertions) == (1, 0, 1)
    assert score.wer == pytest.approx(0.5)
    deleted = clip_wer("a b c d", "a b")
    assert deleted.deletions == 2


def test_empty_reference_counts_insertions() -> None:
    score = clip_wer("", "Thank you.")
    assert score.insertions == 2
    assert score.reference_words == 0
    assert math.isnan(score.wer)
    assert clip_wer("", "").errors == 0


def test_empty_hypothesis_counts_deletions() -> None:
    score = clip_wer("un deux trois", "")
    assert score.deletions == 3
    assert score.wer == 1.0


def test_corpus_wer_sums_errors_not_rates() -> None:
    # One long perfect clip and one short wrong clip: corpus WER is 1/11, not the mean 0.5 of the two rates.
    pairs = [
        (
            "one two three four five six seven eight nine ten",
            "one two three four five six seven eight nine ten",
        ),
        ("word", "other"),
    ]
    score = corpus_wer(pairs)
    assert score.reference_words == 11
    assert score.errors == 1
    assert score.wer == pytest.approx(1 / 11)


def test_wer_score_addition_and_dict() -> None:
    total = WerScore(1, 2, 3, 10, 12) + WerScore(0, 1, 0, 5, 4)
    assert total == WerScore(1, 3, 3, 15, 16)
    d = total.to_dict()
    assert d["errors"] == 7
    assert d["wer"] == pytest.approx(7 / 15)
    assert WerScore().to_dict()["wer"] is None


def test_ratio() -> None:
    assert ratio(1.0, 2.0) == 0.5
    assert ratio(1.0, 0.0) is None
    assert ratio(None, 2.0) is None
    assert ratio(math.nan, 2.0) is None
    assert ratio(1.0, math.inf) is None


def test_pair_order_alternates_who_goes_first() -> None:
    orders = [pair_order(i) for i in range(4)]
    assert orders == [("ours", "plain"), ("plain", "ours"), ("ours", "plain"), ("plain", "ours")]


def test_stage_seconds_splits_the_whole_run_and_sums_repeated_stages() -> None:
    changes = [("transcribe", 11.0), ("language", 13.0), ("transcribe", 14.0), ("diarize", 16.0)]
    seconds = stage_seconds(changes, 10.0, 20.0)
    assert seconds == pytest.approx({"other": 1.0, "transcribe": 4.0, "language": 1.0, "diarize": 4.0})
    assert sum(seconds.values()) == pytest.approx(10.0)
    # a report at the very start leaves nothing to "other"; no report at all is all "other"
    assert stage_seconds([("transcribe", 0.0)], 0.0, 2.0) == pytest.approx({"transcribe": 2.0})
    assert stage_seconds([], 0.0, 2.0) == pytest.approx({"other": 2.0})


def test_format_table_aligns_columns() -> None:
    table = format_table("T", ["name", "value"], [["a", 0.12345], ["longer name", None], ["b", 3]])
    lines = table.splitlines()
    assert lines[0] == "T"
    assert "0.123" in table and "-" in lines[5]
    body = lines[4:7]
    assert len({len(line) for line in body}) == 1  # fixed width
    assert body[0].endswith("0.123")  # numbers right-aligned


def test_write_json_strict(tmp_path: Path) -> None:
    out = write_json(tmp_path / "deep" / "r.json", {"a": math.nan, "b": [1.5, math.inf], "p": tmp_path})
    text = out.read_text(encoding="utf-8")
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [1.5, None], "p": str(tmp_path)}


def test_default_json_path() -> None:
    path = default_json_path("core", datetime(2025, 1, 2, 3, 4, 5))
    assert path == Path("bench-results") / "core-20250102-030405.json"


def test_resolve_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "shared" / "data"
    data.mkdir(parents=True)
    repo = tmp_path / "repo"
    repo.mkdir()
    assert resolve_data_dir(None, cwd=repo) == data.resolve()
    assert resolve_data_dir(data) == data.resolve()
    with pytest.raises(BenchError, match="does not exist"):
        resolve_data_dir(tmp_path / "missing")
