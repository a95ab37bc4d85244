"""One benchmarked system in its own process: ``python -m verbatim.bench.worker SYSTEM MANIFEST OUT``.

Running each system alone makes its peak resident memory its own. The worker loads the system (timed apart),
warms it up on the first clip (timed apart: first-call costs such as ONNX sessions or numba compilation are
one-time), then times each clip and writes ``OUT`` as JSON. It never sees the references.

Systems:
    ours        TranscriptionPipeline, the CLI's defaults (language auto, diarisation on), on decoded audio.
    plain       faster-whisper's ``WhisperModel(model_dir).transcribe(samples)`` with its own defaults.
    diar-ours   SpeakerDiarizer with default options.
    diar-senko  senko's own pipeline (``run_senko_directly``).
    long        TranscriptionPipeline.run(path): the full pipeline, decoding the file included.
    pair        ``ours`` and ``plain`` in one process, interleaved clip by clip on the same decoded audio (who
                goes first alternates), so the machine's load weighs on both alike; one peak RSS for the two.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from verbatim.bench.common import pair_order, peak_rss_mb, stage_seconds

if TYPE_CHECKING:
    from verbatim.pipeline.types import Audio

__all__ = ["SYSTEMS", "generated_audio", "main", "phone_band"]

SYSTEMS = ("ours", "plain", "diar-ours", "diar-senko", "long", "pair")
_ASR_SYSTEMS = ("ours", "plain", "long", "pair")

NOISE_RMS = 0.001
"""Standard deviation of the generated low noise (about -60 dBFS)."""

RunClip = Callable[[dict[str, Any]], dict[str, Any]]
RunAudio = Callable[["Audio"], dict[str, Any]]


def _log(message: str) -> None:
    sys.stderr.write(f"[bench worker] {message}\n")
    sys.stderr.flush()


def generated_audio(kind: str, seconds: float, seed: int = 0) -> Audio:
    """Audio made in memory: ``silence`` (all zeros) or ``noise`` (white Gaussian noise, about -60 dBFS)."""
    from verbatim.pipeline.types import SAMPLE_RATE, Audio

    n = round(seconds * SAMPLE_RATE)
    if kind == "silence":
        samples = np.zeros(n, dtype=np.float32)
    elif kind == "noise":
        samples = (np.random.default_rng(seed).standard_normal(n) * NOISE_RMS).astype(np.float32)
    else:
        raise ValueError(f"unknown generated audio '{kind}': use silence or noise")
    return Audio(samples=samples, sha256="", filename=f"{kind}-{seconds:g}s")


def phone_band(samples: np.ndarray) -> np.ndarray:
    """16 kHz audio as a phone line (or a cheap recorder) passes it: down to 8 kHz, band-limited to
    300-3400 Hz, back up to 16 kHz.

    Args:
        samples: 16 kHz mono float32; shape (num_samples,).

    Returns:
        The same length of 16 kHz float32 samples.
    """
    from scipy.signal import butter, resample_poly, sosfiltfilt

    narrow = resample_poly(samples.astype(np.float64), 1, 2)  # 8 kHz (anti-aliased)
    sos = butter(4, (300.0, 3400.0), btype="bandpass", fs=8000, output="sos")
    band = sosfiltfilt(sos, narrow)
    wide = resample_poly(band, 2, 1)[: samples.size]
    out = np.zeros(samples.size, dtype=np.float32)
    out[: wide.size] = np.clip(wide, -1.0, 1.0)
    return out


def _audio(clip: dict[str, Any]) -> Audio:
    if clip.get("generated"):
        return generated_audio(str(clip["generated"]), float(clip["duration"]))
    from dataclasses import replace

    from verbatim.pipeline.decode import decode

    audio = decode(clip["path"])
    if clip.get("transform") == "phone":
        audio = replace(audio, samples=phone_band(audio.samples))
    elif clip.get("transform"):
        raise ValueError(f"unknown transform '{clip['transform']}': use phone")
    return audio


def _pipeline_and_options() -> tuple[Any, Any]:
    """The pipeline and options `verbatim transcribe` uses by default (language auto, diarisation on)."""
    from verbatim.jobs.stages import get_asr, get_diarizer
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.asr import AsrOptions
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline

    settings = get_settings()
    asr = get_asr(settings)
    batch = settings.asr.batch_size
    if batch is None:  # the CLI's rule (verbatim/cli.py `_build`)
        batch = 8 if asr.device == "cuda" else 0
    options = PipelineOptions(asr=AsrOptions(beam_size=settings.asr.beam_size, batch_size=batch))
    return TranscriptionPipeline(asr, get_diarizer(settings)), options


class _StageClock:
    """A progress hook that notes when each stage (decode, transcribe, diarize) first and last reports."""

    def __init__(self) -> None:
        self.spans: dict[str, list[float]] = {}
        self.changes: list[tuple[str, float]] = []  # (step, time) each time the reporting step changes

    def __call__(self, step: str, *, completed: float, total: float) -> None:
        now = time.perf_counter()
        self.spans.setdefault(step, [now, now])[1] = now
        if not self.changes or self.changes[-1][0] != step:
            self.changes.append((step, now))

    def durations(self) -> dict[str, float]:
        """Seconds from each stage's first report to its last."""
        return {step: end - start for step, (start, end) in self.spans.items()}


