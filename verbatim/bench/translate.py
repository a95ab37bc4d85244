"""`verbatim bench translate`: speech translation into English and per-segment language identification.

On the FLEURS clips of the evaluation data (``fleurs-test-5lang``, references in
``speech_translation_refs.tsv``), side by side in the same run and with the same Whisper model:

- **ours**: the pipeline with ``translate_to='en'`` (language detected per segment, each segment translated
  from its own language by Whisper's speech translation);
- **plain**: faster-whisper's ``transcribe(task="translate")`` on the whole clip, defaults otherwise.

BLEU and chrF (sacrebleu, corpus level) per source language, and their ratios ours / plain. Language
identification: the share of speech time whose segment language is the clip's language (ours) against
faster-whisper's one detection per clip (plain); on ``faster-whisper-testdata/multilingual.mp3`` (English
then German) the sequence of languages found. The cost of per-segment identification on monolingual clips:
the pipeline's time with it and without it (``language_id=False``), same clips, same run.

sacrebleu is in the ``bench`` extra (``pip install -e .[bench]``), not a core dependency.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verbatim.bench.common import BenchError, format_table, ratio

__all__ = [
    "TranslateReport",
    "TranslationClip",
    "load_translation_clips",
    "run_translate",
    "score_translations",
]

Log = Callable[[str], None]


@dataclass(frozen=True)
class TranslationClip:
    """One FLEURS clip and its English reference translation."""

    path: Path
    language: str
    reference_en: str


@dataclass
class TranslateReport:
    """Tables for the terminal and every figure for the JSON file."""

    tables: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)


def load_translation_clips(data_dir: Path, *, limit: int | None = None) -> list[TranslationClip]:
    """The FLEURS clips with their English references (at most ``limit`` per language).

    Raises:
        BenchError: the folder or its reference file is missing.
    """
    folder = data_dir / "fleurs-test-5lang"
    refs = folder / "speech_translation_refs.tsv"
    if not refs.is_file():
        raise BenchError(f"{refs} not found: the FLEURS clips with their translation references are needed.")
    clips: list[TranslationClip] = []
    per_language: dict[str, int] = {}
    with refs.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            path = folder / row["clip"]
            language = row["lang"]
            if not path.is_file() or (limit is not None and per_language.get(language, 0) >= limit):
                continue
            per_language[language] = per_language.get(language, 0) + 1
            clips.append(TranslationClip(path, language, row["ref_eng"]))
    if not clips:
        raise BenchError(f"no clip of {refs} was found in {folder}.")
    return clips


def score_translations(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu defaults: 13a tokenisation, chrF with n=6, beta=2).

    Raises:
        BenchError: sacrebleu is not installed.
    """
    try:
        import sacrebleu
    except ImportError as e:
        raise BenchError("sacrebleu is needed: pip install -e '.[bench]'") from e
    bleu = sacrebleu.corpus_bleu(hypotheses, [references])
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {"bleu": round(float(bleu.score), 2), "chrf": round(float(chrf.score), 2)}


def _segment_language_accuracy(segments: list[dict[str, Any]], language: str) -> float | None:
    spoken = float(sum(max(0.0, s["end"] - s["start"]) for s in segments))
    if spoken <= 0:
        return None
    right = float(sum(max(0.0, s["end"] - s["start"]) for s in segments if s["language"] == language))
    return right / spoken


