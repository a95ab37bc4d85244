"""Building the pipeline stages a request needs, and keeping their models loaded once per process.

A CLI run over many files, an in-process worker or a Celery worker calls these getters for every job; the
first call loads the weights and later calls get the same object. Each model has its own lock (as speaches'
model manager does): a worker loading the diarisation models does not hold up a request for the already
loaded ASR model, and two threads asking for the same model load it once. Heavy libraries are imported only
here and in the stage modules, never at package import.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Generic, TypeVar

from verbatim.models.store import ModelStore
from verbatim.ops.settings import Settings

if TYPE_CHECKING:
    from verbatim.jobs.request import TranscriptionRequest
    from verbatim.models.translation import TranslationModelInfo
    from verbatim.pipeline.asr import WhisperASR
    from verbatim.pipeline.diarize import SpeakerDiarizer
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import CT2TextTranslator, Translator

__all__ = [
    "ModelCache",
    "build_pipeline",
    "clear_cache",
    "get_asr",
    "get_diarizer",
    "get_text_translator",
    "get_translator",
]

_M = TypeVar("_M")


class ModelCache(Generic[_M]):
    """Loaded models by key, each loaded once, under a lock of its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # guards the two dicts only, never held during a load
        self._models: dict[Hashable, _M] = {}
        self._locks: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, load: Callable[[], _M]) -> _M:
        """The model under ``key``, loaded by ``load`` on first use (other keys load meanwhile)."""
        with self._lock:
            if key in self._models:
                return self._models[key]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = load()
            with self._lock:
                self._models[key] = model
            return model

    def clear(self) -> None:
        """Forget every model (a load under way still finishes and is kept)."""
        with self._lock:
            self._models.clear()
            self._locks.clear()


_asr: ModelCache[WhisperASR] = ModelCache()
_diarizers: ModelCache[SpeakerDiarizer] = ModelCache()
_text_translators: ModelCache[CT2TextTranslator] = ModelCache()


def get_asr(settings: Settings, model: str | None = None) -> WhisperASR:
    """The loaded ASR model named by ``model`` (default: the settings'), loading it on first use.

    Raises:
        ModelNotFoundError / ModelIntegrityError: from the model store.
    """
    from verbatim.pipeline.asr import WhisperASR

    ref = ModelStore(settings.models_dir).resolve(model or settings.asr.model, kind="asr")
    key = (str(ref.path), settings.asr.device, settings.asr.compute_type, settings.asr.cpu_threads)
    return _asr.get(
        key,
        lambda: WhisperASR(
            ref.path,
            identity=ref.identity(),
            device=settings.asr.device,
            compute_type=settings.asr.compute_type,
            cpu_threads=settings.asr.cpu_threads,
        ),
    )


def get_diarizer(settings: Settings) -> SpeakerDiarizer:
    """The loaded diarisation models, loading them on first use."""
    from verbatim.pipeline.diarize import SpeakerDiarizer

    device = settings.diarization.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return _diarizers.get(device, lambda: SpeakerDiarizer(device=device))


def get_text_translator(settings: Settings, info: TranslationModelInfo) -> CT2TextTranslator:
    """The loaded text-translation model ``info`` describes, loading it on first use (on the ASR's device
    and compute type settings)."""
    from verbatim.pipeline.translate import CT2TextTranslator

    key = (
        str(info.path),
        info.sha256,
        settings.asr.device,
        settings.asr.compute_type,
        settings.asr.cpu_threads,
    )
    return _text_translators.get(
        key,
        lambda: CT2TextTranslator(
            info,
            device=settings.asr.device,
            compute_type=settings.asr.compute_type,
            cpu_threads=settings.asr.cpu_threads,
        ),
    )


def get_translator(settings: Settings, asr: WhisperASR | None) -> Translator:
    """Translation routes: the registered text models (loaded when a pair first needs one, their hash
    checked then) and Whisper's speech translation through ``asr``."""
    from verbatim.pipeline.translate import Translator

    store = ModelStore(settings.models_dir)

    def load(info: TranslationModelInfo) -> CT2TextTranslator:
        checked = store.translation_model(info.name) if info.source == "registered" else info
        return get_text_translator(settings, checked)

    return Translator(text_models=store.translation_models(), load=load, speech=asr)


def clear_cache() -> None:
    """Forget every loaded model (tests; a worker that must free memory)."""
    _asr.clear()
    _diarizers.clear()
    _text_translators.clear()


def build_pipeline(
    request: TranscriptionRequest, settings: Settings
) -> tuple[TranscriptionPipeline, PipelineOptions]:
    """Loaded models (once per process) and the options for this request.

    Raises:
        InvalidOptionError: options that cannot be honoured (checked before any model loads).
        ModelNotFoundError / ModelIntegrityError: from the model store.
    """
    from verbatim.pipeline.asr import AsrOptions, normalize_language
    from verbatim.pipeline.diarize import DiarizationOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import TranslationOptions

    diarization = DiarizationOptions(
        num_speakers=request.num_speakers,
        min_speakers=request.min_speakers or 1,
        max_speakers=request.max_speakers,
    )
    diarization.validate()
    language = normalize_language(request.language)
    translation = None if request.translate_to is None else TranslationOptions(target=request.translate_to)
    if translation is not None and translation.target != "en":
        # refused before the ASR model loads: only a text model reaches a target other than English
        get_translator(settings, None).check_target(translation.target)
    asr = get_asr(settings, request.model)
    batch = settings.asr.batch_size
    if batch is None:
        batch = 8 if asr.device == "cuda" else 0
    options = PipelineOptions(
        asr=AsrOptions(
            language=language,
            task=request.task,
            beam_size=request.beam_size or settings.asr.beam_size,
            batch_size=batch,
            initial_prompt=request.initial_prompt(),
            languages=tuple(request.languages),
        ),
        diarize=request.diarize and request.channels == "mix",
        diarization=diarization,
        channels=request.channels,
        translation=translation,
    )
    translator = None
    if options.translation is not None:
        translator = get_translator(settings, asr)
        translator.check_target(options.translation.target)
    diarizer = get_diarizer(settings) if options.diarize else None
    return TranscriptionPipeline(asr, diarizer, translator), options
