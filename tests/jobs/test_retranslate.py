"""A corrected segment translated again on demand by a registered text model reads the CORRECTED text.

The text model is the suite's tiny random one (gibberish output, deterministic): what is asserted is the
plumbing — the re-translation equals the same model given the corrected text directly, and another
correction gives another translation — never the quality of a translation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.pipeline.tiny_translation import build_tiny_model
from verbatim.jobs.retranslate import retranslate_segment
from verbatim.jobs.stages import clear_cache, get_translator
from verbatim.models.store import ModelStore
from verbatim.ops.db import Job
from verbatim.ops.settings import Settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.pipeline.translate import translate_protected

pytestmark = pytest.mark.models

NAME = "opus-mt-fr-en-tiny"


def _doc(text: str) -> dict[str, Any]:
    return {
        "language": "fr",
        "speakers": [{"id": "S1", "name": "S1"}],
        "models": {},
        "segments": [
            {
                "id": 0, "start": 0.0, "end": 2.0, "text": text, "language": "fr", "speaker": "S1",
                "words": [],
                "translation": {"language": "en", "text": "before", "model": NAME, "outdated": True},
            }
        ],
    }  # fmt: skip


def test_a_text_model_translates_the_corrected_text_again(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    ModelStore(models_dir).add(build_tiny_model(tmp_path / NAME, "marian"), kind="translation")
    settings = Settings(home=tmp_path / "home", models_dir=models_dir)
    store = LocalObjectStore(tmp_path / "objects")
    # the text route reads no audio: a job without a stored recording is enough
    job = Job(id="00000000-0000-4000-8000-000000000000", unit="u", object_key=None)
    clear_cache()
    try:
        first = retranslate_segment(settings, store, job, _doc("Le consulat ouvre lundi matin."), 0)
        corrected = "Le tribunal de Lyon ferme mardi soir."
        second = retranslate_segment(settings, store, job, _doc(corrected), 0)
        translator = get_translator(settings, None)
        model = translator.text_model(translator.route("fr", "en"))
        direct = translate_protected(model, [corrected], source="fr", target="en", beam_size=5)
    finally:
        clear_cache()
    assert first.model == second.model == NAME
    assert second.text == direct[0] and second.text.strip()
    assert first.text != second.text
    # a segment already in the target language gets its corrected text as it is
    same = _doc("The consulate opens on Monday.")
    same["segments"][0]["language"] = "en"
    assert retranslate_segment(settings, store, job, same, 0).text == "The consulate opens on Monday."
