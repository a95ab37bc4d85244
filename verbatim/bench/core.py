"""The core benchmark: our pipeline against plain faster-whisper (WER, speed, memory) and our diariser against
senko (DER, speed), side by side in one run, each system in its own process.

Also the long-recording run: the full pipeline on a recording built to a given length, and at a quarter of
it, to show how speed and peak memory grow with duration.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from verbatim.bench.common import (
    BenchError,
    WerScore,
    WorkerResult,
    clip_wer,
    format_table,
    normalize_text,
    ratio,
    run_worker,
)
from verbatim.bench.manifest import Clip

__all__ = [
    "CoreReport",
    "LongReport",
    "der_summary",
    "run_core",
    "run_long",
    "split_pair",
    "wall_by_set",
    "wer_by_set",
]

TARGETS = {"wer": 0.9, "deletions": 1.0, "rtf": 1.0, "der": 1.0}
"""Ratios ours / baseline that the benchmark must meet (at most)."""

Log = Callable[[str], None]


@dataclass
class CoreReport:
    """Everything the core benchmark measured; ``tables`` is what is printed."""

    data: dict[str, Any] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)


@dataclass
class LongReport:
    data: dict[str, Any] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list)


# --- scoring (pure, unit-tested) ----------------------------------------------------------------------------


def wer_by_set(
    clips: Sequence[Clip], hypotheses: dict[str, str], *, drop_fillers: bool = False
) -> dict[str, WerScore]:
    """Corpus WER of each set over its clips that have a non-empty reference (silence is counted apart).

    Each clip is normalised in its own language (spelled numbers as digits, see
    :func:`~verbatim.bench.common.normalize_text`); ``drop_fillers`` removes hesitation sounds from the
    reference and the hypothesis alike (a second view: the headline keeps them, as words said)."""
    out: dict[str, WerScore] = {}
    for clip in clips:
        if clip.kind != "asr" or not clip.reference or clip.id not in hypotheses:
            continue
        score = clip_wer(clip.reference, hypotheses[clip.id], clip.language, drop_fillers=drop_fillers)
        out[clip.set] = out.get(clip.set, WerScore()) + score
    return out


def _sdi(score: WerScore) -> str:
    """``S/D/I`` counts of a score, for a table."""
    return f"{score.substitutions}/{score.deletions}/{score.insertions}"


def total_wer(scores: dict[str, WerScore]) -> WerScore:
    total = WerScore()
    for score in scores.values():
        total = total + score
    return total


def der_summary(per_clip: Sequence[tuple[float, float]]) -> float:
    """Overall DER from ``(der, reference speech seconds)`` per clip: errors summed over reference speech
    summed (what md-eval and pyannote report for a corpus), not a mean of per-clip rates."""
    speech = sum(s for _, s in per_clip)
    if speech <= 0:
        return math.nan
    return sum(d * s for d, s in per_clip) / speech


def reference_speech(turns: Sequence[tuple[float, float, str]], uem: tuple[float, float] | None) -> float:
    """Seconds of reference speech, counted once per speaker (overlap counts twice), inside ``uem``."""
    lo, hi = uem if uem is not None else (-math.inf, math.inf)
    by_speaker: dict[str, list[tuple[float, float]]] = {}
    for start, end, speaker in turns:
        start, end = max(start, lo), min(end, hi)
        if end > start:
            by_speaker.setdefault(speaker, []).append((start, end))
    total = 0.0
    for spans in by_speaker.values():
        spans.sort()
        cur_start, cur_end = spans[0]
        for start, end in spans[1:]:
            if start > cur_end:
                total += cur_end - cur_start
                cur_start, cur_end = start, end
            else:
                cur_end = max(cur_end, end)
        total += cur_end - cur_start
    return total


def wall_by_set(
    clips: Sequence[Clip], ours: dict[str, dict[str, Any]], plain: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Wall time of ours and plain on the same clips, per set and over all, with ours' seconds per stage.

    Args:
        clips: the clips both ran, in report order.
        ours / plain: per clip id, a worker's result (``process_s``, ``audio_s``; ours' ``stage_own_s``).

    Returns:
        ``{set: {clips, audio_s, ours_s, plain_s, ratio, stages: {stage: seconds}}}``, then ``all``.
    """
    out: dict[str, dict[str, Any]] = {}
    for clip in clips:
        if clip.id not in ours or clip.id not in plain:
            continue
        o, p = ours[clip.id], plain[clip.id]
        for key in (clip.set, "all"):
            entry = out.setdefault(
                key, {"clips": 0, "audio_s": 0.0, "ours_s": 0.0, "plain_s": 0.0, "stages": {}}
            )
            entry["clips"] += 1
            entry["audio_s"] += float(o["audio_s"])
            entry["ours_s"] += float(o["process_s"])
            entry["plain_s"] += float(p["process_s"])
            for stage, seconds in o.get("stage_own_s", {}).items():
                entry["stages"][stage] = entry["stages"].get(stage, 0.0) + float(seconds)
    if "all" in out:
        out["all"] = out.pop("all")  # last, after the sets
    for entry in out.values():
        entry["ratio"] = ratio(entry["ours_s"], entry["plain_s"])
    return out


