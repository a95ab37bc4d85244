from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from tests.conftest import DATA
from verbatim.errors import InvalidOptionError
from verbatim.pipeline.asr import (
    AsrOptions,
    drop_repetitions,
    is_credit_hallucination,
    normalize_language,
)
from verbatim.pipeline.decode import decode
from verbatim.pipeline.types import Audio, Word


def _words(text: str) -> tuple[Word, ...]:
    return tuple(Word(float(i), float(i) + 0.5, t, 0.9) for i, t in enumerate(text.split()))


# -- unit: our own logic --------------------------------------------------------------------------------
def test_repetition_loop_is_dropped_but_natural_repetition_kept() -> None:
    looped = _words("je suis allé à la gare " + "et puis " * 12 + "voilà")
    cleaned = drop_repetitions(looped)
    assert " ".join(w.text for w in cleaned) == "je suis allé à la gare et puis voilà"
    natural = _words("non non non je ne sais pas")
    assert drop_repetitions(natural) is natural


def test_single_word_loop_with_punctuation_variants() -> None:
    looped = _words("merci. " + "merci " * 9)
    assert [w.text for w in drop_repetitions(looped)] == ["merci."]


@pytest.mark.parametrize(
    "text",
    [
        "Sous-titrage Société Radio-Canada",
        "Merci d'avoir regardé cette vidéo !",
        "Thank you for watching.",
        "...",
    ],
)
def test_credit_hallucinations_detected(text: str) -> None:
    assert is_credit_hallucination(text)


@pytest.mark.parametrize("text", ["Merci, madame la juge.", "Il m'a dit de regarder la vidéo."])
def test_real_speech_is_not_a_credit(text: str) -> None:
    assert not is_credit_hallucination(text)


def test_language_validation() -> None:
    assert normalize_language("auto") is None
    assert normalize_language(" FR ") == "fr"
    with pytest.raises(InvalidOptionError, match="Unknown language 'xx'"):
        normalize_language("xx")
    with pytest.raises(InvalidOptionError, match="task"):
        AsrOptions(task="summarize").validated()  # type: ignore[arg-type]


# -- integration: the real packaged model ------------------------------------------------------------------


@pytest.mark.models
def test_english_clip_words_and_language(asr) -> None:  # type: ignore[no-untyped-def]
    transcript = asr.transcribe(decode(DATA / "jfk.flac"))
    assert transcript.language == "en"
    text = transcript.text.lower()
    for phrase in ("my fellow americans", "ask not what your country can do for you"):
        assert phrase in re.sub(r"[^\w ]", "", text)
    words = transcript.words
    assert all(0.0 <= w.start <= w.end <= transcript.duration + 0.01 for w in words)
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    assert all(0.0 <= w.probability <= 1.0 for w in words)
    assert transcript.models["asr"]["sha256"]


@pytest.mark.models
def test_french_clip_is_transcribed_faithfully(asr) -> None:  # type: ignore[no-untyped-def]
    import jiwer

    transcript = asr.transcribe(decode(DATA / "picovoice_test_fr.wav"))
    assert transcript.language == "fr"
    reference = "sous le consulat il devient conservateur des eaux et forêts et conseiller général"
    hypothesis = " ".join(re.sub(r"[^\w' ]", " ", transcript.text.lower()).split())
    assert jiwer.wer(reference, hypothesis) <= 0.2, hypothesis
    assert "consulat" in hypothesis and "forêts" in hypothesis


@pytest.mark.models
def test_very_quiet_recording_is_still_heard(asr) -> None:  # type: ignore[no-untyped-def]
    audio = decode(DATA / "picovoice_test_fr.wav")
    quiet = audio.samples * (0.004 / np.percentile(np.abs(audio.samples), 99.9))
    transcript = asr.transcribe(
        Audio(quiet.astype(np.float32), audio.sha256, "quiet.wav"), AsrOptions(language="fr")
    )
    assert "consulat" in transcript.text.lower()


@pytest.mark.models
@pytest.mark.parametrize("kind", ["silence", "low-noise", "hum"])
def test_sixty_seconds_without_speech_give_no_words(asr, kind: str) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(7)
    n = 60 * 16000
    samples = {
        "silence": np.zeros(n, np.float32),
        "low-noise": (rng.standard_normal(n) * 0.003).astype(np.float32),
        "hum": (0.02 * np.sin(2 * np.pi * 50 * np.arange(n) / 16000)).astype(np.float32),
    }[kind]
    transcript = asr.transcribe(Audio(samples, "0" * 64, f"{kind}.wav"))
    assert transcript.words == ()
    assert transcript.segments == ()


@pytest.mark.models
def test_forced_language_and_translate_task(asr) -> None:  # type: ignore[no-untyped-def]
    audio = decode(DATA / "picovoice_test_fr.wav")
    translated = asr.transcribe(audio, AsrOptions(language="fr", task="translate"))
    assert translated.language == "fr" and translated.language_probability == 1.0
    text = translated.text.lower()
    assert "consul" in text and "conservator" in text  # English words, not French
