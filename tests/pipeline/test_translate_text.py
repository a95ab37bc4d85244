"""Text translation through CTranslate2, end to end, with a tiny model the suite builds itself.

The model (see ``tiny_translation.py``) has random weights: these tests prove the plumbing (registration,
family and languages read from the directory, SentencePiece tokenisation, language tokens, batched
translation, detokenisation, alignment to segments, routing, protected names), not translation quality.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.tiny_translation import build_tiny_model
from verbatim.errors import ModelIntegrityError, ModelNotFoundError, TranslationUnavailableError
from verbatim.models.store import ModelStore
from verbatim.models.translation import TranslationModelInfo, inspect_translation_dir
from verbatim.pipeline.translate import (
    ORIGINAL,
    CT2TextTranslator,
    TranslationOptions,
    Translator,
    protect,
    restore,
    translate_protected,
)
from verbatim.pipeline.types import Segment, Transcript


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny-translation")
    return {
        "nllb": build_tiny_model(root / "nllb-tiny", "nllb"),
        "m2m100": build_tiny_model(root / "m2m100-tiny", "m2m100", seed=1),
        "marian": build_tiny_model(root / "opus-mt-fr-en-tiny", "marian", seed=2),
    }


def _hearing() -> Transcript:
    return Transcript(
        language="fr",
        duration=20.0,
        segments=(
            Segment(0, 0.0, 3.0, "Bonjour madame, asseyez-vous.", speaker="S1", language="fr"),
            Segment(1, 3.5, 6.0, "Thank you, I am here with my lawyer.", speaker="S2", language="en"),
            Segment(
                2, 6.5, 9.0, "Vous connaissez [PERSONNE_1] depuis longtemps ?", speaker="S1", language="fr"
            ),
            Segment(3, 9.5, 12.0, "Monsieur Dupont était présent ce soir-là.", speaker="S1", language="fr"),
            Segment(4, 12.5, 13.0, "  ", speaker="S2", language="en"),
            Segment(5, 13.5, 15.0, "Maître Leblanc, vous avez la parole.", speaker="S1", language="fr"),
        ),
        models={"asr": {"name": "whisper-base"}},
        speakers={"S1": "S1", "S2": "Maître Leblanc"},
    )


@pytest.mark.parametrize(
    ("family", "sources", "targets"),
    [("nllb", {"de", "en", "fr"}, {"de", "en", "fr"}), ("m2m100", {"de", "en", "fr"}, {"de", "en", "fr"}),
     ("marian", {"fr"}, {"en"})],
)  # fmt: skip
def test_family_and_languages_are_read_from_the_directory(
    tiny_models: dict[str, Path], family: str, sources: set[str], targets: set[str]
) -> None:
    info = inspect_translation_dir(tiny_models[family])
    assert info.family == family
    assert set(info.sources) == sources and set(info.targets) == targets
    assert info.source_spm.is_file() and info.target_spm.is_file()


def test_marian_without_languages_in_its_name_needs_them(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    renamed = tmp_path / "my-marian"
    renamed.symlink_to(tiny_models["marian"], target_is_directory=True)
    with pytest.raises(ModelNotFoundError, match="--languages"):
        inspect_translation_dir(renamed)
    info = inspect_translation_dir(renamed, languages="de-en")
    assert info.covers("de", "en") and not info.covers("fr", "en")


def test_models_add_registers_a_translation_model_and_checks_its_hash(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    store = ModelStore(tmp_path / "models")
    ref = store.add(tiny_models["nllb"], kind="translation", name="nllb-test")
    assert ref.kind == "translation" and len(ref.sha256) == 64
    [info] = store.translation_models()
    assert info.name == "nllb-test" and info.family == "nllb" and info.covers("fr", "en")
    assert store.translation_model("nllb-test").sha256 == ref.sha256
    with pytest.raises(ModelNotFoundError, match="not asr"):
        store.resolve("nllb-test", kind="asr")


def test_a_changed_translation_model_is_refused(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "nllb-copy"
    shutil.copytree(tiny_models["nllb"], copy)
    store = ModelStore(tmp_path / "models")
    store.add(copy, kind="translation")
    with (copy / "model.bin").open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ModelIntegrityError):
        store.translation_model("nllb-copy")


@pytest.mark.parametrize("family", ["nllb", "m2m100", "marian"])
def test_tokenisation_follows_the_family(tiny_models: dict[str, Path], family: str) -> None:
    model = CT2TextTranslator(inspect_translation_dir(tiny_models[family]), device="cpu")
    tokens, prefix = model.tokenize("Bonjour le monde.", source="fr", target="en")
    assert tokens[-1] == "</s>"
    expected = {"nllb": ("fra_Latn", ["eng_Latn"]), "m2m100": ("__fr__", ["__en__"]), "marian": (None, None)}
    first, expected_prefix = expected[family]
    if first is not None:
        assert tokens[0] == first
    assert prefix == expected_prefix
    assert "".join(tokens[1 if first else 0 : -1]).replace("▁", " ").strip() == "Bonjour le monde."


@pytest.mark.parametrize("family", ["nllb", "m2m100", "marian"])
def test_transcript_translated_segment_by_segment(tiny_models: dict[str, Path], family: str) -> None:
    info = inspect_translation_dir(tiny_models[family])
    translator = Translator(
        text_models=[info], load=lambda i: CT2TextTranslator(i, device="cpu", batch_size=2)
    )
    transcript = _hearing()
    options = TranslationOptions(target="en", protected_terms=("Dupont",), beam_size=2)
    out = translator.translate(transcript, None, options)

    # aligned: same segments, speakers and times; the input is untouched
    assert [(s.id, s.start, s.end, s.speaker, s.text) for s in out.segments] == [
        (s.id, s.start, s.end, s.speaker, s.text) for s in transcript.segments
    ]
    assert all(s.translation is None for s in transcript.segments)
    french = [out.segments[i] for i in (0, 2, 3)]
    for seg in french:
        assert seg.translation is not None
        assert seg.translation.language == "en" and seg.translation.model == info.name
        assert seg.translation.text.strip() and seg.translation.text != seg.text
    # already in the target language: not translated, its text copied
    english = out.segments[1].translation
    assert english is not None and english.model == ORIGINAL and english.text == out.segments[1].text
    assert out.segments[4].translation is None  # nothing to translate
    # names marked as such survive whatever the (random) model does
    assert "[PERSONNE_1]" in french[1].translation.text  # type: ignore[union-attr]
    assert "Dupont" in french[2].translation.text  # type: ignore[union-attr]
    assert "Maître Leblanc" in out.segments[5].translation.text  # type: ignore[union-attr]  # a speaker's name
    assert out.models[f"translation:{info.name}"]["family"] == family
    # deterministic: the same input gives the same translation
    again = translator.translate(transcript, None, options)
    assert [s.translation for s in again.segments] == [s.translation for s in out.segments]


def test_batched_translation_equals_one_by_one(tiny_models: dict[str, Path]) -> None:
    info = inspect_translation_dir(tiny_models["nllb"])
    texts = ["Bonjour madame.", "", "Le tribunal se réunira demain matin.", "Merci."]
    translator = CT2TextTranslator(info, device="cpu", batch_size=4)
    batched = translator.translate(texts, source="fr", target="en")
    single = CT2TextTranslator(info, device="cpu", batch_size=1).translate(texts, source="fr", target="en")
    assert batched[1] == "" and all(batched[i] for i in (0, 2, 3))
    assert single[1] == "" and all(single[i] for i in (0, 2, 3))
    # Each output follows its own input through the batch. (Not "batched == single": a batch pads its texts
    # and changes the shapes of the matrix products, and this random model's near-ties then flip
    # differently on AVX2 and AVX-512 kernels.)
    assert translator.translate(texts[::-1], source="fr", target="en") == batched[::-1]


def test_routes_text_model_then_speech_then_error(tiny_models: dict[str, Path]) -> None:
    marian = inspect_translation_dir(tiny_models["marian"])  # fr -> en only
    speechless = Translator(text_models=[marian])
    assert speechless.route("fr", "en") == marian
    with pytest.raises(TranslationUnavailableError, match="de→en"):
        speechless.route("de", "en")
    with pytest.raises(TranslationUnavailableError, match="'fr'"):
        speechless.check_target("fr")
    speechless.check_target("en")

    class _FakeAsr:  # only its identity is read when routing
        def identity(self) -> dict[str, str]:
            return {"name": "whisper-base"}

    with_speech = Translator(text_models=[marian], speech=_FakeAsr())  # type: ignore[arg-type]
    assert with_speech.route("fr", "en") == marian  # a text model first
    assert with_speech.route("de", "en") is None  # then Whisper's speech translation into English
    assert with_speech.speech_id() == "whisper-base:translate"
    with pytest.raises(TranslationUnavailableError, match="de→fr"):
        with_speech.route("de", "fr")  # Whisper translates into English only


class _Mangler:
    """A text model that loses the placeholders (as a real one may): our own logic must still keep names."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @property
    def info(self) -> TranslationModelInfo:
        raise NotImplementedError

    def translate(self, texts, *, source, target, beam_size=4):  # type: ignore[no-untyped-def]
        self.calls.append(list(texts))
        return [t.replace("[", "(").replace("]", ")").upper() for t in texts]