def split_pair(pair: WorkerResult) -> tuple[WorkerResult, WorkerResult]:
    """The ``pair`` worker's result as the two results an ``ours`` and a ``plain`` worker would have given.

    Both share the process: its wall time, load time and peak RSS are those of the two together.
    """
    out = []
    for name in ("ours", "plain"):
        data = {
            "system": name,
            "info": pair.data["info"][name],
            "load_s": pair.data["load_s"],
            "warmup_s": pair.data["warmup_s"],
            "clips": [{"id": c["id"], **c[name]} for c in pair.data["clips"]],
            "peak_rss_mb": pair.peak_rss_mb,
            "interleaved": True,
        }
        out.append(WorkerResult(data=data, wall_s=pair.wall_s, peak_rss_mb=pair.peak_rss_mb))
    return out[0], out[1]


def _rtf(results: Sequence[dict[str, Any]]) -> tuple[float, float, float]:
    audio = sum(float(r["audio_s"]) for r in results)
    process = sum(float(r["process_s"]) for r in results)
    return audio, process, (process / audio if audio else math.nan)


# --- the run ------------------------------------------------------------------------------------------------


def _worker(
    system: str, clips: Sequence[Clip], tmp: Path, log: Log, warmup: Clip | None = None
) -> WorkerResult:
    manifest = tmp / f"{system}-clips.json"
    entries = [c.to_worker() for c in clips]
    if warmup is not None:
        entries.insert(0, {**warmup.to_worker(), "warmup_only": True})
    manifest.write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
    log(f"running {system} on {len(clips)} clip(s) in its own process...")
    result = run_worker(system, manifest, tmp / f"{system}-result.json")
    log(f"{system}: done in {result.wall_s:.0f} s (peak RSS {result.peak_rss_mb:.0f} MB)")
    return result


def _signal_hint(message: str) -> str:
    """What a worker's death by a signal most likely means (``exit -4`` is SIGILL)."""
    if "exit -4)" in message:
        return (
            " SIGILL: a prebuilt native library (senko's fbank extractor) uses CPU instructions this machine "
            "lacks"
        )
    if "exit -9)" in message:
        return " SIGKILL: most likely out of memory"
    return ""


