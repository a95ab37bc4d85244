"""Scoring and reporting of the core benchmark, with canned worker results (no model is run)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from verbatim.bench import core
from verbatim.bench.cli import bench_app
from verbatim.bench.common import WorkerResult
from verbatim.bench.core import der_summary, reference_speech, run_core, split_pair, wall_by_set, wer_by_set
from verbatim.bench.manifest import Clip

CLIPS = [
    Clip(id="fr/a", set="fr", kind="asr", path="a.wav", reference="le chat dort"),
    Clip(id="fr/b", set="fr", kind="asr", path="b.wav", reference="il pleut"),
    Clip(id="en/c", set="en", kind="asr", path="c.wav", reference="ask not"),
    Clip(id="silence/s", set="silence", kind="asr", generated="silence", duration=60.0, reference=""),
    Clip(
        id="multi/m",
        set="multi",
        kind="diarization",
        path="m.wav",
        rttm=((0.0, 10.0, "A"), (10.0, 20.0, "B")),
        uem=(0.0, 20.0),
    ),
]


def test_wer_by_set_is_corpus_level_and_skips_silence() -> None:
    scores = wer_by_set(
        CLIPS, {"fr/a": "le chat dort", "fr/b": "il fait", "en/c": "ask not", "silence/s": "you"}
    )
    assert set(scores) == {"fr", "en"}
    assert scores["fr"].errors == 1 and scores["fr"].reference_words == 5
    assert scores["en"].wer == 0.0


def test_wer_by_set_reads_numbers_in_the_clip_language_and_can_drop_fillers() -> None:
    clips = [Clip(id="fr/n", set="fr", kind="asr", path="n.wav", language="fr", reference="euh vingt-deux")]
    assert wer_by_set(clips, {"fr/n": "22"})["fr"].deletions == 1  # the filler, a word said
    bare = wer_by_set(clips, {"fr/n": "22"}, drop_fillers=True)["fr"]
    assert (bare.errors, bare.reference_words) == (0, 1)


def test_der_summary_weights_by_reference_speech() -> None:
    assert der_summary([(0.0, 90.0), (1.0, 10.0)]) == pytest.approx(0.1)
    assert math.isnan(der_summary([]))


def test_reference_speech_counts_overlap_per_speaker_inside_uem() -> None:
    turns = [(0.0, 10.0, "A"), (5.0, 12.0, "A"), (8.0, 15.0, "B"), (40.0, 50.0, "B")]
    assert reference_speech(turns, (0.0, 30.0)) == pytest.approx(12.0 + 7.0)
    assert reference_speech(turns, None) == pytest.approx(12.0 + 7.0 + 10.0)


def _asr(texts: dict[str, str], rtf: float, rss: float) -> dict[str, Any]:
    clips = [
        {"id": k, "text": v, "audio_s": 10.0, "process_s": 10.0 * rtf, "language": "fr", "words": 0}
        for k, v in texts.items()
    ]
    return {"load_s": 1.0, "warmup_s": 2.0, "clips": clips, "peak_rss_mb": rss}


def _diar(turns: list[list[object]], seconds: float, rss: float) -> dict[str, Any]:
    clip = {
        "id": "multi/m",
        "turns": turns,
        "num_speakers": len({t[2] for t in turns}),
        "audio_s": 20.0,
        "process_s": seconds,
    }
    return {"load_s": 0.5, "warmup_s": 3.0, "clips": [clip], "peak_rss_mb": rss}


def test_run_core_scores_and_reports(monkeypatch: pytest.MonkeyPatch) -> None:
    canned = {
        "ours": _asr(
            {"fr/a": "Le chat dort.", "fr/b": "Il pleut", "en/c": "Ask not!", "silence/s": ""}, 0.5, 900
        ),
        "plain": _asr(
            {"fr/a": "le chien dort", "fr/b": "il pleut", "en/c": "ask not", "silence/s": "You you"}, 0.4, 600
        ),
        "diar-ours": _diar([[0.0, 10.0, "S1"], [10.0, 20.0, "S2"]], 4.0, 700),
        "diar-senko": _diar([[0.0, 20.0, "S1"]], 2.0, 800),
    }
    seen: list[tuple[str, list[str]]] = []

    def fake_run_worker(system: str, manifest: Path, out: Path, **_: object) -> WorkerResult:
        ids = [c["id"] for c in json.loads(manifest.read_text(encoding="utf-8"))]
        seen.append((system, ids))
        return WorkerResult(canned[system], 1.0, canned[system]["peak_rss_mb"])

    monkeypatch.setattr(core, "run_worker", fake_run_worker)
    report = run_core(CLIPS, log=lambda _m: None)

    assert [s for s, _ in seen] == ["ours", "plain", "diar-ours", "diar-senko"]
    assert seen[0][1] == ["fr/a", "fr/b", "en/c", "silence/s"] and seen[2][1] == ["multi/m"]
    data = report.data
    assert data["wer_by_set"]["fr"]["ours"]["wer"] == 0.0
    assert data["wer_by_set"]["fr"]["plain"]["wer"] == pytest.approx(1 / 5)
    assert data["silence"][0]["words_ours"] == 0 and data["silence"][0]["words_plain"] == 2
    ratios = data["ratios"]
    assert ratios["WER (all speech)"]["ratio"] == 0.0
    assert ratios["RTF (speech clips)"]["ratio"] == pytest.approx(0.5 / 0.4)
    assert ratios["peak RSS MB"]["ratio"] == pytest.approx(1.5)
    assert data["diarization"]["der_ours"] == pytest.approx(0.0)
    assert data["diarization"]["der_senko"] == pytest.approx(0.5)  # one speaker for two: half confused
    assert ratios["DER"]["ratio"] == 0.0
    text = "\n".join(report.tables)
    for title in ("WER by set", "Silence and noise", "Speed and memory", "Diarisation: DER", "Ratios"):
        assert title in text
    json.dumps(data)  # serialisable as is


def test_wall_by_set_sums_per_set_and_over_all() -> None:
    ours = {
        "fr/a": {"audio_s": 10.0, "process_s": 3.0, "stage_own_s": {"transcribe": 2.0, "diarize": 1.0}},
        "fr/b": {"audio_s": 5.0, "process_s": 2.0, "stage_own_s": {"transcribe": 1.5, "other": 0.5}},
        "en/c": {"audio_s": 5.0, "process_s": 1.0},
    }
    plain = {"fr/a": {"process_s": 4.0}, "fr/b": {"process_s": 4.0}, "en/c": {"process_s": 0.5}}
    walls = wall_by_set(CLIPS, ours, plain)
    assert list(walls) == ["fr", "en", "all"]  # sets in clip order, then all; clips missing a result skipped
    assert walls["fr"]["clips"] == 2 and walls["fr"]["audio_s"] == 15.0
    assert walls["fr"]["ours_s"] == 5.0 and walls["fr"]["plain_s"] == 8.0
    assert walls["fr"]["ratio"] == pytest.approx(5 / 8)
    assert walls["fr"]["stages"] == {"transcribe": 3.5, "diarize": 1.0, "other": 0.5}
    assert walls["en"]["ratio"] == pytest.approx(2.0)
    assert walls["all"]["ours_s"] == 6.0 and walls["all"]["ratio"] == pytest.approx(6 / 8.5)


def test_run_core_interleaved_runs_one_pair_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    ours = _asr(
        {"fr/a": "le chat dort", "fr/b": "il pleut", "en/c": "ask", "silence/s": "", "multi/m": "oui"}, 0.5, 0
    )
    plain = _asr(
        {"fr/a": "le chien dort", "fr/b": "il", "en/c": "ask", "silence/s": "", "multi/m": "oui"}, 1.0, 0
    )
    pair = {
        "load_s": 3.0,
        "warmup_s": 4.0,
        "info": {"ours": {"o": 1}, "plain": {"p": 1}},
        "clips": [
            {"id": o["id"], "audio_s": 10.0, "ours": o, "plain": p}
            for o, p in zip(ours["clips"], plain["clips"], strict=True)
        ],
        "peak_rss_mb": 1500.0,
    }
    canned = {
        "pair": pair,
        "diar-ours": _diar([[0.0, 10.0, "S1"], [10.0, 20.0, "S2"]], 4.0, 700),
        "diar-senko": _diar([[0.0, 20.0, "S1"]], 2.0, 800),
    }
    seen: list[tuple[str, list[str]]] = []

    def fake_run_worker(system: str, manifest: Path, out: Path, **_: object) -> WorkerResult:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
        seen.append((system, [c["id"] for c in entries]))
        if system == "pair":
            assert {c["kind"] for c in entries} == {"asr"}  # the multi-speaker clip transcribed by both
        return WorkerResult(canned[system], 1.0, canned[system]["peak_rss_mb"])

    monkeypatch.setattr(core, "run_worker", fake_run_worker)
    report = run_core(CLIPS, log=lambda _m: None, interleave=True)
    assert [s for s, _ in seen] == ["pair", "diar-ours", "diar-senko"]
    assert seen[0][1] == ["fr/a", "fr/b", "en/c", "silence/s", "multi/m"]
    data = report.data
    assert data["interleaved"] is True
    assert data["wer_by_set"]["fr"]["plain"]["deletions"] == 1
    assert set(data["wall_by_set"]) == {"fr", "en", "silence", "multi", "all"}
    assert data["ratios"]["wall time (all ASR clips)"]["ratio"] == pytest.approx(0.5)
    assert "peak RSS MB" not in data["ratios"]  # one process: no memory ratio
    assert "interleaved clip by clip" in "\n".join(report.tables)


def test_split_pair_gives_each_system_its_clips() -> None:
    pair = WorkerResult(
        {
            "load_s": 1.0,
            "warmup_s": 2.0,
            "info": {"ours": {"o": 1}, "plain": {"p": 1}},
            "clips": [{"id": "x", "audio_s": 1.0, "ours": {"text": "a"}, "plain": {"text": "b"}}],
        },
        5.0,
        900.0,
    )
    ours, plain = split_pair(pair)
    assert ours.data["clips"] == [{"id": "x", "text": "a"}] and plain.data["clips"] == [
        {"id": "x", "text": "b"}
    ]
    assert ours.data["info"] == {"o": 1} and plain.peak_rss_mb == 900.0 and ours.data["interleaved"]


def test_cli_help_and_missing_data(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(bench_app, ["--help"])
    assert result.exit_code == 0 and "--manifest" in result.output and "--long" in result.output
    result = runner.invoke(bench_app, ["--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "does not exist" in result.output


def test_cli_import_is_light() -> None:
    import subprocess
    import sys

    code = (
        "import sys, verbatim.bench.cli; print(sorted(m for m in ('torch', 'faster_whisper', 'ctranslate2', "
        "'av', 'jiwer', 'pyannote') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
