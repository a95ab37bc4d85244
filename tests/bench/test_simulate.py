"""Simulated conversations: built from the committed single-speaker fixtures, checked for what the
diarisation tuning relies on (reference turns where the speech is, every speaker present, seeds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from verbatim.bench.simulate import (
    SimulationOptions,
    Voice,
    merge_same_speakers,
    simulate_conversation,
    simulated_conversations,
    voice_from_samples,
)
from verbatim.pipeline.types import SAMPLE_RATE

DATA = Path(__file__).parent.parent / "data"


def committed_voices() -> list[Voice]:
    """Seven different people from the committed fixtures (all MIT, Apache-2.0 or CC BY)."""
    from verbatim.pipeline.decode import decode, decode_channels
    from verbatim.pipeline.der import read_rttm

    voices = []
    for name in ("jfk.flac", "picovoice_test_en.wav", "picovoice_test_fr.wav"):
        voices.append(voice_from_samples(f"fixture/{name}", name, [decode(DATA / name).samples]))
    for channel, audio in enumerate(decode_channels(DATA / "stereo_diarization.wav")):
        voices.append(voice_from_samples(f"fixture/stereo-{channel}", "stereo", [audio.samples]))
    meeting = decode(DATA / "ami_dev00.wav").samples
    turns = read_rttm(DATA / "ami_dev00.rttm")["dev00"]
    # stretches where one participant talks alone (see the RTTM): MEE009 2-13 s, MEE012 13.5-16.5 s
    for speaker, (start, end) in (("MEE009", (2.0, 13.0)), ("MEE012", (13.5, 16.5))):
        assert any(t.speaker == speaker and t.start <= start + 1 for t in turns)
        piece = meeting[int(start * SAMPLE_RATE) : int(end * SAMPLE_RATE)]
        voices.append(voice_from_samples(f"ami/{speaker}", "ami", [piece]))
    return [v for v in voices if v is not None]


@pytest.fixture(scope="module")
def voices() -> list[Voice]:
    found = committed_voices()
    assert len(found) == 7
    return found


def test_a_conversation_has_every_speaker_and_true_turns(voices: list[Voice]) -> None:
    options = SimulationOptions(min_duration=20, max_duration=30, phone_probability=0.0)
    conversation = simulate_conversation(
        voices, np.random.default_rng(3), options, num_speakers=5, conversation_id="five"
    )
    assert len(conversation.speakers) == 5
    assert {t[2] for t in conversation.turns} == set(conversation.speakers)
    assert all(0 <= s < e <= conversation.duration + 1e-6 for s, e, _ in conversation.turns)
    assert conversation.duration >= 20 + options.seconds_per_speaker * 5 - 1
    # speech is where the reference says, silence elsewhere (pauses between turns are silent)
    x = conversation.samples
    inside = np.zeros(len(x), bool)
    for s, e, _ in conversation.turns:
        inside[int(s * SAMPLE_RATE) : int(e * SAMPLE_RATE)] = True
    assert inside.mean() < 0.97
    rms_in = float(np.sqrt(np.mean(x[inside] ** 2)))
    rms_out = float(np.sqrt(np.mean(x[~inside] ** 2)))
    assert rms_in > 4 * rms_out


def test_conversations_are_seeded_and_varied(voices: list[Voice]) -> None:
    options = SimulationOptions(min_duration=10, max_duration=15)
    first = simulated_conversations(voices, 6, seed=7, options=options)
    again = simulated_conversations(voices, 6, seed=7, options=options)
    assert [c.turns for c in first] == [c.turns for c in again]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first, again, strict=True))
    other = simulated_conversations(voices, 6, seed=8, options=options)
    assert [c.turns for c in other] != [c.turns for c in first]
    assert all(1 <= len(c.speakers) <= 7 for c in first)


def test_phone_line_removes_the_high_band(voices: list[Voice]) -> None:
    options = SimulationOptions(min_duration=10, max_duration=12, phone_probability=1.0)
    call = simulate_conversation(voices, np.random.default_rng(0), options, num_speakers=2)
    assert call.phone and "phone" in call.tags
    spectrum = np.abs(np.fft.rfft(call.samples)) ** 2
    freqs = np.fft.rfftfreq(len(call.samples), 1 / SAMPLE_RATE)
    assert spectrum[freqs > 4500].sum() < 0.01 * spectrum[(freqs > 300) & (freqs < 3400)].sum()


def test_one_person_in_two_clips_is_one_voice(voices: list[Voice]) -> None:
    a = voices[0]
    twin = Voice(speaker="fixture/jfk-again", corpus=a.corpus, pieces=a.pieces, regions=a.regions)
    other = voices[1]
    same_corpus_other = Voice(
        speaker="fixture/other", corpus=a.corpus, pieces=other.pieces, regions=other.regions
    )

    def embed(samples: np.ndarray) -> np.ndarray:  # a stand-in embedding: the average log spectrum
        frames = samples[: len(samples) // 512 * 512].reshape(-1, 512)
        spectrum = np.log(np.abs(np.fft.rfft(frames, axis=1)).mean(axis=0) + 1e-6)
        return spectrum - spectrum.mean()

    merged = merge_same_speakers([a, twin, same_corpus_other], embed, threshold=0.99)
    assert len(merged) == 2
    assert sum(len(v.pieces) for v in merged) == 3


def test_too_many_speakers_is_refused(voices: list[Voice]) -> None:
    with pytest.raises(ValueError, match="voices available"):
        simulate_conversation(voices, np.random.default_rng(0), num_speakers=8)