def run_core(clips: Sequence[Clip], *, log: Log, interleave: bool = False) -> CoreReport:
    """Run the ASR systems on the ASR clips and the diarisers on the diarisation clips, then score.

    Args:
        clips: the clips.
        log: progress messages.
        interleave: run ours (whole pipeline, diarisation on) and plain faster-whisper in one process, clip
            by clip, so the machine's load weighs on both alike; the diarisation clips are transcribed by both
            too (no reference words: wall time only). Peak RSS is then that of the two together.

    Raises:
        BenchError: no clip to run, or a worker failed.
    """
    asr_clips = [c for c in clips if c.kind == "asr"]
    diar_clips = [c for c in clips if c.kind == "diarization"]
    if not asr_clips and not diar_clips:
        raise BenchError("no clip to benchmark")
    if interleave:
        # the multi-speaker recordings through both ASR systems: what diarisation costs where it works most
        asr_clips += [replace(c, kind="asr", rttm=None, uem=None, reference=None) for c in diar_clips]
    report = CoreReport()
    data: dict[str, Any] = {"clips": [c.to_dict() for c in clips], "interleaved": interleave}
    with tempfile.TemporaryDirectory(prefix="verbatim-bench-") as tmp_name:
        tmp = Path(tmp_name)
        workers: dict[str, WorkerResult] = {}
        if asr_clips and interleave:
            workers["ours"], workers["plain"] = split_pair(_worker("pair", asr_clips, tmp, log))
        elif asr_clips:
            for system in ("ours", "plain"):
                workers[system] = _worker(system, asr_clips, tmp, log)
        baseline_error: str | None = None
        if diar_clips:
            workers["diar-ours"] = _worker("diar-ours", diar_clips, tmp, log)
            try:
                workers["diar-senko"] = _worker("diar-senko", diar_clips, tmp, log)
            except BenchError as e:
                # The baseline failing is a finding, not a reason to lose our own figures.
                baseline_error = f"{e}{_signal_hint(str(e))}"
                log(f"diar-senko: not compared: {baseline_error}")
    data["systems"] = {name: {**w.data, "process_wall_s": w.wall_s} for name, w in workers.items()}
    ratios: dict[str, dict[str, Any]] = {}
    if asr_clips:
        _asr_section(asr_clips, workers["ours"], workers["plain"], data, ratios, report)
        _wall_section(asr_clips, workers["ours"], workers["plain"], data, ratios, report)
    if diar_clips:
        _der_section(diar_clips, workers["diar-ours"], workers.get("diar-senko"), data, ratios, report)
        if baseline_error is not None:
            data["diarization"]["senko_error"] = baseline_error
            report.tables.append(f"senko could not run on this machine: {baseline_error}\n")
    data["ratios"] = ratios
    rows = []
    for name, r in ratios.items():
        target = r.get("target")
        met = None if target is None or r["ratio"] is None else ("yes" if r["ratio"] <= target else "NO")
        rows.append([name, r["ours"], r["baseline"], r["ratio"], f"<= {target}" if target else "-", met])
    report.tables.append(
        format_table(
            "Ratios ours / baseline (same run, side by side)",
            ["metric", "ours", "baseline", "ratio", "target", "met"],
            rows,
        )
    )
    report.data = data
    return report


def _by_id(worker: WorkerResult) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in worker.data["clips"]}