def run_translate(
    data_dir: Path, *, limit: int | None = None, beam_size: int = 5, log: Log = lambda _: None
) -> TranslateReport:
    """Run the benchmark (see the module's docstring) in this process, one model for both systems.

    Raises:
        BenchError: missing data or sacrebleu.
    """
    from faster_whisper import WhisperModel

    from verbatim.jobs.stages import get_asr
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.export import transcript_to_dict
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import TranslationOptions, Translator

    clips = load_translation_clips(data_dir, limit=limit)
    score_translations(["x"], ["x"])  # fail early without sacrebleu
    settings = get_settings()
    asr = get_asr(settings)
    # plain faster-whisper shares the loaded CTranslate2 model's directory and compute type
    plain = WhisperModel(
        _model_dir(settings),
        device=asr.device,
        compute_type=asr.compute_type,
        cpu_threads=settings.asr.cpu_threads,
        local_files_only=True,
    )
    pipeline = TranscriptionPipeline(asr, translator=Translator(speech=asr))
    ours_options = PipelineOptions(
        asr=AsrOptions(beam_size=beam_size),
        diarize=False,
        translation=TranslationOptions(target="en", beam_size=beam_size),
    )
    rows: list[dict[str, Any]] = []
    for n, clip in enumerate(clips, start=1):
        log(f"{n}/{len(clips)} {clip.path.name}")
        audio = decode(clip.path)
        started = time.perf_counter()
        ours = transcript_to_dict(pipeline.run_audio(audio, ours_options))
        ours_s = time.perf_counter() - started
        started = time.perf_counter()
        generator, info = plain.transcribe(audio.samples, task="translate", beam_size=beam_size)
        plain_text = " ".join(s.text.strip() for s in generator).strip()
        plain_s = time.perf_counter() - started
        segments = ours["segments"]
        rows.append(
            {
                "clip": clip.path.name,
                "language": clip.language,
                "duration": audio.duration,
                "reference": clip.reference_en,
                "ours": " ".join((s["translation"] or {}).get("text", "") for s in segments).strip(),
                "plain": plain_text,
                "ours_s": ours_s,
                "plain_s": plain_s,
                "ours_languages": [s["language"] for s in segments],
                "ours_lid_accuracy": _segment_language_accuracy(segments, clip.language),
                "plain_language": info.language,
            }
        )
    report = TranslateReport()
    report.data["clips"] = rows
    _translation_table(report, rows)
    _lid_table(report, rows)
    _cost_table(report, pipeline, clips, beam_size, decode, log)
    _multilingual(report, data_dir, pipeline, plain, beam_size, log)
    return report


def _model_dir(settings: Any) -> str:
    from verbatim.models.store import ModelStore

    return str(ModelStore(settings.models_dir).resolve(settings.asr.model, kind="asr").path)


def _translation_table(report: TranslateReport, rows: list[dict[str, Any]]) -> None:
    table: list[list[object]] = []
    scores: dict[str, Any] = {}
    languages = sorted({r["language"] for r in rows if r["language"] != "en"})
    for language in [*languages, "all"]:
        chosen = [r for r in rows if r["language"] != "en" and language in (r["language"], "all")]
        if not chosen:
            continue
        refs = [r["reference"] for r in chosen]
        ours = score_translations([r["ours"] for r in chosen], refs)
        plain = score_translations([r["plain"] for r in chosen], refs)
        scores[language] = {"clips": len(chosen), "ours": ours, "plain": plain}
        table.append([
            language, len(chosen), ours["bleu"], plain["bleu"], ratio(ours["bleu"], plain["bleu"]),
            ours["chrf"], plain["chrf"], ratio(ours["chrf"], plain["chrf"]),
        ])  # fmt: skip
    ours_s = sum(r["ours_s"] for r in rows if r["language"] != "en")
    plain_s = sum(r["plain_s"] for r in rows if r["language"] != "en")
    audio_s = sum(r["duration"] for r in rows if r["language"] != "en")
    scores["time"] = {
        "audio_s": audio_s,
        "ours_s": ours_s,
        "plain_s": plain_s,
        "ratio": ratio(ours_s, plain_s),
    }
    report.data["translation"] = scores
    report.tables.append(
        format_table(
            "Speech translation into English (FLEURS; corpus BLEU / chrF, sacrebleu)",
            ["source", "clips", "BLEU ours", "BLEU plain", "ratio", "chrF ours", "chrF plain", "ratio"],
            table,
        )
        + f"\ntime (translation clips, {audio_s:.0f} s of audio): ours {ours_s:.1f} s, "
        f"plain {plain_s:.1f} s, ratio {(ratio(ours_s, plain_s) or float('nan')):.2f}"
    )


