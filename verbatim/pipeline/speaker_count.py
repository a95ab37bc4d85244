"""How many speakers: the median of three counts that err in different ways (issue 11).

1. The threshold count of the constrained agglomeration (:func:`constrained_clustering` stopped at its
   calibrated distance): wrong on 24 of 56 held-out simulated conversations, both ways, mostly by one.
2. The silhouette count: the k in 2..8 whose partition by the same agglomeration (forced to k) has the best
   cosine silhouette, weighted by the seconds of speech each embedding rests on. Better DER, but it
   under-counts a short speaker and over-splits narrowband recordings.
3. The anchored NME-SC count (Park et al. 2019, "Auto-tuning spectral clustering", with NeMo's "enhanced
   counting" for small sets): three synthetic speakers of ten points each are added to the embeddings, the
   eigengap of a p-neighbour binarised affinity gives the count, minus the three anchors; the mode over five
   seeded draws (deterministic). Alone it errs often; it breaks the ties of the other two.

A recording that the threshold counts as one speaker stays one (the silhouette has no k = 1, so it is not
asked). Everything here is pure and runs on at most ``max_points`` evenly spaced embeddings, so its cost does
not grow with the recording.
"""

from __future__ import annotations

from statistics import mode
from typing import Any

import numpy as np
import numpy.typing as npt

from verbatim.pipeline.clustering import constrained_clustering

__all__ = ["anchored_nme_count", "nme_count", "silhouette_count", "vote_count", "weighted_silhouette"]

SILHOUETTE_MAX_SPEAKERS = 8
"""Largest count the silhouette and NME-SC estimators consider (the threshold count is not bounded)."""

ANCHOR_SIGMA = 5.0
"""Spread of the synthetic anchor speakers, in units of the real embeddings' per-dimension standard deviation
(unit-norm embeddings, anchors of unit scale). Chosen on the development set among 0.3, 1, 5, 10, 20, 50;
held out, 0.3, 1 and 5 give the same counts, 10 one worse, 20 and 50 far worse."""


def _unit(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    x = np.asarray(x, dtype=np.float64)
    return np.asarray(x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12))


def weighted_silhouette(
    embeddings: npt.NDArray[Any], labels: npt.NDArray[np.int64], weights: npt.NDArray[Any] | None = None
) -> float:
    """Mean cosine silhouette of a partition, each point weighted by ``weights`` (0 for a single cluster; a
    point alone in its cluster scores 0)."""
    ks = np.unique(labels)
    if len(ks) < 2:
        return 0.0
    x = _unit(embeddings)
    d = 1.0 - x @ x.T
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    mean_to = np.stack([(d[:, labels == k] * w[labels == k]).sum(1) / w[labels == k].sum() for k in ks], 1)
    own = np.searchsorted(ks, labels)
    n_own = np.array([w[labels == k].sum() for k in ks])[own]
    rows = np.arange(len(x))
    a = (mean_to[rows, own] * n_own) / np.maximum(n_own - w, 1e-9)  # own cluster, self left out
    other = mean_to.copy()
    other[rows, own] = np.inf
    b = other.min(1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[n_own - w <= 1e-9] = 0.0
    return float((s * w).sum() / w.sum())


def silhouette_count(
    embeddings: npt.NDArray[Any],
    chunk: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64],
    speech: npt.NDArray[Any],
    *,
    threshold: float,
    min_speaker_seconds: float,
    min_count: int = 2,
    max_count: int = SILHOUETTE_MAX_SPEAKERS,
) -> int:
    """The k in ``min_count..max_count`` (at least 2) whose constrained-agglomeration partition has the best
    speech-weighted cosine silhouette (the smallest such k on a tie)."""
    low = max(min_count, 2)
    high = min(max_count, len(embeddings))
    best_k, best = low, -np.inf
    for k in range(low, high + 1):
        labels = constrained_clustering(
            embeddings,
            chunk,
            local,
            speech,
            threshold=threshold,
            min_speaker_seconds=min_speaker_seconds,
            num_clusters=k,
        )
        score = weighted_silhouette(embeddings, labels, speech)
        if score > best:
            best_k, best = k, score
    return best_k