def _asr_section(
    clips: Sequence[Clip],
    ours_w: WorkerResult,
    plain_w: WorkerResult,
    data: dict[str, Any],
    ratios: dict[str, dict[str, Any]],
    report: CoreReport,
) -> None:
    ours, plain = _by_id(ours_w), _by_id(plain_w)
    per_clip = []
    for clip in clips:
        o, p = ours[clip.id], plain[clip.id]
        entry: dict[str, Any] = {
            "id": clip.id,
            "set": clip.set,
            "language": clip.language,
            "audio_s": o["audio_s"],
            "reference": clip.reference,
        }
        for name, r in (("ours", o), ("plain", p)):
            entry[name] = {
                "text": r["text"],
                "words": len(normalize_text(r["text"]).split()),
                "language": r["language"],
                "process_s": r["process_s"],
                "rtf": r["process_s"] / r["audio_s"] if r["audio_s"] else None,
                **({"speakers": r["speakers"]} if "speakers" in r else {}),
                **({"stage_s": r["stage_s"]} if "stage_s" in r else {}),
                **({"stage_own_s": r["stage_own_s"]} if "stage_own_s" in r else {}),
            }
            if clip.reference:
                entry[name]["wer"] = clip_wer(clip.reference, r["text"], clip.language).to_dict()
                entry[name]["wer_without_fillers"] = clip_wer(
                    clip.reference, r["text"], clip.language, drop_fillers=True
                ).to_dict()
        per_clip.append(entry)
    data["asr_clips"] = per_clip

    ours_sets = wer_by_set(clips, {k: v["text"] for k, v in ours.items()})
    plain_sets = wer_by_set(clips, {k: v["text"] for k, v in plain.items()})
    bare = {
        name: wer_by_set(clips, {k: v["text"] for k, v in w.items()}, drop_fillers=True)
        for name, w in (("ours", ours), ("plain", plain))
    }
    wer_rows = []
    sets: dict[str, Any] = {}
    for set_name in dict.fromkeys(c.set for c in clips if c.reference):
        members = [c for c in clips if c.set == set_name and c.reference]
        so, sp = ours_sets[set_name], plain_sets[set_name]
        _, _, ours_rtf = _rtf([ours[c.id] for c in members])
        audio, _, plain_rtf = _rtf([plain[c.id] for c in members])
        sets[set_name] = {
            "clips": len(members),
            "audio_s": audio,
            "ours": {**so.to_dict(), "rtf": ours_rtf},
            "plain": {**sp.to_dict(), "rtf": plain_rtf},
            "wer_ratio": ratio(so.wer, sp.wer),
            "without_fillers": {name: b[set_name].to_dict() for name, b in bare.items()},
        }
        wer_rows.append(
            [
                set_name,
                len(members),
                f"{audio:.1f}",
                so.reference_words,
                so.wer,
                sp.wer,
                ratio(so.wer, sp.wer),
                _sdi(so),
                _sdi(sp),
                ours_rtf,
                plain_rtf,
            ]
        )
    total_o, total_p = total_wer(ours_sets), total_wer(plain_sets)
    speech = [c for c in clips if c.reference]
    s_audio, _, s_ours_rtf = _rtf([ours[c.id] for c in speech])
    _, _, s_plain_rtf = _rtf([plain[c.id] for c in speech])
    if speech:
        wer_rows.append(
            [
                "all speech",
                len(speech),
                f"{s_audio:.1f}",
                total_o.reference_words,
                total_o.wer,
                total_p.wer,
                ratio(total_o.wer, total_p.wer),
                _sdi(total_o),
                _sdi(total_p),
                s_ours_rtf,
                s_plain_rtf,
            ]
        )
    sets["all speech"] = {
        "ours": total_o.to_dict(),
        "plain": total_p.to_dict(),
        "audio_s": s_audio,
        "rtf_ours": s_ours_rtf,
        "rtf_plain": s_plain_rtf,
    }
    data["wer_by_set"] = sets
    report.tables.append(
        format_table(
            "WER by set (normalised text, spelled numbers as digits, fillers kept, corpus WER; "
            "S/D/I = substitutions/deletions/insertions) and real-time factor",
            [
                "set",
                "clips",
                "audio s",
                "ref words",
                "WER ours",
                "WER plain",
                "ours/plain",
                "S/D/I ours",
                "S/D/I plain",
                "RTF ours",
                "RTF plain",
            ],
            wer_rows,
        )
    )

    report.tables.append(
        format_table(
            "WER by set without hesitation fillers (euh, heu, hum, hm...; uh, um...) in the reference and "
            "both hypotheses: a second view, the ratios above keep them",
            ["set", "ref words", "WER ours", "WER plain", "ours/plain", "S/D/I ours", "S/D/I plain"],
            [
                [
                    name,
                    bare["ours"][name].reference_words,
                    bare["ours"][name].wer,
                    bare["plain"][name].wer,
                    ratio(bare["ours"][name].wer, bare["plain"][name].wer),
                    _sdi(bare["ours"][name]),
                    _sdi(bare["plain"][name]),
                ]
                for name in bare["ours"]
            ],
        )
    )

    silent = [c for c in clips if c.reference == ""]
    if silent:
        rows = [
            [
                c.id,
                f"{float(ours[c.id]['audio_s']):.1f}",
                len(normalize_text(ours[c.id]["text"]).split()),
                len(normalize_text(plain[c.id]["text"]).split()),
                plain[c.id]["text"][:60] or "-",
            ]
            for c in silent
        ]
        data["silence"] = [
            {
                "id": r[0],
                "words_ours": r[2],
                "words_plain": r[3],
                "text_ours": ours[c.id]["text"],
                "text_plain": plain[c.id]["text"],
            }
            for r, c in zip(rows, silent, strict=True)
        ]
        report.tables.append(
            format_table(
                "Silence and noise (must give zero words)",
                ["clip", "audio s", "words ours", "words plain", "plain said"],
                rows,
            )
        )

    speech_ids = [c.id for c in speech]
    speed = {"ours": _speed(ours_w, speech_ids), "plain": _speed(plain_w, speech_ids)}
    ours_rtf, plain_rtf = speed["ours"]["rtf_all"], speed["plain"]["rtf_all"]
    data["speed"] = speed
    speed_rows = [
        [
            label,
            s["load_s"],
            s["warmup_s"],
            f"{s['audio_s']:.1f}",
            s["process_s"],
            s["rtf_all"],
            s["rtf_speech"],
            s["cpu_rtf_speech"],
            f"{s['peak_rss_mb']:.0f}",
        ]
        for label, s in (
            ("ours (ASR + diarisation)", speed["ours"]),
            ("plain faster-whisper", speed["plain"]),
        )
    ]
    how = (
        "one process, interleaved: load, warm-up and peak RSS are the two together"
        if ours_w.data.get("interleaved")
        else "own process each"
    )
    report.tables.append(
        format_table(
            f"Speed and memory, ASR systems ({how}; RTF excludes model load and warm-up; "
            "CPU RTF = process CPU seconds / audio seconds, less sensitive to other load on the machine)",
            [
                "system",
                "load s",
                "warm-up s",
                "audio s",
                "process s",
                "RTF all",
                "RTF speech",
                "CPU RTF speech",
                "peak RSS MB",
            ],
            speed_rows,
        )
    )
    ratios["WER (all speech)"] = {
        "ours": total_o.wer,
        "baseline": total_p.wer,
        "ratio": ratio(total_o.wer, total_p.wer),
        "target": TARGETS["wer"],
    }
    for set_name, s in sets.items():
        if set_name != "all speech":
            ratios[f"WER ({set_name})"] = {
                "ours": s["ours"]["wer"],
                "baseline": s["plain"]["wer"],
                "ratio": s["wer_ratio"],
                "target": TARGETS["wer"],
            }
            # a lost sentence is the worst error in a hearing: deletions are held to plain's on every set
            ratios[f"deletions ({set_name})"] = {
                "ours": s["ours"]["deletions"],
                "baseline": s["plain"]["deletions"],
                "ratio": ratio(s["ours"]["deletions"], s["plain"]["deletions"]),
                "target": TARGETS["deletions"],
            }
    ratios["RTF (speech clips)"] = {
        "ours": s_ours_rtf,
        "baseline": s_plain_rtf,
        "ratio": ratio(s_ours_rtf, s_plain_rtf),
        "target": TARGETS["rtf"],
    }
    ratios["RTF (all ASR clips)"] = {
        "ours": ours_rtf,
        "baseline": plain_rtf,
        "ratio": ratio(ours_rtf, plain_rtf),
        "target": TARGETS["rtf"],
    }
    cpu_o, cpu_p = speed["ours"]["cpu_rtf_speech"], speed["plain"]["cpu_rtf_speech"]
    ratios["CPU time (speech clips)"] = {
        "ours": cpu_o,
        "baseline": cpu_p,
        "ratio": ratio(cpu_o, cpu_p),
        "target": None,
    }
    if not ours_w.data.get("interleaved"):  # interleaved: one process, one peak for the two
        ratios["peak RSS MB"] = {
            "ours": ours_w.peak_rss_mb,
            "baseline": plain_w.peak_rss_mb,
            "ratio": ratio(ours_w.peak_rss_mb, plain_w.peak_rss_mb),
            "target": None,
        }


