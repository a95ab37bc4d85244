"""Development script (issue 12): which reference words our pipeline deletes that plain faster-whisper keeps.

    python scripts/asr_deletions.py run ours|plain OUT.json [--sets fr-phone,...] [--only ID,...]
    python scripts/asr_deletions.py compare OURS.json PLAIN.json

``run`` transcribes the bench's clips (the bench's own audio, phone transform included) with our pipeline
(CLI defaults, no diarisation: it moves no word) or plain faster-whisper (exactly the bench worker's call),
saving the text and times (words for ours, segments for plain). ``compare`` aligns both hypotheses to the
reference with the bench's normaliser and lists, per clip, each reference word we delete and plain keeps.
Plain samples in its temperature fallback: keep its output and compare every change of ours to that one run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from verbatim.bench.common import clip_wer, normalize_text
from verbatim.bench.manifest import default_clips
from verbatim.bench.worker import _audio

DATA = Path("/work/shared/data")


def _run(system: str, out: Path, sets: list[str], only: set[str], extra: str) -> None:
    clips = [c for c in default_clips(DATA, sets) if c.kind == "asr" and c.reference]
    if only:
        clips = [c for c in clips if c.id in only]
    results: dict[str, Any] = json.loads(out.read_text()) if out.exists() else {}
    if system == "plain":
        from faster_whisper import WhisperModel

        from verbatim.models.store import ModelStore
        from verbatim.ops.settings import get_settings

        settings = get_settings()
        model_dir = ModelStore(settings.models_dir).resolve(settings.asr.model, kind="asr").path
        model = WhisperModel(str(model_dir))

        def run(audio: Any) -> dict[str, Any]:
            segments, info = model.transcribe(audio.samples)
            segs = [(s.start, s.end, s.text.strip()) for s in segments]
            return {"text": " ".join(t for _, _, t in segs if t), "segments": segs, "language": info.language}
    else:
        from verbatim.bench.worker import _pipeline_and_options

        pipeline, options = _pipeline_and_options()
        from dataclasses import replace

        options = replace(options, diarize=False)
        if extra:  # decoding options passed to faster-whisper as they are, to measure a variant
            options = replace(options, asr=replace(options.asr, extra=json.loads(extra)))

        def run(audio: Any) -> dict[str, Any]:
            t = pipeline.run_audio(audio, options)
            return {
                "text": t.text,
                "segments": [(s.start, s.end, s.text) for s in t.segments],
                "words": [(w.start, w.end, w.text) for w in t.words],
                "language": t.language,
            }

    for clip in clips:
        audio = _audio(clip.to_worker())
        started = time.perf_counter()
        r = run(audio)
        r["process_s"] = time.perf_counter() - started
        r["reference"] = clip.reference
        r["reference_language"] = clip.language
        r["set"] = clip.set
        results[clip.id] = r
        s = clip_wer(clip.reference or "", r["text"])
        _say(f"{clip.id}: {r['process_s']:.0f} s, S/D/I {s.substitutions}/{s.deletions}/{s.insertions}")
        sys.stdout.flush()
        out.write_text(json.dumps(results, ensure_ascii=False, indent=1))


RULERS = {"old": (None, False), "numbers": ("fr", False), "no-fillers": ("fr", True)}
"""The bench's normaliser before this change, the headline (numbers as digits), and without fillers; "fr"
stands for the clip's own language where the run saved it."""


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")


def _deleted(ref: str, hyp: str, language: str | None, fillers: bool) -> set[int]:
    import jiwer

    r = normalize_text(ref, language, drop_fillers=fillers)
    h = normalize_text(hyp, language, drop_fillers=fillers)
    if not h:
        return set(range(len(r.split())))
    out = jiwer.process_words(r, h)
    return {i for a in out.alignments[0] if a.type == "delete" for i in range(a.ref_start_idx, a.ref_end_idx)}


def _compare(ours_path: Path, plain_path: Path, ruler: str) -> None:
    ours, plain = json.loads(ours_path.read_text()), json.loads(plain_path.read_text())
    for cid, o in ours.items():
        if cid not in plain:
            continue
        language, fillers = RULERS[ruler]
        language = language and o.get("reference_language", language)
        ref, p = o["reference"], plain[cid]
        so = clip_wer(ref, o["text"], language, drop_fillers=fillers)
        sp = clip_wer(ref, p["text"], language, drop_fillers=fillers)
        words = normalize_text(ref, language, drop_fillers=fillers).split()
        lost = sorted(
            _deleted(ref, o["text"], language, fillers) - _deleted(ref, p["text"], language, fillers)
        )
        _say(
            f"== {cid}: ours {so.substitutions}/{so.deletions}/{so.insertions} "
            f"plain {sp.substitutions}/{sp.deletions}/{sp.insertions}"
        )
        for i in lost:
            before, after = " ".join(words[max(0, i - 5) : i]), " ".join(words[i + 1 : i + 5])
            _say(f"   lost [{i}] {words[i]!r}: {before} [{words[i]}] {after}")
    for name, (lang, fill) in RULERS.items():
        totals: dict[str, list[int]] = {}
        for cid, o in ours.items():
            if cid not in plain:
                continue
            own = lang and o.get("reference_language", lang)
            so = clip_wer(o["reference"], o["text"], own, drop_fillers=fill)
            sp = clip_wer(o["reference"], plain[cid]["text"], own, drop_fillers=fill)
            t = totals.setdefault(o["set"], [0] * 7)
            values = (so.substitutions, so.deletions, so.insertions, sp.substitutions, sp.deletions)
            for i, v in enumerate((*values, sp.insertions, so.reference_words)):
                t[i] += v
        for set_name, t in totals.items():
            _say(
                f"{name:10} {set_name:15} ref {t[6]:4} ours S/D/I {t[0]}/{t[1]}/{t[2]} "
                f"WER {sum(t[:3]) / t[6]:.3f}  plain {t[3]}/{t[4]}/{t[5]} WER {sum(t[3:6]) / t[6]:.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("system", choices=("ours", "plain"))
    r.add_argument("out", type=Path)
    r.add_argument("--sets", default="fr-phone")
    r.add_argument("--only", default="")
    r.add_argument("--extra", default="", help='JSON, e.g. {"hallucination_silence_threshold": 2.0}')
    c = sub.add_parser("compare")
    c.add_argument("ours", type=Path)
    c.add_argument("plain", type=Path)
    c.add_argument("--ruler", choices=tuple(RULERS), default="numbers")
    a = parser.parse_args()
    if a.cmd == "run":
        _run(a.system, a.out, a.sets.split(","), set(filter(None, a.only.split(","))), a.extra)
    else:
        _compare(a.ours, a.plain, a.ruler)


if __name__ == "__main__":
    sys.exit(main())
