"""DER on hand-made turns: each case has a value worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from verbatim.pipeline.der import diarization_error_rate, read_rttm, read_uem
from verbatim.pipeline.types import Diarization, SpeakerTurn

T = SpeakerTurn


def test_perfect_hypothesis_with_other_labels_scores_zero() -> None:
    ref = [T(0, 5, "A"), T(5, 10, "B")]
    hyp = Diarization(turns=(T(0, 5, "S2"), T(5, 10, "S1")), num_speakers=2)
    assert diarization_error_rate(ref, hyp) == pytest.approx(0.0)


def test_confusion_miss_and_false_alarm() -> None:
    ref = [T(0, 5, "A"), T(5, 10, "B")]
    # x overlaps B for 5 s and A for 4 s: x -> B, so 0-4 is confusion (4 s), 4-5 missed (1 s),
    # and y adds 1 s of false alarm at 10-11 (inside the UEM)
    hyp = [T(0, 4, "x"), T(5, 10, "x"), T(10, 11, "y")]
    assert diarization_error_rate(ref, hyp, uem=(0, 11)) == pytest.approx((4 + 1 + 1) / 10)


def test_overlap_counts_both_speakers() -> None:
    ref = [T(0, 10, "A"), T(4, 6, "B")]  # 12 s of reference speech
    hyp = [T(0, 10, "S1")]  # the overlapped speaker is missed: 2 s
    assert diarization_error_rate(ref, hyp) == pytest.approx(2 / 12)


def test_uem_limits_scoring() -> None:
    ref = [T(0, 10, "A")]
    hyp = [T(0, 10, "S1"), T(20, 30, "S1")]
    assert diarization_error_rate(ref, hyp, uem=(0, 10)) == pytest.approx(0.0)
    assert diarization_error_rate(ref, hyp, uem=(0, 30)) == pytest.approx(1.0)


def test_collar_forgives_boundaries_each_side() -> None:
    ref = [T(0, 5, "A"), T(5, 10, "B")]
    hyp = [T(0, 5.2, "S1"), T(5.2, 10, "S2")]  # boundary 0.2 s late
    assert diarization_error_rate(ref, hyp, uem=(0, 10)) == pytest.approx(0.2 / 10)
    assert diarization_error_rate(ref, hyp, uem=(0, 10), collar=0.25) == pytest.approx(0.0)


def test_empty_reference_and_hypothesis() -> None:
    assert diarization_error_rate([], []) == 0.0


def test_read_rttm_and_uem(tmp_path: Path) -> None:
    rttm = tmp_path / "x.rttm"
    rttm.write_text(
        "SPEAKER f1 1 3.000 1.500 <NA> <NA> B <NA> <NA>\n"
        "SPEAKER f1 1 0.500 2.000 <NA> <NA> A <NA> <NA>\n"
        ";; comment\n"
        "SPEAKER f2 1 0.000 1.000 <NA> <NA> C <NA> <NA>\n"
    )
    turns = read_rttm(rttm)
    assert turns["f1"] == [T(0.5, 2.5, "A"), T(3.0, 4.5, "B")]
    assert turns["f2"] == [T(0.0, 1.0, "C")]
    uem = tmp_path / "x.uem"
    uem.write_text("f1 NA 0.000 30.000\n")
    assert read_uem(uem) == {"f1": (0.0, 30.0)}