STAGES = ("transcribe", "language", "relanguage", "diarize")
"""Ours' stages in the wall-time table (any other reported stage is shown under ``other``)."""


def _wall_section(
    clips: Sequence[Clip],
    ours_w: WorkerResult,
    plain_w: WorkerResult,
    data: dict[str, Any],
    ratios: dict[str, dict[str, Any]],
    report: CoreReport,
) -> None:
    """Wall time of the whole pipeline (diarisation included) against plain faster-whisper, per set, with
    ours' seconds per stage."""
    walls = wall_by_set(clips, _by_id(ours_w), _by_id(plain_w))
    data["wall_by_set"] = walls
    rows = []
    for name, w in walls.items():
        stages = w["stages"]
        other = sum(v for k, v in stages.items() if k not in STAGES)
        rows.append(
            [
                name,
                w["clips"],
                f"{w['audio_s']:.1f}",
                w["ours_s"],
                w["plain_s"],
                w["ratio"],
                *[stages.get(k, 0.0) for k in STAGES],
                other,
            ]
        )
    how = "interleaved clip by clip in one process" if ours_w.data.get("interleaved") else "own process each"
    report.tables.append(
        format_table(
            f"Wall time: ours (whole pipeline, diarisation on) vs plain faster-whisper, same clips ({how}; "
            "audio decoded apart); ours' seconds per stage",
            [
                "set",
                "clips",
                "audio s",
                "ours s",
                "plain s",
                "ours/plain",
                *[f"{k} s" for k in STAGES],
                "other s",
            ],
            rows,
        )
    )
    if "all" in walls:
        ratios["wall time (all ASR clips)"] = {
            "ours": walls["all"]["ours_s"],
            "baseline": walls["all"]["plain_s"],
            "ratio": walls["all"]["ratio"],
            "target": TARGETS["rtf"],
        }


