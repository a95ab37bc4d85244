# ruff: noqa: T201
"""Development helper for issue 11 (not part of the product): analyse the diarisation bench recordings once,
cache the analyses in /tmp, then re-cluster them cheaply with other options and break the DER down.

    PYTHONPATH=$PWD nice -n 5 .venv/bin/python scripts/diar_dev.py cache --seed 1 --simulated 20
    PYTHONPATH=$PWD .venv/bin/python scripts/diar_dev.py score --sets real,1
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path

CACHE = Path(os.environ.get("DIAR_CACHE", "/tmp/i11a_cache"))
DATA = Path("/work/shared/data")


def cache(args: argparse.Namespace) -> None:
    from verbatim.bench.diarization import real_recordings, simulated_recordings
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.diarize import DiarizationOptions
    from verbatim.pipeline.types import Audio

    CACHE.mkdir(exist_ok=True)
    diarizer = get_diarizer(get_settings())
    if args.seed == 0:
        recs = real_recordings(DATA)
        name = "real"
    else:
        recs = simulated_recordings(DATA, diarizer, args.simulated, args.seed, print)
        name = f"sim{args.seed}"
    options = DiarizationOptions()
    if args.variant == "whole":
        options = DiarizationOptions(embed_overlap=True, slot_duration=10.0)
    if args.variant:
        name = f"{args.variant}-{name}"
    for i, rec in enumerate(recs):
        out = CACHE / f"{name}_{i:03d}.pkl"
        if out.exists():
            continue
        analysis = diarizer.analyse(Audio(samples=rec.samples, sha256="", filename=rec.id), options)
        with out.open("wb") as f:
            pickle.dump((rec, analysis), f)
        print(rec.id, analysis.stage_seconds, flush=True)


def load(sets: str):
    out = []
    for s in sets.split(","):
        variant, _, s = s.rpartition(":")
        prefix = "real" if s == "real" else f"sim{s}"
        if variant:
            prefix = f"{variant}-{prefix}"
        for p in sorted(CACHE.glob(f"{prefix}_*.pkl")):
            with p.open("rb") as f:
                out.append(pickle.load(f))
    return out


def components(reference, hypothesis, uem):
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    from verbatim.pipeline.der import _annotation

    ref = _annotation(reference)
    hyp = _annotation(list(hypothesis.turns))
    if uem is None:
        times = (
            [t.start for t in reference]
            + [t.end for t in reference]
            + [t.start for t in hypothesis.turns]
            + [t.end for t in hypothesis.turns]
        )
        uem = (min(times), max(times))
    metric = DiarizationErrorRate(collar=0.0, skip_overlap=False)
    c = metric(ref, hyp, uem=Timeline([Segment(*uem)]), detailed=True)
    return c["total"], c["missed detection"], c["false alarm"], c["confusion"]


def score(items, options_for, verbose=True):
    from verbatim.pipeline.diarize import SpeakerDiarizer
    from verbatim.pipeline.types import SpeakerTurn

    tot = {"ref": 0.0, "miss": 0.0, "fa": 0.0, "conf": 0.0}
    exact = 0
    rows = []
    for rec, analysis in items:
        d, _ = SpeakerDiarizer.finish(None, analysis, options_for(rec))  # type: ignore[arg-type]
        exact += d.num_speakers == rec.num_speakers
        if rec.turns is None:
            rows.append((rec.id, rec.num_speakers, d.num_speakers, None))
            continue
        ref = [SpeakerTurn(s, e, spk) for s, e, spk in rec.turns]
        total, miss, fa, conf = components(ref, d, rec.uem)
        for k, v in zip(("ref", "miss", "fa", "conf"), (total, miss, fa, conf), strict=True):
            tot[k] += v
        rows.append(
            (
                rec.id,
                rec.num_speakers,
                d.num_speakers,
                (miss / total, fa / total, conf / total),
                analysis.narrowband,
            )
        )
    if verbose:
        for r in rows:
            if r[3] is None:
                print(f"{r[0]:40s} true {r[1]} found {r[2]}")
            else:
                m, f, c = r[3]
                print(
                    f"{r[0]:40s} true {r[1]} found {r[2]}  DER {m + f + c:.3f} miss {m:.3f} fa {f:.3f} "
                    f"conf {c:.3f} {'NB' if r[4] else ''}"
                )
    ref = tot["ref"] or 1
    print(
        f"POOLED DER {(tot['miss'] + tot['fa'] + tot['conf']) / ref:.3f} miss {tot['miss'] / ref:.3f} "
        f"fa {tot['fa'] / ref:.3f} conf {tot['conf'] / ref:.3f}  count exact {exact}/{len(items)}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--simulated", type=int, default=0)
    p.add_argument("--sets", default="real,1")
    p.add_argument("--variant", default="")
    a = p.parse_args()
    if a.what == "cache":
        cache(a)
    else:
        from dataclasses import replace

        from verbatim.pipeline.diarize import DiarizationOptions

        items = load(a.sets)
        print("== defaults")
        score(items, lambda rec: DiarizationOptions())
        print("== true count")
        score(items, lambda rec: replace(DiarizationOptions(), num_speakers=rec.num_speakers))


if __name__ == "__main__":
    sys.exit(main())


def stitch(analysis, assigned, num_clusters, min_off=0.0, min_on=0.0):
    import numpy as np

    from verbatim.pipeline.diarize import (
        MODEL_NAME,
        _fill_unlabelled,
        _to_diarization,
        activity_to_turns,
        reconstruct,
    )
    from verbatim.pipeline.types import SAMPLE_RATE

    activity, pieces = analysis.activity, analysis.pieces
    labels = np.full(activity.shape, -1, dtype=np.int64)
    for i in range(len(assigned)):
        labels[pieces.chunk[i], pieces.first[i] : pieces.stop[i], pieces.local[i]] = assigned[i]
    _fill_unlabelled(labels, activity)
    offsets = np.rint(analysis.starts / SAMPLE_RATE / analysis.frame_step).astype(np.int64)
    num_frames = int(np.ceil(analysis.duration / analysis.frame_step)) + 1
    active = reconstruct(activity, offsets, labels, num_frames, num_clusters)
    raw = activity_to_turns(
        active,
        frame_step=analysis.frame_step,
        frame_offset=analysis.frame_duration / 2,
        duration=analysis.duration,
        min_duration_off=min_off,
        min_duration_on=min_on,
    )
    return _to_diarization(raw, MODEL_NAME)


def piece_truth(rec, analysis):
    """Reference speaker index (or -1) covering most of each piece's active frames."""
    import numpy as np

    from verbatim.pipeline.types import SAMPLE_RATE

    speakers = sorted({t[2] for t in rec.turns})
    p = analysis.pieces
    out = np.full(len(p.embeddings), -1, np.int64)
    for i in range(len(out)):
        c, k = p.chunk[i], p.local[i]
        frames = np.arange(p.first[i], p.stop[i])
        frames = frames[analysis.activity[c, frames, k] > 0]
        if len(frames) == 0:
            continue
        t = analysis.starts[c] / SAMPLE_RATE + analysis.frame_duration / 2 + frames * analysis.frame_step
        cover = np.zeros(len(speakers))
        for s, e, spk in rec.turns:
            cover[speakers.index(spk)] += np.sum((t >= s) & (t < e))
        if cover.max() > 0:
            out[i] = int(np.argmax(cover))
    return out, len(speakers)
