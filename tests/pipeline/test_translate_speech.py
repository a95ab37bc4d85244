"""Whisper speech translation into English with the packaged model, segment by segment."""

from __future__ import annotations

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.models


def test_french_speech_is_translated_into_english(asr) -> None:  # type: ignore[no-untyped-def]
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import TranslationOptions, Translator

    pipeline = TranscriptionPipeline(asr, translator=Translator(speech=asr))
    options = PipelineOptions(diarize=False, translation=TranslationOptions(target="en"))
    # "Sous le consulat il devient conservateur des eaux et forêts et conseiller général."
    transcript = pipeline.run(DATA / "picovoice_test_fr.wav", options)

    [segment] = transcript.segments
    assert segment.language == "fr" and "consulat" in segment.text.lower()  # the original stays French
    assert segment.translation is not None
    assert segment.translation.model == "whisper-base:translate" and segment.translation.language == "en"
    english = segment.translation.text.lower()
    # the words Whisper base gives whatever the excerpt's margins (it hesitates on the rest)
    assert "under" in english and "conservator" in english and "becomes" in english
    assert "sous" not in english and "devient" not in english
    assert transcript.models["translation:whisper-base:translate"]["task"] == "translate"
