# ruff: noqa: T201
"""Development helper for issue 11 (not part of the product): threshold-free speaker-count estimators tried on
the analyses cached by ``scripts/diar_dev.py cache`` (clustering only, cheap).

    DIAR_CACHE=/tmp/i11count_cache PYTHONPATH=$PWD .venv/bin/python scripts/diar_count.py --sets 1
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))


def unit(x: Any) -> Any:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def nme_count(
    emb: Any,
    max_speakers: int = 8,
    max_rp: float = 0.25,
    volume: int = 30,
    scale: str = "minmax",
    laplacian: str = "unnorm",
    connect: bool = False,
) -> tuple[int, float]:
    """NME-SC (Park et al. 2019) as in NeMo: p-neighbour binarised cosine affinity, p chosen by min p/gap."""
    n = len(emb)
    if n < 3:
        return 1, 0.0
    x = unit(emb)
    a = x @ x.T
    if scale == "minmax":
        a = (a - a.min()) / max(a.max() - a.min(), 1e-12)
    p_max = max(1, int(np.floor(n * max_rp)))
    ps = sorted({int(v) for v in np.linspace(1, p_max, min(volume, p_max)).round()})
    best: tuple[float, int, int] | None = None
    order = np.argsort(-a, axis=1)
    found: dict[int, tuple[int, bool]] = {}
    for p in ps:
        b = np.zeros_like(a)
        rows = np.repeat(np.arange(n), p)
        b[rows, order[:, :p].reshape(-1)] = 1.0
        b = 0.5 * (b + b.T)
        from scipy.sparse.csgraph import connected_components

        connected = connected_components(b > 0, directed=False)[0] == 1
        d = b.sum(axis=1)
        if laplacian == "unnorm":
            lap = np.diag(d) - b
        else:
            inv = 1 / np.sqrt(np.maximum(d, 1e-12))
            lap = np.eye(n) - inv[:, None] * b * inv[None, :]
        lam = np.linalg.eigvalsh(lap)
        gaps = np.diff(lam[: max_speakers + 1])
        k = int(np.argmax(gaps))
        g = gaps[k] / (lam.max() + 1e-10)
        ratio = (p / n) / (g + 1e-10)
        found[p] = (k + 1, bool(connected))
        if best is None or ratio < best[0]:
            best = (ratio, p, k + 1)
    assert best is not None
    if connect and not found[best[1]][1]:
        # as NeMo: a graph in pieces gives spurious zero eigenvalues; take the first p that connects it
        for p in ps:
            if found[p][1]:
                return found[p][0], best[0]
    return best[2], best[0]


def enhanced_count(
    emb: Any,
    tests: int = 5,
    anchors: int = 3,
    anchor_n: int = 10,
    sigma: float = 50.0,
    max_rp: float = 0.15,
    volume: int = 10,
    max_speakers: int | None = None,
    raw: bool = False,
    connect: bool = False,
) -> int:
    """NeMo's enhanced speaker counting for short recordings: add ``anchors`` synthetic speakers (random
    means, noise shaped by the real embeddings' per-dimension spread), run NME-SC, subtract the anchors;
    the mode over ``tests`` random draws."""
    from statistics import mode

    emb = np.asarray(emb, np.float64) if raw else unit(emb)
    std = emb.std(axis=0)
    counts = []
    for seed in range(tests):
        rng = np.random.default_rng(seed)
        fake = []
        for _ in range(anchors):
            scale = 1.0 if raw else 1 / np.sqrt(emb.shape[1])
            m = np.tile(rng.standard_normal((1, emb.shape[1])) * scale, (anchor_n, 1))
            noise = rng.standard_normal((anchor_n, emb.shape[1]))
            noise = noise / np.abs(noise).max(axis=1, keepdims=True) * std[None, :]
            fake.append(m + sigma * noise)
        aug = np.vstack([*fake, emb])
        k, _ = nme_count(
            aug, max_speakers=max_speakers or len(emb), max_rp=max_rp, volume=volume, connect=connect
        )
        counts.append(k)
    return max(mode(counts) - anchors, 1)


def merge_path(emb: Any, chunk: Any, local: Any, speech: Any, min_speaker_seconds: float) -> list[float]:
    """Merge distances of the constrained agglomeration down to one cluster (constraints dropped when no
    constrained pair is left): heights[k] = distance of the merge that takes k+1 clusters to k."""
    from verbatim.pipeline.clustering import _normalize

    n = len(emb)
    x = _normalize(emb)
    dist = 1 - x @ x.T
    apart = (chunk[:, None] == chunk[None, :]) & (local[:, None] != local[None, :])
    size = np.ones(n)
    alive = np.ones(n, bool)
    heights = [0.0] * (n + 1)
    for k in range(n, 1, -1):
        live = np.flatnonzero(alive)
        sub = dist[np.ix_(live, live)].copy()
        np.fill_diagonal(sub, np.inf)
        con = sub.copy()
        con[apart[np.ix_(live, live)]] = np.inf
        use = con if np.isfinite(con).any() else sub
        i, j = divmod(int(np.argmin(use)), len(live))
        a, b = live[i], live[j]
        heights[k - 1] = float(use[i, j])
        tot = size[a] + size[b]
        dist[a] = (size[a] * dist[a] + size[b] * dist[b]) / tot
        dist[:, a] = dist[a]
        dist[a, a] = 0
        apart[a] |= apart[b]
        apart[:, a] = apart[a]
        size[a] = tot
        alive[b] = False
    return heights


def silhouette(x: Any, labels: Any, weights: Any | None = None) -> float:
    """Mean cosine silhouette (weighted by ``weights``); 0 for one cluster."""
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    d = 1 - unit(x) @ unit(x).T
    w = np.ones(len(x)) if weights is None else np.asarray(weights, np.float64)
    mean_to = np.stack([(d[:, labels == k] * w[labels == k]).sum(1) / w[labels == k].sum() for k in ks], 1)
    own = np.searchsorted(ks, labels)
    n_own = np.array([w[labels == k].sum() for k in ks])[own]
    # own-cluster mean excluding self
    a = (mean_to[np.arange(len(x)), own] * n_own) / np.maximum(n_own - w, 1e-9)
    other = mean_to.copy()
    other[np.arange(len(x)), own] = np.inf
    b = other.min(1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[n_own - w <= 1e-9] = 0.0
    return float((s * w).sum() / w.sum())


def path_labels(emb: Any, chunk: Any, local: Any, speech: Any, kmax: int) -> dict[int, Any]:
    from verbatim.pipeline.clustering import constrained_clustering

    out = {}
    for k in range(1, min(kmax, len(emb)) + 1):
        out[k] = constrained_clustering(
            emb, chunk, local, speech, threshold=0.55, min_speaker_seconds=1.0, num_clusters=k
        )
    return out


def train_of(analysis: Any, options: Any) -> Any:
    p = analysis.pieces
    train = p.speech >= options.min_embedding_duration
    if not train.any():
        train = p.speech >= p.speech.max()
    return p.embeddings[train], p.chunk[train], p.local[train], p.speech[train]


def main() -> None:
    from diar_dev import components, load  # type: ignore[import-not-found]

    from verbatim.pipeline.diarize import DiarizationOptions, SpeakerDiarizer
    from verbatim.pipeline.types import SpeakerTurn

    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="1")
    ap.add_argument("--methods", default="thr,true,nme")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    groups = {g: load(g) for g in a.sets.split(";")}
    base = DiarizationOptions(count_method="threshold")  # the estimators below replace its count

    def estimate(method: str, rec: Any, analysis: Any) -> int | None:
        if method == "thr":
            return None
        if method == "product":  # the product's default count (DiarizationOptions.count_method)
            return -1
        if method == "true":
            return int(rec.num_speakers)
        emb, chunk, local, speech = train_of(analysis, base)
        if method.startswith("vote"):
            d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
            third = {"vote": "enh-cap-s5", "vote-nme": "nme", "vote-gap": "gap", "vote-nme2": "nme2"}[method]
            ks = [d.num_speakers, estimate("silw", rec, analysis), estimate(third, rec, analysis)]
            return int(sorted(ks)[1])
        if method.startswith("nemo"):  # NeMo's short-recording path as published: raw vectors, sigma 50
            k = enhanced_count(emb, raw=True, connect=True)
            if "gate" in method:
                d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
                k = 1 if d.num_speakers <= 1 else max(k, 2)
            return k
        if method.startswith("enh"):
            sig = float(method.split("s")[-1]) if "-s" in method else 50.0
            k = enhanced_count(emb, max_speakers=None if "cap" not in method else 8 + 3, sigma=sig)
            if "gate" in method:
                d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
                k = 1 if d.num_speakers <= 1 else max(k, 2)
            return k
        if method.startswith("nme"):
            kw: dict[str, Any] = {}
            if "raw" in method:
                kw["scale"] = "none"
            if "sym" in method:
                kw["laplacian"] = "sym"
            if "nme2" in method:
                kw.update(connect=True, max_rp=0.15)
            k, _ = nme_count(emb, **kw)
            if "+thr" in method:  # never fewer than the constrained threshold count
                d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
                k = max(k, d.num_speakers)
            if "gate" in method:  # one speaker when the threshold says so, else at least 2
                d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
                k = 1 if d.num_speakers <= 1 else max(k, 2)
            return k
        if method.startswith("sil"):
            d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
            if d.num_speakers <= 1 and "all" not in method:
                return 1
            if "nbthr" in method and analysis.narrowband:
                return d.num_speakers
            labs = path_labels(emb, chunk, local, speech, 8)
            w = speech if "w" in method.split("-")[0][3:] else None
            scores = {k: silhouette(emb, lab, w) for k, lab in labs.items() if k >= 2}
            if "pm1" in method:
                scores = {k: v for k, v in scores.items() if abs(k - d.num_speakers) <= 1}
            if "pm1" in method and not scores:
                return d.num_speakers
            return max(scores, key=lambda k: scores[k])
        if method.startswith("gap"):
            h = merge_path(emb, chunk, local, speech, 1.0)
            kmax = min(8, len(emb) - 1)
            # stop before the merge with the largest jump in distance
            jumps = {k: h[k - 1] - h[k] for k in range(2, kmax + 1)}
            k = max(jumps, key=lambda k: jumps[k]) if jumps else 1
            d, _ = SpeakerDiarizer.finish(None, analysis, base)  # type: ignore[arg-type]
            if d.num_speakers <= 1:
                return 1
            return k
        raise ValueError(method)

    for method in a.methods.split(","):
        for gname, items in groups.items():
            tot = {"ref": 0.0, "err": 0.0}
            exact = 0
            lines = []
            for rec, analysis in items:
                k = estimate(method, rec, analysis)
                opts = base if k is None else replace(base, num_speakers=k)
                if k == -1:
                    opts = DiarizationOptions()
                d, _ = SpeakerDiarizer.finish(None, analysis, opts)  # type: ignore[arg-type]
                exact += d.num_speakers == rec.num_speakers
                der = None
                if rec.turns is not None:
                    ref = [SpeakerTurn(s, e, spk) for s, e, spk in rec.turns]
                    total, miss, fa, conf = components(ref, d, rec.uem)
                    tot["ref"] += total
                    tot["err"] += miss + fa + conf
                    der = (miss + fa + conf) / total
                lines.append(
                    f"  {rec.id:36s} true {rec.num_speakers} found {d.num_speakers} "
                    f"{'' if der is None else f'DER {der:.3f}'} {'NB' if analysis.narrowband else ''}"
                )
            if a.verbose:
                print("\n".join(lines))
            print(
                f"{method:20s} {gname:10s} DER {tot['err'] / max(tot['ref'], 1e-9):.3f}  "
                f"exact {exact}/{len(items)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