def test_protected_terms_survive_a_model_that_drops_placeholders() -> None:
    masked, found = protect("Madame Dupont a vu [PERSONNE_1] à Lyon.", ["Dupont", "Madame Dupont"])
    assert masked == "[0] a vu [1] à Lyon." and found == ["Madame Dupont", "[PERSONNE_1]"]
    assert restore("[1] saw [0] in Lyon.", found) == "[PERSONNE_1] saw Madame Dupont in Lyon."
    assert restore("saw [0] in Lyon.", found) is None  # one lost: the caller falls back

    model = _Mangler()
    [out] = translate_protected(
        model, ["Madame Dupont a vu [PERSONNE_1] à Lyon."], source="fr", target="en", terms=["Madame Dupont"]
    )
    assert out == "Madame Dupont A VU [PERSONNE_1] À LYON."
    assert model.calls[-1] == ["a vu", "à Lyon."]  # translated in pieces around the protected terms


class _FakeWhisper:
    """Stands in for faster-whisper's model in a test of our grouping logic: a group decoded with timestamps
    yields one phrase per second of audio, a lone segment one phrase for the whole excerpt."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, bool, str | None]] = []

    def transcribe(self, samples, *, language, task, without_timestamps, **_):  # type: ignore[no-untyped-def]
        from types import SimpleNamespace

        assert task == "translate"
        seconds = samples.size / 16000
        self.calls.append((round(seconds, 1), without_timestamps, language))
        if without_timestamps:
            return iter([SimpleNamespace(start=0.0, end=seconds, text=f" alone {len(self.calls)}")]), None
        phrases = [
            SimpleNamespace(start=float(k), end=float(k + 1), text=f"p{k}") for k in range(int(seconds))
        ]
        return iter(phrases), None


def test_speech_translation_groups_a_speakers_consecutive_segments_and_gives_phrases_back() -> None:
    import numpy as np

    from verbatim.pipeline.translate import speech_translate
    from verbatim.pipeline.types import Audio

    fake = _FakeWhisper()
    asr = type("Asr", (), {"model": fake})()
    audio = Audio(np.full(16000 * 12, 0.3, dtype=np.float32), "sha", "x.wav")
    segments = [
        Segment(0, 0.0, 2.0, "un", speaker="S1", language="fr"),
        Segment(1, 2.3, 4.0, "deux", speaker="S1", language="fr"),  # same speaker, 0.3 s later: grouped
        Segment(2, 4.5, 6.0, "trois", speaker="S2", language="fr"),  # another speaker: alone
        Segment(3, 8.0, 10.0, "quatre", speaker="S2", language="fr"),  # 2 s later: alone
    ]
    texts = speech_translate(asr, audio, segments, pad_seconds=0.0)  # type: ignore[arg-type]
    assert fake.calls[0] == (4.0, False, "fr")  # segments 0 and 1 in one window, with timestamps
    assert texts[0] == "p0 p1" and texts[1] == "p2 p3"  # each phrase to the segment it overlaps most
    assert texts[2].startswith("alone") and texts[3].startswith("alone")
    assert [c[1] for c in fake.calls[1:]] == [True, True]