def _lid_table(report: TranslateReport, rows: list[dict[str, Any]]) -> None:
    table: list[list[object]] = []
    figures: dict[str, Any] = {}
    for language in [*sorted({r["language"] for r in rows}), "all"]:
        chosen = [r for r in rows if language in (r["language"], "all")]
        ours = [r["ours_lid_accuracy"] for r in chosen if r["ours_lid_accuracy"] is not None]
        ours_accuracy = sum(ours) / len(ours) if ours else None
        plain_accuracy = sum(r["plain_language"] == r["language"] for r in chosen) / len(chosen)
        figures[language] = {"clips": len(chosen), "ours": ours_accuracy, "plain": plain_accuracy}
        table.append(
            [language, len(chosen), ours_accuracy, plain_accuracy, ratio(ours_accuracy, plain_accuracy)]
        )
    report.data["language_id"] = figures
    report.tables.append(
        format_table(
            "Language identification (FLEURS; ours: share of speech time with the right segment language; "
            "plain: faster-whisper's one detection per clip)",
            ["language", "clips", "ours", "plain", "ratio"],
            table,
        )
    )


def _cost_table(
    report: TranslateReport,
    pipeline: Any,
    clips: list[TranslationClip],
    beam_size: int,
    decode: Callable[[Path], Any],
    log: Log,
) -> None:
    """Time of the pipeline (transcription only) with and without per-segment identification."""
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.runner import PipelineOptions

    monolingual = [c for c in clips if c.language in ("fr", "en")]
    with_id = PipelineOptions(asr=AsrOptions(beam_size=beam_size), diarize=False)
    without_id = PipelineOptions(asr=AsrOptions(beam_size=beam_size), diarize=False, language_id=False)
    timings = {"with": 0.0, "without": 0.0}
    audio_s = 0.0
    for clip in monolingual:
        log(f"cost of language identification: {clip.path.name}")
        audio = decode(clip.path)
        audio_s += audio.duration
        for name, options in (("without", without_id), ("with", with_id)):
            started = time.perf_counter()
            pipeline.run_audio(audio, options)
            timings[name] += time.perf_counter() - started
    overhead = ratio(timings["with"], timings["without"])
    report.data["language_id_cost"] = {
        "clips": len(monolingual),
        "audio_s": audio_s,
        **timings,
        "ratio": overhead,
    }
    report.tables.append(
        format_table(
            "Cost of per-segment language identification on monolingual clips (fr, en; transcription only)",
            ["clips", "audio s", "with s", "without s", "ratio"],
            [[len(monolingual), audio_s, timings["with"], timings["without"], overhead]],
        )
    )


def _multilingual(
    report: TranslateReport, data_dir: Path, pipeline: Any, plain: Any, beam_size: int, log: Log
) -> None:
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.runner import PipelineOptions

    path = data_dir / "faster-whisper-testdata" / "multilingual.mp3"
    if not path.is_file():
        log(f"{path} not found: multilingual check skipped")
        return
    log(path.name)
    audio = decode(path)
    transcript = pipeline.run_audio(
        audio, PipelineOptions(asr=AsrOptions(beam_size=beam_size), diarize=False)
    )
    sequence: list[str] = []
    seconds: dict[str, float] = {}
    for s in transcript.segments:
        language = s.language or transcript.language
        if not sequence or sequence[-1] != language:
            sequence.append(language)
        seconds[language] = seconds.get(language, 0.0) + s.end - s.start
    _, info = plain.transcribe(audio.samples, beam_size=beam_size)
    expected = ["en", "de"]
    report.data["multilingual"] = {
        "expected": expected,
        "ours_sequence": sequence,
        "ours_seconds": seconds,
        "ours_segments": [
            {
                "start": s.start,
                "end": s.end,
                "language": s.language,
                "probability": s.language_probability,
                "text": s.text,
            }
            for s in transcript.segments
        ],
        "plain_language": info.language,
    }
    report.tables.append(
        format_table(
            "multilingual.mp3 (English then German): languages in order",
            ["system", "sequence", "as expected", "seconds per language"],
            [
                [
                    "ours",
                    " → ".join(sequence),
                    sequence == expected,
                    ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()),
                ],
                ["plain", info.language, [info.language] == expected, "-"],
            ],
        )
    )
