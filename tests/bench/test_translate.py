"""`verbatim bench translate`: reading the FLEURS references, BLEU/chrF scoring, language accuracy, and the
command's registration (the benchmark itself runs on demand, never in the tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from verbatim.bench.common import BenchError
from verbatim.bench.translate import _segment_language_accuracy, load_translation_clips, score_translations

pytest.importorskip("sacrebleu")


def _refs(folder: Path) -> Path:
    fleurs = folder / "fleurs-test-5lang"
    fleurs.mkdir(parents=True)
    rows = [
        "clip\tlang\tduration_s\tflores200_devtest_line_0based\ttranscript_fleurs_normalised\tref_eng\tref_fra\tref_arb",
        "fleurs-de-000.ogg\tde\t1.0\t1\tx\tTo get the best views of Hong Kong.\ty\tz",
        "fleurs-de-001.ogg\tde\t1.0\t2\tx\tIt also attacked anything.\ty\tz",
        "fleurs-fr-000.ogg\tfr\t1.0\t3\tx\tMissing clip.\ty\tz",
    ]
    (fleurs / "speech_translation_refs.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for name in ("fleurs-de-000.ogg", "fleurs-de-001.ogg"):
        (fleurs / name).write_bytes(b"")
    return folder


def test_clips_with_their_references_and_limit(tmp_path: Path) -> None:
    data = _refs(tmp_path)
    clips = load_translation_clips(data)
    assert [(c.path.name, c.language) for c in clips] == [
        ("fleurs-de-000.ogg", "de"),
        ("fleurs-de-001.ogg", "de"),
    ]
    assert clips[0].reference_en == "To get the best views of Hong Kong."
    assert len(load_translation_clips(data, limit=1)) == 1
    with pytest.raises(BenchError, match="speech_translation_refs"):
        load_translation_clips(tmp_path / "nowhere")


def test_bleu_and_chrf_reward_the_closer_translation() -> None:
    refs = ["To get the best views of Hong Kong, leave the island.", "It also attacked anything."]
    exact = score_translations(refs, refs)
    close = score_translations(
        ["For the best views of Hong Kong, leave the island.", "It attacked anything."], refs
    )
    far = score_translations(["Kowloon.", "The dinosaur."], refs)
    assert exact["bleu"] == pytest.approx(100.0) and exact["chrf"] == pytest.approx(100.0)
    assert exact["bleu"] > close["bleu"] > far["bleu"]
    assert exact["chrf"] > close["chrf"] > far["chrf"]


def test_language_accuracy_is_weighted_by_speech_time() -> None:
    segments = [
        {"start": 0.0, "end": 3.0, "language": "de"},
        {"start": 3.0, "end": 4.0, "language": "en"},
    ]
    assert _segment_language_accuracy(segments, "de") == pytest.approx(0.75)
    assert _segment_language_accuracy([], "de") is None


def test_command_is_registered() -> None:
    from typer.testing import CliRunner

    from verbatim.bench.cli import bench_app

    result = CliRunner().invoke(bench_app, ["translate", "--help"])
    assert result.exit_code == 0 and "BLEU" in result.output