def _speed(worker: WorkerResult, speech_ids: Sequence[str]) -> dict[str, Any]:
    results = worker.data["clips"]
    speech = [r for r in results if r["id"] in set(speech_ids)]
    audio, process, rtf = _rtf(results)
    speech_audio, _, rtf_speech = _rtf(speech)
    cpu = [float(r["cpu_s"]) for r in speech if "cpu_s" in r]
    cpu_rtf = sum(cpu) / speech_audio if speech_audio and len(cpu) == len(speech) else math.nan
    return {
        "load_s": worker.data["load_s"],
        "warmup_s": worker.data["warmup_s"],
        "audio_s": audio,
        "process_s": process,
        "rtf_all": rtf,
        "rtf_speech": rtf_speech,
        "cpu_rtf_speech": cpu_rtf,
        "peak_rss_mb": worker.peak_rss_mb,
    }


def _der_section(
    clips: Sequence[Clip],
    ours_w: WorkerResult,
    senko_w: WorkerResult | None,
    data: dict[str, Any],
    ratios: dict[str, dict[str, Any]],
    report: CoreReport,
) -> None:
    """DER and speed of our diariser, side by side with senko's own pipeline (ours alone when senko could not
    run: its columns then read NaN and no ratio is given)."""
    from verbatim.pipeline.der import diarization_error_rate
    from verbatim.pipeline.types import SpeakerTurn

    ours = _by_id(ours_w)
    senko = _by_id(senko_w) if senko_w is not None else {}
    missing: dict[str, Any] = {"der": math.nan, "speakers": None, "process_s": math.nan, "audio_s": 0.0}
    rows = []
    per_clip = []
    weighted: dict[str, list[tuple[float, float]]] = {"ours": [], "senko": []}
    for clip in clips:
        assert clip.rttm is not None
        reference = [SpeakerTurn(s, e, spk) for s, e, spk in clip.rttm]
        speech = reference_speech(clip.rttm, clip.uem)
        entry: dict[str, Any] = {
            "id": clip.id,
            "uem": clip.uem,
            "reference_speech_s": speech,
            "reference_speakers": len({t.speaker for t in reference}),
        }
        for name, r in (("ours", ours[clip.id]), ("senko", senko.get(clip.id))):
            if r is None:
                entry[name] = missing
                continue
            hypothesis = [SpeakerTurn(float(s), float(e), str(spk)) for s, e, spk in r["turns"]]
            der = diarization_error_rate(reference, hypothesis, uem=clip.uem, collar=0.0)
            weighted[name].append((der, speech))
            entry[name] = {
                "der": der,
                "speakers": r["num_speakers"],
                "process_s": r["process_s"],
                "audio_s": r["audio_s"],
                "turns": r["turns"],
            }
        per_clip.append(entry)
        rows.append(
            [
                clip.id,
                entry["reference_speakers"],
                entry["ours"]["der"],
                entry["senko"]["der"],
                entry["ours"]["speakers"],
                entry["senko"]["speakers"],
                entry["ours"]["process_s"],
                entry["senko"]["process_s"],
            ]
        )
    der_o = der_summary(weighted["ours"])
    der_s = der_summary(weighted["senko"]) if weighted["senko"] else math.nan
    _, proc_o, rtf_o = _rtf(list(ours.values()))
    _, proc_s, rtf_s = _rtf(list(senko.values())) if senko else (0.0, math.nan, math.nan)
    rows.append(["all (speech-weighted)", "", der_o, der_s, "", "", proc_o, proc_s])
    report.tables.append(
        format_table(
            "Diarisation: DER (collar 0, UEM, overlap scored) and wall time per clip (s)",
            ["clip", "ref spk", "DER ours", "DER senko", "spk ours", "spk senko", "time ours", "time senko"],
            rows,
        )
    )
    report.tables.append(
        format_table(
            "Diarisation systems (each in its own process; one-time load and first call apart)",
            ["system", "load s", "first call s", "process s", "RTF", "peak RSS MB"],
            [
                [
                    "ours (SpeakerDiarizer)",
                    ours_w.data["load_s"],
                    ours_w.data["warmup_s"],
                    proc_o,
                    rtf_o,
                    ours_w.peak_rss_mb,
                ],
                [
                    "senko (run_senko_directly)",
                    senko_w.data["load_s"] if senko_w else math.nan,
                    senko_w.data["warmup_s"] if senko_w else math.nan,
                    proc_s,
                    rtf_s,
                    senko_w.peak_rss_mb if senko_w else math.nan,
                ],
            ],
        )
    )
    data["diarization"] = {
        "clips": per_clip,
        "der_ours": der_o,
        "der_senko": der_s,
        "process_s_ours": proc_o,
        "process_s_senko": proc_s,
        "rtf_ours": rtf_o,
        "rtf_senko": rtf_s,
        "load_s": {"ours": ours_w.data["load_s"], "senko": senko_w.data["load_s"] if senko_w else None},
        "first_call_s": {
            "ours": ours_w.data["warmup_s"],
            "senko": senko_w.data["warmup_s"] if senko_w else None,
        },
        "peak_rss_mb": {"ours": ours_w.peak_rss_mb, "senko": senko_w.peak_rss_mb if senko_w else None},
    }
    ratios["DER"] = {"ours": der_o, "baseline": der_s, "ratio": ratio(der_o, der_s), "target": TARGETS["der"]}
    ratios["diarisation time"] = {
        "ours": proc_o,
        "baseline": proc_s,
        "ratio": ratio(proc_o, proc_s),
        "target": None,
    }


