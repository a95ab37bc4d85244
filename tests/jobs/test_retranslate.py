"""A corrected segment translated again on demand by a registered text model reads the CORRECTED text;
Whisper's speech translation hears the segment again, decoding only its window of the stored recording.

The text model is the suite's tiny random one (gibberish output, deterministic): what is asserted is the
plumbing — the re-translation equals the same model given the corrected text directly, and another
correction gives another translation — never the quality of a translation. Likewise the speech route's
output is compared with the same route given the whole decoded recording, never with expected words.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import DATA
from tests.pipeline.tiny_translation import build_tiny_model
from verbatim.errors import AudioDecodeError, TranslationUnavailableError
from verbatim.jobs.retranslate import retranslate_segment, segment_window
from verbatim.jobs.stages import clear_cache, get_translator
from verbatim.models.store import ModelStore
from verbatim.ops.db import Job
from verbatim.ops.keys import init_keyring
from verbatim.ops.settings import Settings, get_settings
from verbatim.ops.storage import LocalObjectStore
from verbatim.ops.storage.encrypted import MAGIC, EncryptedObjectStore
from verbatim.pipeline.decode import decode, file_sha256
from verbatim.pipeline.export.json_format import transcript_from_dict, transcript_to_dict
from verbatim.pipeline.translate import speech_translate, translate_protected
from verbatim.pipeline.types import Segment, SegmentTranslation, Transcript

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


FRENCH = DATA / "picovoice_test_fr.wav"  # 6.7 s of French speech
# the module (``verbatim.pipeline.decode`` is also the name of its function in the package)
decode_module = importlib.import_module("verbatim.pipeline.decode")


def test_speech_translation_decodes_only_the_segments_window_and_hears_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asr: Any
) -> None:
    # stored as the embedded deployment stores it: encrypted at rest
    store = EncryptedObjectStore(LocalObjectStore(tmp_path / "objects"), init_keyring(tmp_path / "ring.json"))
    key = "jobs/j/original"
    stored = store.put_bytes(key, FRENCH.read_bytes())
    assert (tmp_path / "objects" / key).read_bytes().startswith(MAGIC)
    sha = file_sha256(FRENCH)
    assert stored.sha256 == sha
    job = Job(id="00000000-0000-4000-8000-000000000001", unit="u", object_key=key, audio_sha256=sha)
    # a segment in the middle of the clip: its window starts at 1.0 s and ends at 5.5 s
    segment = Segment(
        id=0, start=2.0, end=4.5, text="Le consulat ouvre lundi matin.", speaker="S1", language="fr",
        translation=SegmentTranslation("en", "before", "whisper:translate", outdated=True),
    )  # fmt: skip
    doc = transcript_to_dict(Transcript(language="fr", duration=6.672, segments=(segment,), audio_sha256=sha))
    settings = get_settings()  # the suite's models directory: Whisper, no text model for fr -> en

    calls: list[tuple[tuple[int, int] | None, int]] = []
    real = decode_module.decode_isolated

    def spy(path: Path, *, mono: bool, limits: Any, window: tuple[int, int] | None = None) -> Any:
        decoded = real(path, mono=mono, limits=limits, window=window)
        calls.append((window, decoded.samples.shape[1]))
        return decoded

    def whole(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole recording was decoded")

    with monkeypatch.context() as patched:
        patched.setattr(decode_module, "decode_isolated", spy)
        patched.setattr(decode_module, "decode", whole)
        made = retranslate_segment(settings, store, job, doc, 0)
    first, last = segment_window(2.0, 4.5)
    assert (first, last) == (16_000, 88_000)
    assert calls == [((first, last), last - first)]  # one decode, of the window only
    # the previous behaviour: the whole recording decoded, the same segment translated from it
    audio = decode(FRENCH)
    assert audio.samples.size > 100_000 > last - first
    seg = transcript_from_dict(dict(doc)).segments[0]
    before = speech_translate(asr, audio, [seg.with_(language="fr")], beam_size=5)
    assert made.model.endswith(":translate")
    assert made.text == before[0] and made.text.strip()

    # a stored recording that is not the one uploaded is refused, and one gone is said to be gone
    altered = Job(id=job.id, unit="u", object_key=key, audio_sha256="0" * 64)
    with pytest.raises(AudioDecodeError, match="SHA-256"):
        retranslate_segment(settings, store, altered, doc, 0)
    gone = Job(id=job.id, unit="u", object_key="jobs/j/missing", audio_sha256=sha)
    with pytest.raises(TranslationUnavailableError, match="missing from storage"):
        retranslate_segment(settings, store, gone, doc, 0)


def test_a_window_holds_the_samples_of_the_whole_decode() -> None:
    whole = decode(FRENCH).samples
    for first, last in [(0, 8_000), (16_000, 88_000), (90_000, 10**9)]:
        part = decode_module.decode_window(FRENCH, first, last).samples
        assert np.array_equal(part, whole[first:last]), (first, last)
