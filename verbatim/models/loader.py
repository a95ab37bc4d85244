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
    from verbatim.pipeline.asr import WhisperASR
    from verbatim.pipeline.diarize import SpeakerDiarizer

__all__ = ["clear_cache", "get_asr", "get_diarizer"]

_lock = threading.Lock()
_asr: dict[tuple[str, str, str, int], WhisperASR] = {}
_diarizers: dict[str, SpeakerDiarizer] = {}


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


def clear_cache() -> None:
    """Forget every loaded model (tests; a worker that must free memory)."""
    with _lock:
        _asr.clear()
        _diarizers.clear()