def _transcript_result(transcript: Any) -> dict[str, Any]:
    return {
        "text": transcript.text,
        "words": len(transcript.words),
        "language": transcript.language,
        "language_probability": round(float(transcript.language_probability), 4),
        "speakers": len({s.speaker for s in transcript.segments if s.speaker}),
    }


def _ours_on_audio() -> tuple[RunAudio, dict[str, Any]]:
    pipeline, options = _pipeline_and_options()

    def run(audio: Audio) -> dict[str, Any]:
        stages = _StageClock()
        started = time.perf_counter()
        cpu_started = time.process_time()
        transcript = pipeline.run_audio(audio, options, stages)
        ended = time.perf_counter()
        return {
            "process_s": ended - started,
            "cpu_s": time.process_time() - cpu_started,
            "audio_s": audio.duration,
            "stage_s": stages.durations(),
            "stage_own_s": stage_seconds(stages.changes, started, ended),
            **_transcript_result(transcript),
        }

    info = {
        "asr": pipeline.asr.identity(),
        "beam_size": options.asr.beam_size,
        "batch_size": options.asr.batch_size,
        "vad": options.asr.vad,
        "diarize": options.diarize,
    }
    return run, info


def _load_ours() -> tuple[RunClip, dict[str, Any]]:
    run, info = _ours_on_audio()
    return (lambda clip: run(_audio(clip))), info


def _load_long() -> tuple[RunClip, dict[str, Any]]:
    pipeline, options = _pipeline_and_options()

    def run(clip: dict[str, Any]) -> dict[str, Any]:
        stages = _StageClock()
        started = time.perf_counter()
        cpu_started = time.process_time()
        transcript = pipeline.run(clip["path"], options, stages)
        ended = time.perf_counter()
        return {
            "process_s": ended - started,
            "cpu_s": time.process_time() - cpu_started,
            "stage_s": stages.durations(),
            "stage_own_s": stage_seconds(stages.changes, started, ended),
            "audio_s": transcript.duration,
            **_transcript_result(transcript),
        }

    return run, {"asr": pipeline.asr.identity(), "decode_included": True}


def _plain_on_audio() -> tuple[RunAudio, dict[str, Any]]:
    from faster_whisper import WhisperModel

    from verbatim.models.store import ModelStore
    from verbatim.ops.settings import get_settings

    settings = get_settings()
    model_dir = ModelStore(settings.models_dir).resolve(settings.asr.model, kind="asr").path
    model = WhisperModel(str(model_dir))  # faster-whisper's defaults: device auto, compute type "default"

    def run(audio: Audio) -> dict[str, Any]:
        started = time.perf_counter()
        cpu_started = time.process_time()
        segments, info = model.transcribe(audio.samples)  # beam 5, no VAD, its own defaults
        texts = [
            s.text.strip() for s in segments
        ]  # the generator does the work: consume it inside the timing
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        text = " ".join(t for t in texts if t)
        return {
            "process_s": elapsed,
            "cpu_s": cpu,
            "audio_s": audio.duration,
            "text": text,
            "words": len(text.split()),
            "language": info.language,
            "language_probability": round(float(info.language_probability), 4),
        }

    return run, {"model_dir": str(model_dir), "device": "auto", "compute_type": "default"}


def _load_plain() -> tuple[RunClip, dict[str, Any]]:
    run, info = _plain_on_audio()
    return (lambda clip: run(_audio(clip))), info