def nme_count(
    embeddings: npt.NDArray[Any], *, max_speakers: int, max_rp: float = 0.15, volume: int = 10
) -> int:
    """NME-SC's count: min-max scaled cosine affinity, binarised to each row's p nearest neighbours and
    symmetrised; p (among ``volume`` values up to ``max_rp`` of the points) minimises p / n over the largest
    normalised eigengap of the unnormalised Laplacian; the count is that gap's position (at most
    ``max_speakers``)."""
    n = len(embeddings)
    if n < 3:
        return 1
    x = _unit(embeddings)
    a = x @ x.T
    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
    p_max = max(1, int(np.floor(n * max_rp)))
    ps = sorted({int(v) for v in np.linspace(1, p_max, min(volume, p_max)).round()})
    order = np.argsort(-a, axis=1)
    rows = np.arange(n)
    best_ratio, best_k = np.inf, 1
    for p in ps:
        b = np.zeros_like(a)
        b[np.repeat(rows, p), order[:, :p].reshape(-1)] = 1.0
        b = 0.5 * (b + b.T)
        lam = np.linalg.eigvalsh(np.diag(b.sum(axis=1)) - b)
        gaps = np.diff(lam[: max_speakers + 1])
        k = int(np.argmax(gaps))
        ratio = (p / n) / (gaps[k] / (lam.max() + 1e-10) + 1e-10)
        if ratio < best_ratio:
            best_ratio, best_k = ratio, k + 1
    return best_k


def anchored_nme_count(
    embeddings: npt.NDArray[Any],
    *,
    sigma: float = ANCHOR_SIGMA,
    anchors: int = 3,
    anchor_points: int = 10,
    draws: int = 5,
    max_speakers: int = SILHOUETTE_MAX_SPEAKERS,
) -> int:
    """NME-SC's count with ``anchors`` synthetic speakers added (NeMo's counting for small sets), minus them:
    the mode over ``draws`` draws, each from a generator seeded by its index (deterministic)."""
    x = _unit(embeddings)
    dim = x.shape[1]
    std = x.std(axis=0)
    counts = []
    for seed in range(draws):
        rng = np.random.default_rng(seed)
        fake = []
        for _ in range(anchors):
            centre = np.tile(rng.standard_normal((1, dim)) / np.sqrt(dim), (anchor_points, 1))
            noise = rng.standard_normal((anchor_points, dim))
            noise = noise / np.abs(noise).max(axis=1, keepdims=True) * std[None, :]
            fake.append(centre + sigma * noise)
        counts.append(nme_count(np.vstack([*fake, x]), max_speakers=max_speakers + anchors))
    return max(mode(counts) - anchors, 1)


def vote_count(
    embeddings: npt.NDArray[Any],
    chunk: npt.NDArray[np.int64],
    local: npt.NDArray[np.int64],
    speech: npt.NDArray[Any],
    *,
    threshold_count: int,
    threshold: float,
    min_speaker_seconds: float,
    min_count: int = 1,
    max_count: int | None = None,
    max_points: int = 300,
) -> int:
    """The median of the threshold count, the silhouette count and the anchored NME-SC count, within
    ``min_count..max_count``. A threshold count of one is kept (see the module docstring).

    Args:
        embeddings / chunk / local / speech: as for :func:`constrained_clustering` (the clustered embeddings).
        threshold_count: the count the constrained agglomeration gave at its threshold.
        threshold / min_speaker_seconds: the agglomeration's settings, for the silhouette's partitions.
        max_points: past this many embeddings the two estimators run on an evenly spaced subset (bounded
            cost).
    """
    if threshold_count <= 1:
        return threshold_count
    n = len(embeddings)
    if n > max_points:
        subset = np.linspace(0, n - 1, max_points).round().astype(np.int64)
        embeddings, chunk, local, speech = embeddings[subset], chunk[subset], local[subset], speech[subset]
        min_speaker_seconds = min_speaker_seconds * max_points / n
    silhouette = silhouette_count(
        embeddings,
        chunk,
        local,
        speech,
        threshold=threshold,
        min_speaker_seconds=min_speaker_seconds,
        min_count=min_count,
        max_count=SILHOUETTE_MAX_SPEAKERS if max_count is None else min(max_count, SILHOUETTE_MAX_SPEAKERS),
    )
    anchored = anchored_nme_count(embeddings)
    median = sorted([threshold_count, silhouette, anchored])[1]
    count = max(median, min_count)
    return int(count if max_count is None else min(count, max_count))
