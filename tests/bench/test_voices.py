"""The scoring of `verbatim bench voices` on hand-made clusters (the pipeline's own matching)."""

from __future__ import annotations

import numpy as np

from verbatim.bench.simulate import Voice
from verbatim.bench.voices import ClusterRow, choose, rates, score, split_enrolment


def _row(
    conv: str, truth: int | None, sims: tuple[float, ...], present: tuple[int, ...], seconds: float = 10.0
):  # type: ignore[no-untyped-def]
    return ClusterRow(conv, f"spk{truth}", truth, seconds, sims, present, ())


def test_correct_names_wrong_names_and_false_matches_are_counted() -> None:
    rows = [
        _row("c1", 0, (0.9, 0.5), (0,)),  # enrolled speaker, named: correct
        _row("c1", None, (0.5, 0.8), (0,)),  # not enrolled, looks like voice 1: a false match
        _row("c2", 1, (0.6, 0.65), (1,), seconds=3.0),  # enrolled, too unsure: not named
        _row("c2", 1, (0.2, 0.9), (1,), seconds=20.0),  # the same speaker's main cluster: named
    ]
    counts = score(rows, threshold=0.7, margin=0.1)
    assert counts["enrolled_clusters"] == 3 and counts["correct"] == 2
    assert counts["enrolled_speakers"] == 2 and counts["speaker_correct"] == 2
    assert counts["other_clusters"] == 1 and counts["false_other"] == 1
    # voices absent: c1 loses voice 0 (its cluster 2 still looks like voice 1), c2 loses voice 1
    assert counts["absent_clusters"] == 4 and counts["false_absent"] == 1
    assert rates(counts)["false_rate"] == 2 / 8
    threshold, _margin = choose(rows)
    assert threshold > 0.8  # only above 0.8 is the false match gone


def test_enrolment_takes_other_recordings_than_the_conversations() -> None:
    piece = np.zeros(16000 * 12, np.float32)
    regions = ((0.0, 5.0), (5.5, 11.5))
    voice = Voice("fleurs/x", "fleurs", (piece, piece, piece), (regions[:1], regions[1:], regions))
    split = split_enrolment(voice)
    assert split is not None
    enrol, keep = split
    assert len(enrol.pieces) + len(keep.pieces) == 3 and enrol.speech_seconds >= 8.0
    assert keep.speech_seconds >= 4.0
    long = np.zeros(16000 * 15, np.float32)
    single = Voice("sppas/y", "sppas", (long,), (((0.0, 3.0), (3.5, 6.0), (6.5, 11.0), (11.2, 14.9)),))
    cut = split_enrolment(single)  # one paragraph: cut at the pause between 6.0 and 6.5 s
    assert cut is not None
    enrol, keep = cut
    assert len(keep.pieces[0]) == round(6.25 * 16000) and len(enrol.pieces[0]) + len(keep.pieces[0]) == len(
        long
    )
    assert enrol.regions[0][0] == (0.25, 4.75)
    assert split_enrolment(Voice("short", "x", (piece,), (((0.0, 6.0),),))) is None
