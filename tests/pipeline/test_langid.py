"""Per-segment language identification: smoothing (pure logic), and the real Whisper model on committed clips
(a mixed English + French recording: each part gets its language and is transcribed in it)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tests.conftest import DATA
from verbatim.pipeline.langid import LanguageGuess, LanguageIdOptions, smooth_languages


def _g(language: str, probability: float, **others: float) -> LanguageGuess:
    return LanguageGuess(language, probability, ((language, probability), *others.items()))


def test_short_or_unsure_segments_take_their_neighbours_language() -> None:
    guesses = [_g("fr", 0.95), _g("en", 0.9), _g("fr", 0.3, en=0.25), _g("fr", 0.9)]
    durations = [4.0, 0.6, 3.0, 5.0]  # the English one is too short to trust, the third too unsure
    assert smooth_languages(guesses, durations, fallback="fr") == ["fr", "fr", "fr", "fr"]


def test_an_isolated_unsure_flip_joins_its_neighbours_but_a_long_confident_one_stays() -> None:
    unsure = [_g("fr", 0.9), _g("es", 0.6, fr=0.3), _g("fr", 0.9)]
    assert smooth_languages(unsure, [3.0, 3.0, 3.0], fallback="fr") == ["fr", "fr", "fr"]
    confident = [_g("fr", 0.9), _g("ar", 0.97), _g("fr", 0.9)]
    assert smooth_languages(confident, [3.0, 4.0, 3.0], fallback="fr") == ["fr", "ar", "fr"]


def test_a_switch_of_language_is_kept_and_an_unsure_segment_at_the_border_follows_its_own_scores() -> None:
    guesses = [_g("en", 0.99), _g("en", 0.98), _g("de", 0.45, en=0.40), _g("de", 0.99), _g("de", 0.97)]
    out = smooth_languages(guesses, [5.0, 5.0, 2.0, 5.0, 5.0], fallback="en")
    assert out == ["en", "en", "de", "de", "de"]
    leaning = [_g("en", 0.99), _g("de", 0.45, en=0.46), _g("de", 0.99)]
    assert smooth_languages(leaning, [5.0, 2.0, 5.0], fallback="en")[1] == "en"


def test_nothing_trusted_gives_the_fallback() -> None:
    out = smooth_languages(
        [_g("ja", 0.2), _g("ko", 0.3)], [0.5, 3.0], fallback="fr", options=LanguageIdOptions()
    )
    assert out == ["fr", "fr"]


def _clip(name: str) -> np.ndarray:
    from verbatim.pipeline.decode import decode

    return decode(DATA / name).samples


@pytest.fixture(scope="module")
def mixed_recording(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """English then French (two committed Apache-2.0 clips), one second of silence between them."""
    from tests.conftest import write_audio

    english, french = _clip("picovoice_test_en.wav"), _clip("picovoice_test_fr.wav")
    silence = np.zeros(16000, dtype=np.float32)
    samples = np.concatenate([english, silence, french]).astype(np.float32)
    path = write_audio(tmp_path_factory.mktemp("mixed") / "en-fr.wav", samples)
    return path, english.size / 16000 + 0.5


@pytest.mark.models
def test_each_part_of_a_mixed_recording_gets_its_language_and_is_transcribed_in_it(
    asr, mixed_recording
) -> None:  # type: ignore[no-untyped-def]
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline

    path, border = mixed_recording
    pipeline = TranscriptionPipeline(asr)
    transcript = pipeline.run(path, PipelineOptions(asr=AsrOptions(language=None), diarize=False))
    english = [s for s in transcript.segments if s.end <= border]
    french = [s for s in transcript.segments if s.start >= border]
    assert english and french
    assert all(s.language == "en" for s in english)
    assert all(s.language == "fr" for s in french)
    assert all(s.language_probability is not None and 0.0 <= s.language_probability <= 1.0 for s in french)
    french_text = " ".join(s.text for s in french).lower()
    assert "consulat" in french_text and "conseiller" in french_text  # French words, not an English rendering
    assert "quilter" in " ".join(s.text for s in english).lower()
    assert [s.id for s in transcript.segments] == list(range(len(transcript.segments)))


@pytest.mark.models
def test_a_forced_language_skips_identification(asr) -> None:  # type: ignore[no-untyped-def]
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline

    transcript = TranscriptionPipeline(asr).run(
        DATA / "picovoice_test_fr.wav", PipelineOptions(asr=AsrOptions(language="fr"), diarize=False)
    )
    assert transcript.segments and all(s.language == "fr" for s in transcript.segments)
    assert all(s.language_probability is None for s in transcript.segments)


def test_only_languages_with_real_support_are_candidates() -> None:
    from verbatim.pipeline.langid import supported_languages

    guesses = [_g("fr", 0.95), _g("fr", 0.6), _g("la", 0.73, fr=0.05), _g("en", 0.9), _g("cy", 0.99)]
    durations = [8.0, 4.0, 8.8, 4.0, 1.0]
    # fr: the first pass's; en: 4 s at 0.9; la: unsure however long; cy: confident but one second
    assert supported_languages(guesses, durations, main="fr") == {"fr", "en"}


def test_a_guess_among_candidates_is_renormalised() -> None:
    guess = _g("la", 0.73, fr=0.06, ru=0.04)
    among = guess.among(frozenset({"fr", "en"}))
    assert among.language == "fr" and among.probability == 1.0
    assert _g("ja", 0.9, ko=0.1).among(frozenset({"fr"})).probability == 0.0  # no candidate among the best


def test_no_stretch_of_audio_is_kept_twice() -> None:
    from verbatim.pipeline.langid import without_overlaps
    from verbatim.pipeline.types import Segment, Word, join_words

    def seg(sid: int, start: float, texts: str, step: float = 0.5) -> Segment:
        words = tuple(
            Word(start + i * step, start + (i + 1) * step, t, 0.9) for i, t in enumerate(texts.split())
        )
        return Segment(sid, words[0].start, words[-1].end, join_words(words), words)

    first = seg(0, 30.0, "mûr tu as ainsi dix-sept personnes justement du tigre on ressemble pas")  # 30-36
    again = seg(1, 33.0, "justement du tigre on ressemble pas au jugement du lien")  # repeats 33-36
    touching = seg(2, 38.2, "mais plutôt une phrase")
    out = without_overlaps([again, touching, first])
    assert [s.id for s in out] == [0, 1, 2]
    assert all(a.end <= b.start for a, b in itertools.pairwise(out))
    assert out[1].text == "au jugement du lien" and out[1].start >= first.end
    assert out[2] == touching  # nothing to change
    # a few hundred milliseconds of overlap is imprecise timing between neighbours: no word is dropped
    close = seg(3, first.end - 0.3, "au jugement")
    kept = without_overlaps([first, close])
    assert kept[1].text == "au jugement" and kept[1].start == first.end
