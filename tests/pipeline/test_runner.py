"""The whole pipeline with the real models: words and who said them."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import DATA
from verbatim.pipeline.decode import decode
from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
from verbatim.pipeline.types import Audio

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def pipeline(asr):  # type: ignore[no-untyped-def]
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings

    return TranscriptionPipeline(asr, get_diarizer(get_settings()))


def _two_speaker_recording() -> Audio:
    """JFK, then another man reading LibriSpeech, then JFK again (22 s)."""
    jfk = decode(DATA / "jfk.flac").samples
    quilter = decode(DATA / "picovoice_test_en.wav").samples
    gap = np.zeros(16000, np.float32)
    samples = np.concatenate([jfk, gap, quilter, gap[:8000], jfk[: 16000 * 4]])
    return Audio(samples, "0" * 64, "dialogue.wav")


def test_who_said_what(pipeline: TranscriptionPipeline) -> None:
    transcript = pipeline.run_audio(_two_speaker_recording(), PipelineOptions())
    assert len(transcript.speakers) == 2
    by_phrase = {}
    for segment in transcript.segments:
        text = segment.text.lower()
        if "fellow americans" in text:
            by_phrase.setdefault("jfk", set()).add(segment.speaker)
        if "quilter" in text:
            by_phrase.setdefault("quilter", set()).add(segment.speaker)
    assert len(by_phrase["jfk"]) == 1, "both JFK passages must be the same speaker"
    assert by_phrase["jfk"].isdisjoint(by_phrase["quilter"])
    # every word carries the speaker of its segment, and segments do not straddle a speaker change
    for segment in transcript.segments:
        assert {w.speaker for w in segment.words} == {segment.speaker}
    assert {"asr", "segmentation", "speaker_embedding"} <= set(transcript.models)


def test_speaker_count_hint_is_honoured(pipeline: TranscriptionPipeline) -> None:
    from verbatim.pipeline.diarize import DiarizationOptions

    options = PipelineOptions(diarization=DiarizationOptions(num_speakers=1))
    transcript = pipeline.run_audio(_two_speaker_recording(), options)
    assert len(transcript.speakers) == 1
