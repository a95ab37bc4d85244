"""The speaker-count vote (verbatim.pipeline.speaker_count) on synthetic embeddings."""

from __future__ import annotations

import numpy as np

from verbatim.pipeline.speaker_count import (
    anchored_nme_count,
    silhouette_count,
    vote_count,
    weighted_silhouette,
)


def _blobs(sizes: list[int], dim: int = 16, spread: float = 0.05, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)]  # orthogonal: cosine distance 1 between speakers
    x = np.concatenate([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes, strict=True)])
    return x.astype(np.float32)


def _free(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """chunk, local speaker and seconds of speech of ``n`` embeddings with no cannot-link between them."""
    return np.arange(n), np.zeros(n, np.int64), np.full(n, 2.0, np.float32)


def test_silhouette_prefers_the_true_partition() -> None:
    x = _blobs([10, 8, 6])
    truth = np.repeat(np.arange(3), [10, 8, 6])
    wrong = np.where(truth == 2, 1, truth)  # two speakers merged
    assert weighted_silhouette(x, truth) > 0.8
    assert weighted_silhouette(x, truth) > weighted_silhouette(x, wrong)
    assert weighted_silhouette(x, np.zeros(len(x), np.int64)) == 0.0
    # weights: a point with no weight does not count
    weights = np.ones(len(x))
    weights[0] = 0.0
    moved = truth.copy()
    moved[0] = 1
    assert weighted_silhouette(x, moved, weights) == weighted_silhouette(x, truth, weights)


def test_well_separated_speakers_are_counted() -> None:
    for sizes in ([10, 8, 6], [20, 15, 12, 9, 6]):
        x = _blobs(sizes)
        assert silhouette_count(x, *_free(len(x)), threshold=0.5, min_speaker_seconds=1.0) == len(sizes)
        # a threshold count off by one: the median of it, the silhouette's (right) and the anchored count
        anchored = anchored_nme_count(x)
        for wrong in (len(sizes) - 1, len(sizes) + 1):
            vote = vote_count(
                x, *_free(len(x)), threshold_count=wrong, threshold=0.5, min_speaker_seconds=1.0
            )
            assert vote == sorted([wrong, len(sizes), anchored])[1]
        vote = vote_count(
            x, *_free(len(x)), threshold_count=len(sizes), threshold=0.5, min_speaker_seconds=1.0
        )
        assert vote == len(sizes)


def test_one_speaker_stays_one() -> None:
    x = _blobs([24])
    assert vote_count(x, *_free(len(x)), threshold_count=1, threshold=0.5, min_speaker_seconds=1.0) == 1
    assert vote_count(x[:1], *_free(1), threshold_count=1, threshold=0.5, min_speaker_seconds=1.0) == 1


def test_a_short_second_speaker_is_kept() -> None:
    x = _blobs([30, 3])  # the second speaker: three embeddings, 6 s
    assert silhouette_count(x, *_free(len(x)), threshold=0.5, min_speaker_seconds=1.0) == 2
    assert vote_count(x, *_free(len(x)), threshold_count=2, threshold=0.5, min_speaker_seconds=1.0) == 2


def test_the_anchored_count_is_deterministic() -> None:
    x = _blobs([12, 10, 8], dim=64, seed=4)
    assert len({anchored_nme_count(x) for _ in range(3)}) == 1
    assert 1 <= anchored_nme_count(x) <= 8


def test_bounds_are_honoured() -> None:
    x = _blobs([10, 8, 6])
    free = _free(len(x))
    assert vote_count(x, *free, threshold_count=3, threshold=0.5, min_speaker_seconds=1.0, max_count=2) == 2
    assert vote_count(x, *free, threshold_count=3, threshold=0.5, min_speaker_seconds=1.0, min_count=4) == 4


def test_many_embeddings_are_counted_on_a_subset() -> None:
    sizes = [500, 350, 150]
    x = _blobs(sizes, seed=2)
    order = np.random.default_rng(0).permutation(len(x))  # speakers interleaved in time
    vote = vote_count(
        x[order], *_free(len(x)), threshold_count=3, threshold=0.5, min_speaker_seconds=1.0, max_points=300
    )
    assert vote == 3
