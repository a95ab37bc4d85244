"""The transcription pipeline as a library: pure stages on frozen dataclasses, and the export formats.

The names a library user needs, as faster-whisper's ``__init__`` lists its own::

    from verbatim.pipeline import PipelineOptions, TranscriptionPipeline, render
    from verbatim.jobs.stages import get_asr, get_diarizer  # loaded models, cached per process

    pipeline = TranscriptionPipeline(get_asr(settings), get_diarizer(settings), None)
    transcript = pipeline.run("hearing.wav", PipelineOptions())
    print(render(transcript, "txt").decode())

They are imported on first use (PEP 562), so that importing one stage does not import them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.diarize import DiarizationOptions
    from verbatim.pipeline.export import ExportOptions, render, transcript_from_json, transcript_to_dict
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.translate import TranslationOptions
    from verbatim.pipeline.types import Audio, Segment, Transcript, Word

__all__ = [
    "AsrOptions",
    "Audio",
    "DiarizationOptions",
    "ExportOptions",
    "PipelineOptions",
    "Segment",
    "Transcript",
    "TranscriptionPipeline",
    "TranslationOptions",
    "Word",
    "decode",
    "render",
    "transcript_from_json",
    "transcript_to_dict",
]

_HOMES = {
    "AsrOptions": "asr",
    "Audio": "types",
    "DiarizationOptions": "diarize",
    "ExportOptions": "export",
    "PipelineOptions": "runner",
    "Segment": "types",
    "Transcript": "types",
    "TranscriptionPipeline": "runner",
    "TranslationOptions": "translate",
    "Word": "types",
    "decode": "decode",
    "render": "export",
    "transcript_from_json": "export",
    "transcript_to_dict": "export",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
