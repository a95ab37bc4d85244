"""merge_chunks on synthetic chunk results: one voice, one id over the whole recording."""

from __future__ import annotations

import json

import numpy as np
import pytest

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.chunks import ChunkResult, merge_chunks
from verbatim.pipeline.diarize import DiarizationOptions
from verbatim.pipeline.runner import PipelineOptions
from verbatim.pipeline.types import Segment, SpeakerTurn, Transcript, Word

rng = np.random.default_rng(0)
VOICE_A = rng.normal(size=192)
VOICE_B = rng.normal(size=192)


def _near(voice: np.ndarray) -> tuple[float, ...]:
    """A centroid as the diarizer gives it: a mean of unit vectors, so of norm below 1."""
    v = voice + rng.normal(scale=0.1, size=192)
    return tuple(float(x) for x in 0.8 * v / np.linalg.norm(v))


def _segment(start: float, end: float, text: str) -> Segment:
    words = text.split()
    step = (end - start) / len(words)
    return Segment(
        id=0,
        start=start,
        end=end,
        text=" " + text,
        words=tuple(
            Word(start + i * step, start + (i + 1) * step, " " + w, 0.9) for i, w in enumerate(words)
        ),
        language="en",
    )


def _chunk(
    index: int,
    offset: float,
    lines: list[tuple[str, float, float, str]],
    centroids: dict[str, tuple[float, ...]],
) -> ChunkResult:
    """``lines``: (local speaker, start, end, text), times on the recording's clock."""
    transcript = Transcript(
        language="en",
        duration=10.0,
        segments=tuple(_segment(s, e, text) for _, s, e, text in lines),
        models={"asr": {"name": "whisper-test"}},
    )
    turns = tuple(SpeakerTurn(s, e, spk) for spk, s, e, _ in lines)
    return ChunkResult(index, offset, 10.0, transcript, turns, centroids, diarized=True)


def _swapped() -> list[ChunkResult]:
    # chunk 0: A speaks first (local S1), then B (local S2); chunk 1: B first (local S1), then A (local S2)
    first = _chunk(
        0,
        0.0,
        [("S1", 0.5, 4.5, "alpha one two"), ("S2", 5.0, 9.5, "bravo three four")],
        {"S1": _near(VOICE_A), "S2": _near(VOICE_B)},
    )
    second = _chunk(
        1,
        10.0,
        [("S1", 10.5, 14.5, "bravo five six"), ("S2", 15.0, 19.5, "alpha seven eight")],
        {"S1": _near(VOICE_B), "S2": _near(VOICE_A)},
    )
    return [second, first]  # any order


def _speaker_of(transcript: Transcript, word: str) -> str | None:
    (segment,) = [s for s in transcript.segments if word in s.text]
    return segment.speaker


def test_swapped_local_speakers_get_consistent_global_ids() -> None:
    merged = merge_chunks(_swapped(), PipelineOptions(), audio_sha256="ab" * 32, filename="long.wav")
    assert [s.text.split()[0] for s in merged.segments] == ["alpha", "bravo", "bravo", "alpha"]
    assert [s.id for s in merged.segments] == [0, 1, 2, 3]
    assert [s.speaker for s in merged.segments] == ["S1", "S2", "S2", "S1"]
    assert merged.speakers == {"S1": "S1", "S2": "S2"}
    for segment in merged.segments:
        assert {w.speaker for w in segment.words} == {segment.speaker}
    assert (merged.duration, merged.language) == (20.0, "en")
    assert (merged.audio_sha256, merged.filename) == ("ab" * 32, "long.wav")
    assert merged.models == {"asr": {"name": "whisper-test"}}


def test_speaker_count_hint_is_honoured() -> None:
    options = PipelineOptions(diarization=DiarizationOptions(num_speakers=1))
    merged = merge_chunks(_swapped(), options)
    # a requested count wins over keeping two local speakers of one chunk apart
    assert set(merged.speakers) == {"S1"}


def test_local_speakers_of_one_chunk_stay_apart() -> None:
    # chunk 1's two local speakers both sound like A: the clustering may merge them, but they
    # talk in the same chunk, so they must end up as two different people.
    first = _chunk(
        0,
        0.0,
        [("S1", 0.5, 4.5, "alpha one two"), ("S2", 5.0, 9.5, "bravo three four")],
        {"S1": _near(VOICE_A), "S2": _near(VOICE_B)},
    )
    second = _chunk(
        1,
        10.0,
        [("S1", 10.5, 14.5, "alpha five six"), ("S2", 15.0, 19.5, "charlie seven eight")],
        {"S1": _near(VOICE_A), "S2": _near(VOICE_A)},
    )
    merged = merge_chunks([first, second], PipelineOptions())
    assert _speaker_of(merged, "five") != _speaker_of(merged, "seven")


def test_round_trip_through_json_and_no_diarisation() -> None:
    chunks = _swapped()
    again = [ChunkResult.from_dict(json.loads(json.dumps(c.to_dict()))) for c in chunks]
    assert [c.to_dict() for c in again] == [c.to_dict() for c in chunks]  # times kept to the ms
    assert again[0].centroids == chunks[0].centroids and again[0].turns == chunks[0].turns
    plain = [
        ChunkResult(c.index, c.offset, c.duration, c.transcript) for c in chunks
    ]  # diarisation off: no turns
    merged = merge_chunks(plain, PipelineOptions(diarize=False))
    assert [s.speaker for s in merged.segments] == [None] * 4
    assert merged.text.split()[:3] == ["alpha", "one", "two"]


def test_bad_input() -> None:
    with pytest.raises(InvalidOptionError):
        merge_chunks([], PipelineOptions())
    with pytest.raises(InvalidOptionError):
        merge_chunks(_swapped()[:1], PipelineOptions())  # chunk 1 without chunk 0
    with pytest.raises(InvalidOptionError):
        ChunkResult.from_dict({"schema": "other"})


def test_a_long_recording_split_in_parts_names_an_enrolled_voice_once() -> None:
    from dataclasses import replace

    from verbatim.pipeline.voices import KnownVoice, VoiceNaming

    chunks = [
        replace(c, transcript=c.transcript.with_(models={"speaker_embedding": {"sha256": "w"}}))
        for c in _swapped()
    ]
    unit = (VOICE_B / np.linalg.norm(VOICE_B)).astype(np.float32)
    naming = VoiceNaming((KnownVoice("v1", "Greffière Martin", unit, model_sha256="w"),), narrowband=False)
    merged = merge_chunks(chunks, PipelineOptions(voices=naming))
    assert merged.speakers == {"S1": "S1", "S2": "Greffière Martin"}  # B, in both parts, is one speaker
    assert list(merged.voices) == ["S2"] and merged.voices["S2"].similarity > 0.9
    other_weights = VoiceNaming((KnownVoice("v1", "Greffière Martin", unit, model_sha256="z"),))
    assert merge_chunks(chunks, PipelineOptions(voices=other_weights)).voices == {}
