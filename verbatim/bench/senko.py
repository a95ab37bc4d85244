"""senko's own diarisation pipeline, run as it ships: the comparison of ``verbatim bench`` (``diar-senko``).

Benchmark-only code, kept out of the runtime stages (:mod:`verbatim.pipeline.diarize`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from verbatim.pipeline.types import SAMPLE_RATE, Audio, Diarization, SpeakerTurn

__all__ = ["run_senko_directly"]

_senko_diarizer: Any = None


def run_senko_directly(audio: Audio) -> Diarization:
    """Diarise with senko's own CPU pipeline (Silero VAD + CAM++ + spectral clustering), for benchmarks.

    senko reads a 16-bit 16 kHz mono WAV file (its in-memory fbank path crashes on 0.2.2), so the samples go
    to a private temporary file that is deleted at once. The senko ``Diarizer`` is created once per process;
    its first call also compiles senko's numba code (cached under NUMBA_CACHE_DIR when that is set).
    """
    import platformdirs
    import soundfile as sf

    global _senko_diarizer
    if _senko_diarizer is None:
        os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(platformdirs.user_cache_dir("verbatim")) / "numba"))
        from senko import Diarizer

        _senko_diarizer = Diarizer(device="cpu", warmup=False, quiet=True)
    samples = np.clip(np.asarray(audio.samples, dtype=np.float32), -1.0, 1.0)
    if len(samples) == 0:
        return Diarization(turns=(), num_speakers=0, model="senko")
    with tempfile.TemporaryDirectory(prefix="verbatim-senko-") as tmp:
        path = Path(tmp) / "audio.wav"
        sf.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16")
        result = _senko_diarizer.diarize(str(path))
    if not result:
        return Diarization(turns=(), num_speakers=0, model="senko")
    raw = sorted(
        ((float(s["start"]), float(s["end"]), s["speaker"]) for s in result["merged_segments"]),
        key=lambda t: (t[0], t[1]),
    )
    names: dict[Any, str] = {}  # S1, S2, ... by first appearance
    for _, _, speaker in raw:
        names.setdefault(speaker, f"S{len(names) + 1}")
    turns = tuple(
        SpeakerTurn(start=round(start, 3), end=round(end, 3), speaker=names[speaker])
        for start, end, speaker in raw
    )
    return Diarization(turns=turns, num_speakers=len(names), model="senko")
