"""The diarisation stage: pure steps on synthetic data, then the real models on committed clips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.diarize import (
    DiarizationOptions,
    SpeakerDiarizer,
    activity_to_turns,
    assign_to_centroids,
    reconstruct,
)
from verbatim.pipeline.types import Audio, SpeakerTurn

DATA = Path(__file__).parent.parent / "data"


@pytest.mark.parametrize(
    "options",
    [
        DiarizationOptions(num_speakers=0),
        DiarizationOptions(min_speakers=0),
        DiarizationOptions(min_speakers=3, max_speakers=2),
        DiarizationOptions(step=0.0),
        DiarizationOptions(clustering_threshold=0.0),
        DiarizationOptions(min_duration_on=-1.0),
        DiarizationOptions(batch_size=0),
        DiarizationOptions(count_method="median"),  # type: ignore[arg-type]
    ],
)
def test_invalid_options_are_refused(options: DiarizationOptions) -> None:
    with pytest.raises(InvalidOptionError):
        options.validate()


def test_default_options_are_valid() -> None:
    DiarizationOptions().validate()
    DiarizationOptions(num_speakers=2, min_speakers=2, max_speakers=2).validate()


def _blobs(
    sizes: list[int], dim: int = 16, spread: float = 0.05, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(sizes)]  # orthogonal: cosine distance 1 between speakers
    x = np.concatenate([c + rng.normal(0, spread, (n, dim)) for c, n in zip(centres, sizes, strict=True)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return x.astype(np.float32), truth


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return len(set(zip(a.tolist(), b.tolist(), strict=True))) == len(set(a.tolist())) == len(set(b.tolist()))


def _free(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """chunk, local speaker and seconds of speech of ``n`` embeddings with no cannot-link between them."""
    return np.arange(n), np.zeros(n, np.int64), np.full(n, 2.0, np.float32)


def test_clustering_finds_the_number_of_speakers() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    x, truth = _blobs([10, 8, 6])
    labels = constrained_clustering(x, *_free(len(x)), threshold=0.5)
    assert _same_partition(labels, truth)


def test_many_embeddings_are_clustered_through_a_subset() -> None:
    # hours of speech: more embeddings than the direct clustering takes; the result must be the same
    # partition, including a speaker who talks little
    from verbatim.pipeline.clustering import constrained_clustering

    x, truth = _blobs([4000, 2500, 120], seed=1)
    order = np.random.default_rng(2).permutation(len(x))
    labels = constrained_clustering(x[order], *_free(len(x)), threshold=0.5, max_points=500)
    assert _same_partition(labels, truth[order])
    forced = constrained_clustering(x[order], *_free(len(x)), threshold=0.5, num_clusters=2, max_points=500)
    assert len(set(forced.tolist())) == 2


def test_small_clusters_fold_into_large_ones() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    x, truth = _blobs([10, 8, 2])  # the third speaker: 2 embeddings of 0.4 s, under a second of speech
    chunk, local, speech = _free(len(x))
    speech[truth == 2] = 0.4
    labels = constrained_clustering(x, chunk, local, speech, threshold=0.5, min_speaker_seconds=1.0)
    assert len(set(labels.tolist())) == 2
    assert _same_partition(labels[truth < 2], truth[truth < 2])
    # unless the count is forced
    forced = constrained_clustering(
        x, chunk, local, speech, threshold=0.5, min_speaker_seconds=1.0, num_clusters=3
    )
    assert _same_partition(forced, truth)


def test_a_forced_count_folds_fragments_before_merging_speakers() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    rng = np.random.default_rng(4)
    eye = np.eye(16)
    close = (eye[1] + eye[2]) / np.sqrt(2)  # cosine distance 0.29 from speaker 1
    centres = [eye[0], eye[1], close, eye[3]]
    sizes = [10, 8, 8, 2]  # the last: a fragment of two embeddings on 0.4 s each
    x = np.concatenate([c + rng.normal(0, 0.02, (n, 16)) for c, n in zip(centres, sizes, strict=True)])
    truth = np.repeat(np.arange(4), sizes)
    chunk, local, speech = _free(len(x))
    speech[truth == 3] = 0.4
    kept = constrained_clustering(
        x.astype(np.float32), chunk, local, speech, threshold=0.2, min_speaker_seconds=1.0, num_clusters=3
    )
    # the three speakers stay apart (the two close ones are not merged to make room for the fragment)
    assert _same_partition(kept[truth < 3], truth[truth < 3])
    assert len(set(kept.tolist())) == 3


def test_clustering_degenerate_inputs() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    assert constrained_clustering(np.ones((1, 4), np.float32), *_free(1), threshold=0.5).tolist() == [0]


def test_assignment_keeps_speakers_of_one_chunk_apart() -> None:
    centroids = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    # both embeddings of chunk 0 are closest to centroid 0, but they must not merge
    emb = np.array([[1.0, 0.1], [1.0, 0.5], [1.0, 0.5]], np.float32)
    labels = assign_to_centroids(emb, np.array([0, 0, 1]), centroids)
    assert labels.tolist() == [0, 1, 0]
    # more local speakers than centroids: the worst match is left out
    three = assign_to_centroids(
        np.array([[1, 0], [0, 1], [0.7, 0.7]], np.float32), np.array([5, 5, 5]), centroids
    )
    assert sorted(three.tolist()) == [-1, 0, 1]


def test_reconstruction_stitches_chunks_and_keeps_overlap() -> None:
    # two chunks of 10 frames, the second starts at frame 5; global speaker 0 talks frames 0-7,
    # speaker 1 frames 6-14 (overlap at 6-7), each chunk labels them in its own local order.
    activity = np.zeros((2, 10, 3), np.uint8)
    activity[0, 0:8, 2] = 1  # speaker 0 is local 2 in chunk 0
    activity[0, 6:10, 0] = 1  # speaker 1 is local 0 in chunk 0
    activity[1, 0:3, 1] = 1  # speaker 0 (frames 5-7) is local 1 in chunk 1
    activity[1, 1:10, 2] = 1  # speaker 1 (frames 6-14) is local 2 in chunk 1
    labels = np.array([[1, -1, 0], [-1, 0, 1]])
    active = reconstruct(activity, np.array([0, 5]), labels, num_frames=15, num_clusters=2)
    assert np.flatnonzero(active[:, 0]).tolist() == list(range(0, 8))
    assert np.flatnonzero(active[:, 1]).tolist() == list(range(6, 15))


def test_reconstruction_follows_the_majority_of_chunks() -> None:
    # three chunks cover the same 4 frames; two say speaker 0, one says speaker 1: speaker 0 wins
    activity = np.ones((3, 4, 1), np.uint8)
    labels = np.array([[0], [0], [1]])
    active = reconstruct(activity, np.array([0, 0, 0]), labels, num_frames=4, num_clusters=2)
    assert active[:, 0].all()
    assert not active[:, 1].any()


def test_reconstruction_accepts_per_frame_labels() -> None:
    activity = np.ones((1, 6, 1), np.uint8)
    labels = np.array([[[0], [0], [0], [1], [1], [1]]])
    active = reconstruct(activity, np.array([0]), labels, num_frames=6, num_clusters=2)
    assert active[:, 0].tolist() == [True] * 3 + [False] * 3
    assert active[:, 1].tolist() == [False] * 3 + [True] * 3


def test_reconstruction_follows_the_chunk_that_embedded_a_frame() -> None:
    # three chunks cover frame 0-3: one embedded it and says speaker 1, two only carried a label (speaker 0)
    activity = np.ones((3, 4, 1), np.uint8)
    labels = np.array([0, 0, 1]).reshape(3, 1, 1).repeat(4, axis=1)
    weights = np.array([1e-3, 1e-3, 1.0], np.float32).reshape(3, 1, 1).repeat(4, axis=1)
    offsets = np.zeros(3, np.int64)
    assert reconstruct(activity, offsets, labels, 4, 2, weights)[:, 1].all()
    assert reconstruct(activity, offsets, labels, 4, 2)[:, 0].all()  # equal votes: the majority


def test_activity_to_turns_fills_gaps_and_drops_blips() -> None:
    active = np.zeros((100, 2), bool)
    active[10:30, 0] = True
    active[32:50, 0] = True  # 2-frame gap
    active[60:61, 1] = True  # 1-frame blip
    turns = activity_to_turns(
        active, frame_step=0.1, frame_offset=0.05, duration=10.0, min_duration_off=0.3, min_duration_on=0.2
    )
    assert turns == [(pytest.approx(1.0), pytest.approx(5.0), 0)]
    raw = activity_to_turns(active, frame_step=0.1, frame_offset=0.05, duration=10.0)
    assert len(raw) == 3


# --- real models --------------------------------------------------------------------------------------------


def _load(name: str) -> Audio:
    import soundfile as sf

    samples, rate = sf.read(DATA / name, dtype="float32")
    assert rate == 16000 and samples.ndim == 1
    return Audio(samples=samples, sha256="", filename=name)


@pytest.fixture(scope="module")
def diarizer() -> SpeakerDiarizer:
    return SpeakerDiarizer()


def _overlap(
    turns: tuple[SpeakerTurn, ...] | list[SpeakerTurn], speaker: str, start: float, end: float
) -> float:
    return sum(max(0.0, min(end, t.end) - max(start, t.start)) for t in turns if t.speaker == speaker)


@pytest.mark.models
def test_two_speaker_meeting(diarizer: SpeakerDiarizer) -> None:
    from verbatim.pipeline.der import diarization_error_rate, read_rttm

    audio = _load("ami_dev00.wav")
    progress: list[tuple[float, float]] = []
    result = diarizer(audio, hook=lambda step, *, completed, total: progress.append((completed, total)))
    assert result.num_speakers == 2
    assert result.speakers == ("S1", "S2")
    assert all(a.start <= b.start for a, b in zip(result.turns, result.turns[1:], strict=False))
    # MEE009 talks alone 2-13 s, MEE012 alone 13.5-16.5 s: each stretch goes mostly to one, different, speaker
    first = max(("S1", "S2"), key=lambda s: _overlap(result.turns, s, 2, 13))
    second = "S2" if first == "S1" else "S1"
    assert _overlap(result.turns, first, 2, 13) > 9
    # each second of speech is embedded once (not 4 times): the short second stretch is only half won now
    assert _overlap(result.turns, second, 13.5, 16.5) > 1.2
    reference = read_rttm(DATA / "ami_dev00.rttm")["dev00"]
    assert diarization_error_rate(reference, result, uem=(0, 30)) < 0.3
    assert progress[-1][0] == progress[-1][1] and progress[0][0] == 0
    assert set(diarizer.identity()) == {"segmentation", "speaker_embedding"}


@pytest.mark.models
def test_known_count_of_three(diarizer: SpeakerDiarizer) -> None:
    audio = _load("picovoice_diarization_test.wav")
    result = diarizer(audio, DiarizationOptions(num_speakers=3))
    assert result.num_speakers == 3
    assert result.turns[0].start < 2.0


@pytest.mark.models
def test_bounds_are_honoured(diarizer: SpeakerDiarizer) -> None:
    audio = _load("picovoice_diarization_test.wav")
    assert diarizer(audio, DiarizationOptions(max_speakers=1)).num_speakers == 1


@pytest.mark.models
def test_silence_and_noise_give_no_turns(diarizer: SpeakerDiarizer) -> None:
    for samples in (
        np.zeros(16000 * 12, np.float32),
        np.random.default_rng(0).normal(0, 1e-4, 16000 * 3).astype(np.float32),
        np.zeros(0, np.float32),
    ):
        result = diarizer(Audio(samples=samples, sha256="", filename="silence.wav"))
        assert result.turns == ()
        assert result.num_speakers == 0


@pytest.mark.models
def test_short_audio_is_padded(diarizer: SpeakerDiarizer) -> None:
    audio = _load("ami_dev00.wav")
    short = Audio(samples=audio.samples[16000 * 2 : 16000 * 6], sha256="", filename="short.wav")
    result = diarizer(short)
    assert result.num_speakers >= 1
    assert all(0.0 <= t.start < t.end <= 4.0 for t in result.turns)
    assert sum(t.end - t.start for t in result.turns) > 2.0


# --- the number of speakers -----------------------------------------------------------------------------


def test_constrained_clustering_keeps_voices_of_one_chunk_apart() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    # two similar voices (cosine distance about 0.3, under the threshold) heard together in chunk 0
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    other = base + 0.9 * rng.normal(size=16)
    x = np.stack(
        [base + 0.05 * rng.normal(size=16) for _ in range(4)]
        + [other + 0.05 * rng.normal(size=16) for _ in range(4)]
    )
    chunk = np.array([0, 1, 2, 3, 0, 4, 5, 6])
    local = np.array([0, 0, 0, 0, 1, 0, 0, 0])
    speech = np.full(8, 2.0, np.float32)
    free = constrained_clustering(x.astype(np.float32), chunk, local, speech, threshold=0.9)
    assert len(set(free.tolist())) == 2
    assert len(set(free[:4].tolist())) == 1 and len(set(free[4:].tolist())) == 1
    # without the shared chunk they merge; a forced count overrides the constraint
    apart = np.arange(8)
    assert len(set(constrained_clustering(x.astype(np.float32), apart, local, speech, threshold=0.9))) == 1
    forced = constrained_clustering(x.astype(np.float32), chunk, local, speech, threshold=0.9, num_clusters=1)
    assert set(forced.tolist()) == {0}


def test_a_short_speaker_is_kept_by_seconds_not_embeddings() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    x, truth = _blobs([12, 2])  # the second speaker: two embeddings only
    chunk, local = np.arange(14), np.zeros(14, np.int64)
    speech = np.full(14, 2.0, np.float32)
    kept = constrained_clustering(x, chunk, local, speech, threshold=0.5, min_speaker_seconds=3.0)
    assert _same_partition(kept, truth)
    speech[12:] = 0.9  # under 2 s in all: folded
    folded = constrained_clustering(x, chunk, local, speech, threshold=0.5, min_speaker_seconds=3.0)
    assert len(set(folded.tolist())) == 1


def test_constrained_clustering_bounds_and_subset() -> None:
    from verbatim.pipeline.clustering import constrained_clustering

    x, truth = _blobs([300, 200, 40], seed=3)
    n = len(x)
    chunk, local, speech = np.arange(n), np.zeros(n, np.int64), np.full(n, 2.0, np.float32)
    labels = constrained_clustering(x, chunk, local, speech, threshold=0.5, max_points=200)
    assert _same_partition(labels, truth)
    assert len(set(constrained_clustering(x, chunk, local, speech, threshold=0.5, max_clusters=2))) == 2
    assert len(set(constrained_clustering(x, chunk, local, speech, threshold=1.99, min_clusters=3))) == 3
    assert constrained_clustering(x[:0], chunk[:0], local[:0], speech[:0], threshold=0.5).shape == (0,)


def _conversation(num_speakers: int, *, phone: bool, seed: int) -> Audio:
    from tests.bench.test_simulate import committed_voices
    from verbatim.bench.simulate import SimulationOptions, simulate_conversation

    options = SimulationOptions(
        min_duration=30, max_duration=40, phone_probability=1.0 if phone else 0.0, far_probability=0.0
    )
    conversation = simulate_conversation(
        committed_voices(), np.random.default_rng(seed), options, num_speakers=num_speakers
    )
    return Audio(samples=conversation.samples, sha256="", filename=f"{num_speakers}.wav")


@pytest.mark.models
def test_three_speakers_without_hints(diarizer: SpeakerDiarizer) -> None:
    # the first speaker says four words ("and so it begins"): a speaker all the same
    assert diarizer(_load("picovoice_diarization_test.wav")).num_speakers == 3


@pytest.mark.models
def test_simulated_five_speakers_without_hints(diarizer: SpeakerDiarizer) -> None:
    # the threshold alone finds 4 here; the count vote (DiarizationOptions.count_method) finds 5
    assert diarizer(_conversation(5, phone=False, seed=11)).num_speakers == 5


@pytest.mark.models
@pytest.mark.xfail(
    reason="not reached yet (issue 11): the segmentation model never gives these two phone-band voices two "
    "local speakers, so the threshold count is 1 and is kept; 2 only at narrowband_threshold 0.35-0.38, "
    "which over-splits the development phone recordings",
    strict=False,
)
def test_phone_call_of_two_without_hints(diarizer: SpeakerDiarizer) -> None:
    assert diarizer(_conversation(2, phone=True, seed=5)).num_speakers == 2


def test_high_band_fraction_tells_a_phone_line_from_wideband_speech() -> None:
    from tests.bench.test_simulate import committed_voices
    from verbatim.bench.simulate import _phone_line
    from verbatim.pipeline.diarize import NARROWBAND_FRACTION, high_band_fraction

    wideband = 0
    for voice in committed_voices():
        for piece in voice.pieces:
            assert high_band_fraction(_phone_line(piece)) < NARROWBAND_FRACTION / 2, voice.speaker
            if "jfk" in voice.speaker:  # the 1961 broadcast is itself band-limited: narrowband, rightly
                assert high_band_fraction(piece) < NARROWBAND_FRACTION, voice.speaker
            else:
                assert high_band_fraction(piece) > 2 * NARROWBAND_FRACTION, voice.speaker
                wideband += 1
    assert wideband >= 2
    assert high_band_fraction(np.zeros(16000, np.float32)) == 0.0


@pytest.mark.models
def test_narrowband_recordings_use_their_own_threshold(diarizer: SpeakerDiarizer) -> None:
    phone = diarizer.analyse(_conversation(2, phone=True, seed=5))
    wide = diarizer.analyse(_conversation(3, phone=False, seed=5))
    assert phone.narrowband and not wide.narrowband
    # a narrowband threshold that merges everything decides on the phone call only
    merge_narrow = DiarizationOptions(clustering_threshold=0.05, narrowband_threshold=1.99)
    assert diarizer.finish(phone, merge_narrow)[0].num_speakers == 1
    assert diarizer.finish(wide, merge_narrow)[0].num_speakers > 1
    ignore = DiarizationOptions(clustering_threshold=0.05, narrowband_threshold=None)
    assert diarizer.finish(phone, ignore)[0].num_speakers > 1


def test_one_noisy_voice_split_in_two_clusters_is_merged_back() -> None:
    from verbatim.pipeline.clustering import merge_similar_clusters

    rng = np.random.default_rng(4)
    dim = 32
    voice, other = np.eye(dim)[0], np.eye(dim)[1]
    # one voice whose 2 s embeddings are noisy: pairs average a cosine similarity far under 0.75 ...
    noisy = voice + rng.normal(0, 0.35, (60, dim))
    x = np.concatenate([noisy, other + rng.normal(0, 0.05, (20, dim))]).astype(np.float32)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert float((unit[:60] @ unit[:60].T).mean()) < 0.5
    # ... split in two clusters (0 and 1) by a clustering that stopped early; speaker 2 is someone else
    labels = np.repeat([0, 1, 2], [30, 30, 20])
    speech = np.full(80, 2.0, np.float32)
    merged = merge_similar_clusters(labels, x, speech, similarity=0.75)
    assert _same_partition(merged, np.repeat([0, 1], [60, 20]))
    # never below the minimum count
    kept = merge_similar_clusters(labels, x, speech, similarity=0.75, min_clusters=3)
    assert _same_partition(kept, labels)
    assert merge_similar_clusters(labels[:0], x[:0], speech[:0], similarity=0.75).shape == (0,)


def test_distinct_speakers_are_not_merged_and_weights_are_seconds() -> None:
    from verbatim.pipeline.clustering import merge_similar_clusters

    x, truth = _blobs([10, 10, 10], spread=0.05)
    speech = np.full(30, 2.0, np.float32)
    assert _same_partition(merge_similar_clusters(truth, x, speech, similarity=0.75), truth)
    # cluster 1 holds a stray embedding of speaker 0: with it weighing 0.5 s against 20 s, the cluster's
    # centroid stays speaker 1's and nothing merges; weighing as much as the rest, it drags the centroid over
    labels = truth.copy()
    x = np.concatenate([x, x[:1]])
    labels = np.append(labels, 1)
    light = np.append(speech, 0.5).astype(np.float32)
    assert len(set(merge_similar_clusters(labels, x, light, similarity=0.6).tolist())) == 3
    heavy = np.append(speech, 200.0).astype(np.float32)
    assert len(set(merge_similar_clusters(labels, x, heavy, similarity=0.6).tolist())) == 2


def test_the_merge_applies_only_when_the_count_is_free() -> None:
    from verbatim.pipeline.diarize import _cluster_pieces, _Pieces

    rng = np.random.default_rng(5)
    dim = 32
    # one voice heard in two settings (centroids at cosine 0.83) and a second voice
    setting_a = np.eye(dim)[0] + 0.3 * np.eye(dim)[2]
    setting_b = np.eye(dim)[0] - 0.3 * np.eye(dim)[2]
    x = np.concatenate(
        [c + rng.normal(0, 0.03, (15, dim)) for c in (setting_a, setting_b, np.eye(dim)[1])]
    ).astype(np.float32)
    n = len(x)
    zeros = np.zeros(n, np.int64)
    pieces = _Pieces(x, np.arange(n), zeros, zeros, zeros, zeros, np.full(n, 2.0, np.float32))
    split = DiarizationOptions(merge_similarity=None, count_method="threshold", clustering_threshold=0.1)
    assert len(set(_cluster_pieces(pieces, split)[0].tolist())) == 3
    merged = replace(split, merge_similarity=0.75)
    assert len(set(_cluster_pieces(pieces, merged)[0].tolist())) == 2
    assert len(set(_cluster_pieces(pieces, replace(merged, min_speakers=3))[0].tolist())) == 3
    assert len(set(_cluster_pieces(pieces, replace(merged, num_speakers=3))[0].tolist())) == 3
    with pytest.raises(InvalidOptionError):
        DiarizationOptions(merge_similarity=1.5).validate()