# --- long recording -----------------------------------------------------------------------------------------


def run_long(sources: Sequence[Clip], seconds: float, *, seed: int, log: Log) -> LongReport:
    """Build a recording of ``seconds`` (and one of ``seconds / 4``) from ``sources`` and run the full
    pipeline on each, decoding included, each in its own process.

    Raises:
        BenchError: no usable source clip, or a worker failed.
    """
    from verbatim.bench.long import write_long_recording
    from verbatim.pipeline.decode import decode

    files = [c for c in sources if c.kind == "asr" and c.path and c.reference]
    if not files:
        raise BenchError("no speech clip to build the long recording from")
    log(f"decoding {len(files)} source clip(s)...")
    samples = [decode(c.path).samples for c in files if c.path]
    report = LongReport()
    runs = []
    with tempfile.TemporaryDirectory(prefix="verbatim-bench-long-") as tmp_name:
        tmp = Path(tmp_name)
        for length in (seconds / 4, seconds):
            path = tmp / f"long-{length:g}s.flac"
            started = time.perf_counter()
            duration = write_long_recording(samples, length, path, seed=seed)
            build_s = time.perf_counter() - started
            log(
                f"built {path.name}: {duration:.0f} s of audio, {path.stat().st_size / 1e6:.1f} MB, "
                f"in {build_s:.1f} s"
            )
            clip = Clip(id=f"long/{length:g}s", set="long", kind="asr", path=str(path))
            # warmed up on a short source clip first: first-call costs are one-time, reported apart
            w = _worker("long", [clip], tmp, log, warmup=files[0])
            r = w.data["clips"][0]
            runs.append(
                {
                    "target_s": length,
                    "audio_s": r["audio_s"],
                    "file_mb": path.stat().st_size / 1e6,
                    "load_s": w.data["load_s"],
                    "warmup_s": w.data["warmup_s"],
                    "process_s": r["process_s"],
                    "rtf": r["process_s"] / r["audio_s"],
                    "peak_rss_mb": w.peak_rss_mb,
                    "words": r["words"],
                    "speakers": r["speakers"],
                    "language": r["language"],
                    "process_wall_s": w.wall_s,
                    "stage_s": r.get("stage_s", {}),
                    "cpu_s": r.get("cpu_s"),
                }
            )
    small, big = runs
    hours = (big["audio_s"] - small["audio_s"]) / 3600
    growth = (big["peak_rss_mb"] - small["peak_rss_mb"]) / hours if hours > 0 else math.nan
    report.data = {
        "seconds": seconds,
        "seed": seed,
        "sources": [c.id for c in files],
        "runs": runs,
        "peak_rss_mb_per_audio_hour": growth,
        "rtf_ratio_long_over_quarter": ratio(big["rtf"], small["rtf"]),
    }
    report.tables.append(
        format_table(
            "Long recording: full pipeline from the file (decode + ASR + diarisation), own process each, "
            "after a warm-up on one short clip",
            [
                "audio s",
                "file MB",
                "load s",
                "warm-up s",
                "process s",
                "CPU s",
                "decode s",
                "ASR s",
                "diarise s",
                "RTF",
                "peak RSS MB",
                "words",
                "speakers",
            ],
            [
                [
                    f"{r['audio_s']:.1f}",
                    r["file_mb"],
                    r["load_s"],
                    r["warmup_s"],
                    r["process_s"],
                    r["cpu_s"],
                    r["stage_s"].get("decode"),
                    r["stage_s"].get("transcribe"),
                    r["stage_s"].get("diarize"),
                    r["rtf"],
                    f"{r['peak_rss_mb']:.0f}",
                    r["words"],
                    r["speakers"],
                ]
                for r in runs
            ],
        )
    )
    report.tables.append(
        f"Peak RSS growth: {growth:.0f} MB per audio hour "
        f"(from {small['audio_s']:.0f} s to {big['audio_s']:.0f} s)"
    )
    return report