def _load_pair() -> tuple[RunClip, dict[str, Any]]:
    ours, ours_info = _ours_on_audio()
    plain, plain_info = _plain_on_audio()
    systems: dict[str, RunAudio] = {"ours": ours, "plain": plain}
    calls = 0

    def run(clip: dict[str, Any]) -> dict[str, Any]:
        nonlocal calls
        audio = _audio(clip)
        order = pair_order(calls)
        calls += 1
        results = {name: systems[name](audio) for name in order}
        return {
            "audio_s": audio.duration,
            "process_s": sum(float(r["process_s"]) for r in results.values()),
            "first": order[0],
            **results,
        }

    return run, {"ours": ours_info, "plain": plain_info}


def _diarization_result(diarization: Any) -> dict[str, Any]:
    return {
        "turns": [[t.start, t.end, t.speaker] for t in diarization.turns],
        "num_speakers": diarization.num_speakers,
    }


def _load_diar_ours() -> tuple[RunClip, dict[str, Any]]:
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.diarize import DiarizationOptions

    diarizer = get_diarizer(get_settings())
    options = DiarizationOptions()

    def run(clip: dict[str, Any]) -> dict[str, Any]:
        audio = _audio(clip)
        started = time.perf_counter()
        cpu_started = time.process_time()
        diarization = diarizer(audio, options)
        return {
            "process_s": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu_started,
            "audio_s": audio.duration,
            **_diarization_result(diarization),
        }

    return run, {"device": diarizer.device, "models": diarizer.identity()}


def _load_diar_senko() -> tuple[RunClip, dict[str, Any]]:
    from verbatim.bench.senko import run_senko_directly

    # senko's Diarizer is created on the first call, inside the warm-up (timed apart from the clips).
    def run(clip: dict[str, Any]) -> dict[str, Any]:
        audio = _audio(clip)
        started = time.perf_counter()
        cpu_started = time.process_time()
        diarization = run_senko_directly(audio)
        return {
            "process_s": time.perf_counter() - started,
            "cpu_s": time.process_time() - cpu_started,
            "audio_s": audio.duration,
            **_diarization_result(diarization),
        }

    return run, {"device": "cpu", "package": "senko"}


_LOADERS: dict[str, Callable[[], tuple[RunClip, dict[str, Any]]]] = {
    "ours": _load_ours,
    "plain": _load_plain,
    "diar-ours": _load_diar_ours,
    "diar-senko": _load_diar_senko,
    "long": _load_long,
    "pair": _load_pair,
}


def run_system(system: str, clips: list[dict[str, Any]], *, warmup: bool = True) -> dict[str, Any]:
    """Load ``system``, warm it up, run every clip it handles.

    The warm-up runs a clip marked ``warmup_only`` (never timed or reported) when there is one, else the first
    clip (which is then run again, timed).

    Returns:
        ``{system, info, load_s, warmup_s, clips: [{id, process_s, audio_s, ...}], peak_rss_mb}``.
    """
    kind = "asr" if system in _ASR_SYSTEMS else "diarization"
    mine = [c for c in clips if c["kind"] == kind and not c.get("warmup_only")]
    warm = [c for c in clips if c["kind"] == kind and c.get("warmup_only")] or mine[:1]
    started = time.perf_counter()
    run, info = _LOADERS[system]()
    load_s = time.perf_counter() - started
    _log(f"{system}: loaded in {load_s:.1f} s; {len(mine)} clip(s)")
    warmup_s = None
    if warmup and warm:
        started = time.perf_counter()
        run(warm[0])
        warmup_s = time.perf_counter() - started
        _log(f"{system}: warm-up on {warm[0]['id']} took {warmup_s:.1f} s")
    results = []
    for clip in mine:
        result = {"id": clip["id"], **run(clip)}
        _log(f"{system}: {clip['id']}: {result['audio_s']:.1f} s of audio in {result['process_s']:.2f} s")
        results.append(result)
    return {
        "system": system,
        "info": info,
        "load_s": load_s,
        "warmup_s": warmup_s,
        "clips": results,
        "peak_rss_mb": peak_rss_mb(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verbatim.bench.worker", description=__doc__.split("\n")[0]
    )
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("manifest", type=Path, help="JSON list written by the benchmark (Clip.to_worker()).")
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-warmup", action="store_true")
    args = parser.parse_args(argv)
    # No hub access and no telemetry at run time, whatever the libraries default to.
    for name, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HUB_DISABLE_TELEMETRY", "1"),
        ("PYANNOTE_METRICS_ENABLED", "0"),
        ("TRANSFORMERS_OFFLINE", "1"),
    ):
        os.environ.setdefault(name, value)
    clips = json.loads(args.manifest.read_text(encoding="utf-8"))
    warmup = not args.no_warmup
    result = run_system(args.system, clips, warmup=warmup)
    args.out.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
