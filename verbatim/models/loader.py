"""Loading models once per process and keeping them warm.

A CLI run over many files, an in-process worker or a Celery worker calls these getters for every job; the
first call loads the weights and later calls get the same object. Heavy libraries are imported only here
and in the stage modules, never at package import.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from verbatim.models.store import ModelStore
from verbatim.ops.settings import Settings

if TYPE_CHECKING:
    from verbatim.models.translation import TranslationModelInfo
    from verbatim.pipeline.asr import WhisperASR
    from verbatim.pipeline.diarize import SpeakerDiarizer
    from verbatim.pipeline.translate import CT2TextTranslator, Translator

__all__ = ["clear_cache", "get_asr", "get_diarizer", "get_text_translator", "get_translator"]

_lock = threading.Lock()
_asr: dict[tuple[str, str, str, int], WhisperASR] = {}
_diarizers: dict[str, SpeakerDiarizer] = {}
_text_translators: dict[tuple[str, str, str, str, int], CT2TextTranslator] = {}


def get_asr(settings: Settings, model: str | None = None) -> WhisperASR:
    """The loaded ASR model named by ``model`` (default: the settings'), loading it on first use.

    Raises:
        ModelNotFoundError / ModelIntegrityError: from the model store.
    """
    from verbatim.pipeline.asr import WhisperASR

    ref = ModelStore(settings.models_dir).resolve(model or settings.asr.model, kind="asr")
    key = (str(ref.path), settings.asr.device, settings.asr.compute_type, settings.asr.cpu_threads)
    with _lock:
        if key not in _asr:
            _asr[key] = WhisperASR(
                ref.path,
                identity=ref.identity(),
                device=settings.asr.device,
                compute_type=settings.asr.compute_type,
                cpu_threads=settings.asr.cpu_threads,
            )
        return _asr[key]


def get_diarizer(settings: Settings) -> SpeakerDiarizer:
    """The loaded diarisation models, loading them on first use."""
    from verbatim.pipeline.diarize import SpeakerDiarizer

    device = settings.diarization.device
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    with _lock:
        if device not in _diarizers:
            _diarizers[device] = SpeakerDiarizer(device=device)
        return _diarizers[device]


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
    with _lock:
        if key not in _text_translators:
            _text_translators[key] = CT2TextTranslator(
                info,
                device=settings.asr.device,
                compute_type=settings.asr.compute_type,
                cpu_threads=settings.asr.cpu_threads,
            )
        return _text_translators[key]


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
    with _lock:
        _asr.clear()
        _diarizers.clear()
        _text_translators.clear()
