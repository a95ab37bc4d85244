"""Known voices in the pipeline: the matching rules (synthetic vectors), the JSON form, and the real CAM++
weights on a conversation built from committed clips (enrolled from other utterances than those heard)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import DATA
from verbatim.pipeline.export import transcript_from_json, transcript_to_dict
from verbatim.pipeline.export.json_format import transcript_from_dict
from verbatim.pipeline.runner import name_known_voices, usable_voices
from verbatim.pipeline.types import Audio, Segment, Transcript, VoiceMatch
from verbatim.pipeline.voices import (
    EnrolmentError,
    KnownVoice,
    VoiceNaming,
    display_name,
    match_voices,
    voice_print,
)


def _unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def _voice(vid: str, *values: float, sha: str = "") -> KnownVoice:
    return KnownVoice(vid, f"name-{vid}", _unit(*values), model_sha256=sha)


def test_a_speaker_is_named_only_above_the_threshold() -> None:
    naming = VoiceNaming((_voice("a", 1, 0, 0), _voice("b", 0, 1, 0)), threshold=0.6, margin=0.05)
    centroids = {"S1": _unit(1, 0.2, 0), "S2": _unit(0.5, 0.5, 1)}  # S2: cos 0.41 with both
    matches = match_voices(centroids, naming)
    assert set(matches) == {"S1"} and matches["S1"].voice_id == "a"
    assert matches["S1"].similarity == pytest.approx(float(_unit(1, 0.2, 0) @ _unit(1, 0, 0)), abs=1e-4)


def test_an_ambiguous_speaker_is_not_named() -> None:
    # two enrolled voices almost alike: the best does not beat the second by the margin
    naming = VoiceNaming((_voice("a", 1, 0.05, 0), _voice("b", 1, -0.05, 0)), threshold=0.6, margin=0.05)
    assert match_voices({"S1": _unit(1, 0, 0)}, naming) == {}
    assert set(match_voices({"S1": _unit(1, 0, 0)}, VoiceNaming(naming.voices, threshold=0.6, margin=0))) == {
        "S1"
    }


def test_one_voice_names_at_most_one_speaker_the_closest() -> None:
    naming = VoiceNaming((_voice("a", 1, 0, 0),), threshold=0.6, margin=0.05)
    matches = match_voices({"S1": _unit(1, 0.4, 0), "S2": _unit(1, 0.1, 0)}, naming)
    assert list(matches) == ["S2"]


def test_prints_of_other_embedding_weights_are_never_compared() -> None:
    naming = VoiceNaming((_voice("a", 1, 0, 0, sha="x"), _voice("b", 0, 1, 0, sha="y")))
    usable = usable_voices(naming, "y")
    assert usable is not None and [v.id for v in usable.voices] == ["b"]
    assert usable_voices(naming, "z") is None


def test_names_and_similarities_are_in_the_json_and_read_back() -> None:
    transcript = Transcript(
        language="fr",
        duration=4.0,
        segments=(Segment(0, 0.0, 2.0, "Bonjour.", speaker="S1"), Segment(1, 2.0, 4.0, "Oui.", speaker="S2")),
        speakers={"S1": "S1", "S2": "S2"},
    )
    naming = VoiceNaming((KnownVoice("v-1", display_name("Dupont", "Enquêteur"), _unit(1, 0, 0)),))
    named = name_known_voices(transcript, {"S1": _unit(0, 1, 0), "S2": _unit(1, 0.1, 0)}, naming)
    assert named.speakers == {"S1": "S1", "S2": "Enquêteur Dupont"}
    doc = transcript_to_dict(named)
    assert doc["speakers"][0] == {"id": "S1", "name": "S1"}
    assert doc["speakers"][1]["voice"]["id"] == "v-1" and doc["speakers"][1]["voice"]["similarity"] > 0.9
    again = transcript_from_dict(doc)
    assert again.voices == {"S2": VoiceMatch("v-1", doc["speakers"][1]["voice"]["similarity"])}
    # a document written before known voices existed reads as it did
    assert (
        transcript_from_json(
            b'{"schema": "verbatim.transcript/1", "audio": {"duration": 1}, '
            b'"language": "fr", "segments": [], "speakers": [{"id": "S1", "name": "x"}]}'
        ).voices
        == {}
    )


# --- real weights ------------------------------------------------------------------------------------------

SR = 16000


@pytest.fixture(scope="module")
def clips() -> dict[str, np.ndarray]:
    from verbatim.pipeline.decode import decode, decode_channels

    jfk = decode(DATA / "jfk.flac").samples
    return {
        "jfk_first": jfk[: 5 * SR],  # heard in the conversation
        "jfk_last": jfk[5 * SR :],  # enrolled: other sentences of the same speaker
        "en": decode(DATA / "picovoice_test_en.wav").samples,
        "fr": decode(DATA / "picovoice_test_fr.wav").samples,
        "stereo1": decode_channels(DATA / "stereo_diarization.wav")[1].samples,
    }


@pytest.fixture(scope="module")
def diarizer():  # type: ignore[no-untyped-def]
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings

    return get_diarizer(get_settings())


def conversation(clips: dict[str, np.ndarray]) -> np.ndarray:
    """Three voices in turn: JFK (first sentences), a LibriSpeech reader, the second stereo voice."""
    pause = np.zeros(SR // 2, np.float32)
    parts = [clips["jfk_first"], pause, clips["en"], pause, clips["stereo1"], pause, clips["jfk_first"] * 0.8]
    return np.concatenate(parts).astype(np.float32)


def test_an_enrolled_voice_is_named_and_an_absent_one_is_not(clips, diarizer) -> None:  # type: ignore[no-untyped-def]
    jfk = voice_print(diarizer.embedding, [Audio(clips["jfk_last"], "", "")], min_speech=3.0)
    absent = voice_print(diarizer.embedding, [Audio(clips["fr"], "", "")], min_speech=3.0)
    assert jfk.speech_seconds >= 3.0 and abs(float(np.linalg.norm(jfk.embedding)) - 1.0) < 1e-4
    naming = VoiceNaming(
        (
            KnownVoice("jfk", "Enquêteur Dupont", jfk.embedding),
            KnownVoice("fr", "Greffière Martin", absent.embedding),
        )
    )
    diarization, centroids = diarizer.diarize_with_centroids(Audio(conversation(clips), "", ""))
    matches = match_voices(centroids, naming)
    first = diarization.turns[0].speaker  # JFK speaks first
    assert matches.get(first) is not None and matches[first].voice_id == "jfk"
    assert matches[first].similarity >= naming.threshold
    assert "fr" not in {m.voice_id for m in matches.values()}  # absent: nobody is named after her
    assert len(matches) == 1


def test_too_little_speech_or_none_is_refused(clips, diarizer) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EnrolmentError, match="too little speech"):
        voice_print(diarizer.embedding, [Audio(clips["fr"], "", "")])
    with pytest.raises(EnrolmentError, match="no speech"):
        voice_print(diarizer.embedding, [Audio(np.zeros(5 * SR, np.float32), "", "silence.wav")])


def test_narrowband_recordings_use_the_phone_band_prints_and_their_threshold() -> None:
    wide, narrow = _unit(1, 0, 0), _unit(0, 1, 0)
    voice = KnownVoice("a", "A", wide, narrowband=narrow)
    centroid = {"S1": _unit(0.1, 1, 0)}  # like the phone-band print only
    assert match_voices(centroid, VoiceNaming((voice,), narrowband=False)) == {}
    assert set(match_voices(centroid, VoiceNaming((voice,), narrowband=True))) == {"S1"}
    close = {"S1": _unit(0.6, 1, 0)}  # cos 0.86 with the phone-band print
    assert match_voices(close, VoiceNaming((voice,), narrowband=True, narrowband_threshold=0.9)) == {}
