"""`verbatim bench diarization`: who spoke, on every multi-speaker recording of the shared data and on
simulated conversations, with and without the number of speakers, in one process.

Each recording is analysed once (segmentation and embeddings, timed per stage); the analysis is then
finished twice: with the defaults (the count is estimated) and given the true count. The clustering
threshold is also chosen again leaving each recording out (the threshold that gets the most counts right on
the others of its band, narrowband or wideband, ties broken by their DER), to show how much the default owes
to tuning on the recordings it is measured on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from verbatim.bench.common import BenchError, format_table
from verbatim.bench.core import der_summary, reference_speech

if TYPE_CHECKING:
    from verbatim.pipeline.diarize import DiarizationAnalysis, DiarizationOptions, SpeakerDiarizer

__all__ = ["DevRecording", "real_recordings", "run_diarization", "simulated_recordings"]

Log = Callable[[str], None]
THRESHOLDS = (0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
"""Clustering thresholds tried by the leave-one-out selection."""
MERGE_SIMILARITIES = (0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
"""Centroid similarities of the merge of alike clusters (``DiarizationOptions.merge_similarity``) tried by
its leave-one-out selection, with no merge."""


@dataclass(frozen=True)
class DevRecording:
    """A recording with its reference: turns (scored by DER) or only the number of speakers."""

    id: str
    set: str
    samples: npt.NDArray[np.float32]
    num_speakers: int
    turns: tuple[tuple[float, float, str], ...] | None = None
    uem: tuple[float, float] | None = None
    tags: tuple[str, ...] = ()


def real_recordings(data: Path) -> list[DevRecording]:
    """Every real multi-speaker recording of the shared data: the AMI excerpts and TCOF (RTTM), the
    Picovoice 3-speaker clip and the two-voice stereo clip of faster-whisper, mixed to mono (count only)."""
    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.der import read_uem

    out: list[DevRecording] = []
    ami = data / "pyannote-ami-debug"
    for subset in ("development", "test"):
        uem = ami / f"debug.{subset}.uem"
        out += _rttm_recordings(ami / f"debug.{subset}.rttm", "ami", read_uem(uem) if uem.is_file() else {})
    tcof = data / "tcof-fr-spontaneous"
    for rttm in sorted(tcof.glob("*.rttm")):  # CC BY-NC-SA: measured here, never copied
        out += _rttm_recordings(rttm, "tcof", {})
    pico = data / "picovoice-leopard-multilang" / "diarization_test.wav"
    if pico.is_file():
        out.append(DevRecording("count/picovoice-3spk", "count", decode(pico).samples, 3))
    stereo = data / "faster-whisper-testdata" / "stereo_diarization.wav"
    if stereo.is_file():
        out.append(DevRecording("count/stereo-mix-2spk", "count", decode(stereo).samples, 2))
    if not out:
        raise BenchError(f"{data}: no multi-speaker recording found")
    return out


def _rttm_recordings(
    rttm: Path, set_name: str, regions: dict[str, tuple[float, float]]
) -> list[DevRecording]:
    """The recordings an RTTM file describes (``<file id>.wav`` beside it), scored inside ``regions``."""
    from verbatim.pipeline.decode import decode
    from verbatim.pipeline.der import read_rttm

    if not rttm.is_file():
        return []
    out = []
    for file_id, turns in sorted(read_rttm(rttm).items()):
        triples = tuple((t.start, t.end, t.speaker) for t in turns)
        out.append(
            DevRecording(
                id=f"{set_name}/{file_id}",
                set=set_name,
                samples=decode(rttm.parent / f"{file_id}.wav").samples,
                num_speakers=len({t[2] for t in triples}),
                turns=triples,
                uem=regions.get(file_id),
            )
        )
    return out


def simulated_recordings(
    data: Path,
    diarizer: SpeakerDiarizer,
    count: int,
    seed: int,
    log: Log,
    speakers: tuple[int, int] = (1, 7),
) -> list[DevRecording]:
    """``count`` simulated conversations (:mod:`verbatim.bench.simulate`) from the shared data's voices, of
    ``speakers`` (fewest, most) speakers each."""
    from verbatim.bench.simulate import (
        SimulationOptions,
        load_voices,
        merge_same_speakers,
        simulated_conversations,
    )
    from verbatim.models.diarization import embed_fbank, kaldi_fbank
    from verbatim.pipeline.diarize import torch_threads

    def embed(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        feats = kaldi_fbank(samples)
        vectors = embed_fbank(diarizer.embedding, [feats[: len(feats) - len(feats) % 20]])
        return np.asarray(vectors[0], dtype=np.float32)

    with torch_threads(1):
        voices = merge_same_speakers(load_voices(data), embed)
    log(f"{len(voices)} voices for the simulated conversations")
    return [
        DevRecording(
            id=c.id,
            set="simulated",
            samples=c.samples,
            num_speakers=len(c.speakers),
            turns=c.turns,
            tags=c.tags,
        )
        for c in simulated_conversations(
            voices,
            count,
            seed=seed,
            options=SimulationOptions(min_speakers=speakers[0], max_speakers=speakers[1]),
        )
    ]


@dataclass
class _Scored:
    recording: DevRecording
    analysis: DiarizationAnalysis
    finish_s: float = 0.0
    merge_chosen: str = ""  # the merge variant its leave-one-out selection chose
    results: dict[str, tuple[int, float | None]] | None = None  # variant -> (speakers, DER)


def _score(
    diarizer: SpeakerDiarizer, item: _Scored, options: DiarizationOptions
) -> tuple[int, float | None, float]:
    from verbatim.pipeline.der import diarization_error_rate
    from verbatim.pipeline.types import SpeakerTurn

    started = time.perf_counter()
    diarization, _ = diarizer.finish(item.analysis, options)
    seconds = time.perf_counter() - started
    rec = item.recording
    if rec.turns is None:
        return diarization.num_speakers, None, seconds
    reference = [SpeakerTurn(s, e, spk) for s, e, spk in rec.turns]
    der = diarization_error_rate(reference, diarization, uem=rec.uem, collar=0.0)
    return diarization.num_speakers, der, seconds


def _speech(rec: DevRecording) -> float:
    return reference_speech(rec.turns, rec.uem) if rec.turns else 0.0


def _pooled(items: Sequence[_Scored], variant: str) -> tuple[float, int, int]:
    """(pooled DER, exact counts, recordings) of one variant."""
    ders: list[tuple[float, float]] = []
    exact = 0
    for item in items:
        assert item.results is not None
        speakers, der = item.results[variant]
        exact += speakers == item.recording.num_speakers
        if der is not None:
            ders.append((der, _speech(item.recording)))
    return (der_summary(ders) if ders else math.nan), exact, len(items)


def run_diarization(
    data: Path, *, simulated: int, seed: int, log: Log, speakers: tuple[int, int] = (1, 7)
) -> tuple[list[str], dict[str, Any]]:
    """Run the diarisation benchmark (simulated conversations of ``speakers`` (fewest, most) speakers);
    returns the printed tables and the figures.

    Raises:
        BenchError: missing data.
    """
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.diarize import DiarizationOptions
    from verbatim.pipeline.types import Audio

    diarizer = get_diarizer(get_settings())
    recordings = real_recordings(data)
    if simulated:
        recordings += simulated_recordings(data, diarizer, simulated, seed, log, speakers)
    defaults = DiarizationOptions()
    items: list[_Scored] = []
    for rec in recordings:
        audio = Audio(samples=rec.samples, sha256="", filename=rec.id)
        items.append(_Scored(rec, diarizer.analyse(audio, defaults)))
        log(f"{rec.id}: {len(rec.samples) / 16000:.1f} s analysed")
    variants: dict[str, Callable[[DevRecording], DiarizationOptions]] = {
        "defaults": lambda rec: defaults,
        "true count": lambda rec: replace(defaults, num_speakers=rec.num_speakers),
        "no merge": lambda rec: replace(defaults, merge_similarity=None),
    }
    for t in THRESHOLDS:
        variants[f"t={t}"] = _with_threshold(defaults, t)
    for m in MERGE_SIMILARITIES:
        variants[f"m={m}"] = _with_merge(defaults, m)
    for item in items:
        item.results = {}
        for name, make in variants.items():
            found, der, seconds = _score(diarizer, item, make(item.recording))
            item.results[name] = (found, der)
            if name == "defaults":
                item.finish_s = seconds
    _leave_one_out(items)

    tables: list[str] = []
    sets = list(dict.fromkeys(i.recording.set for i in items))
    groups = {s: [i for i in items if i.recording.set == s] for s in sets}
    groups["real (all)"] = [i for i in items if i.recording.set != "simulated"]
    if simulated:
        groups["all"] = items
    rows = []
    figures: dict[str, Any] = {"sets": {}, "recordings": []}
    for name, members in groups.items():
        der_d, exact_d, n = _pooled(members, "defaults")
        der_t, _, _ = _pooled(members, "true count")
        der_l, exact_l, _ = _pooled(members, "leave-one-out")
        der_m, exact_m, _ = _pooled(members, "no merge")
        der_ml, exact_ml, _ = _pooled(members, "merge leave-one-out")
        audio_s = sum(len(i.recording.samples) for i in members) / 16000
        seg = sum(i.analysis.stage_seconds.get("segmentation", 0.0) for i in members)
        emb = sum(i.analysis.stage_seconds.get("embeddings", 0.0) for i in members)
        clu = sum(i.finish_s for i in members)
        rows.append(
            [
                name,
                n,
                f"{audio_s:.0f}",
                der_d,
                der_t,
                der_l,
                f"{exact_d}/{n}",
                f"{exact_l}/{n}",
                der_m,
                f"{exact_m}/{n}",
                der_ml,
                f"{exact_ml}/{n}",
                seg / audio_s,
                emb / audio_s,
                clu / audio_s,
            ]
        )
        figures["sets"][name] = {
            "recordings": n,
            "audio_s": audio_s,
            "der_defaults": der_d,
            "der_true_count": der_t,
            "der_leave_one_out": der_l,
            "count_exact_defaults": exact_d,
            "count_exact_leave_one_out": exact_l,
            "der_without_merge": der_m,
            "count_exact_without_merge": exact_m,
            "der_merge_leave_one_out": der_ml,
            "count_exact_merge_leave_one_out": exact_ml,
            "seconds": {"segmentation": seg, "embeddings": emb, "clustering": clu},
        }
    tables.append(
        format_table(
            "Diarisation without hints (defaults), given the true count, with the threshold chosen "
            "leaving the recording out, without the merge of alike clusters and with its similarity chosen "
            "leaving the recording out; DER collar 0, overlap scored, pooled over reference speech; stage "
            "cost as wall seconds per audio second",
            [
                "set",
                "recs",
                "audio s",
                "DER",
                "DER true n",
                "DER LOO",
                "count ok",
                "count ok LOO",
                "DER no merge",
                "count ok no merge",
                "DER merge LOO",
                "count ok merge LOO",
                "seg RTF",
                "emb RTF",
                "clust RTF",
            ],
            rows,
        )
    )
    per = []
    for i in items:
        assert i.results is not None
        d, true_n, loo = i.results["defaults"], i.results["true count"], i.results["leave-one-out"]
        per.append(
            [
                i.recording.id,
                ",".join(i.recording.tags + (("narrowband",) if i.analysis.narrowband else ())) or "-",
                i.recording.num_speakers,
                d[0],
                loo[0],
                d[1],
                true_n[1],
            ]
        )
        figures["recordings"].append(
            {
                "id": i.recording.id,
                "set": i.recording.set,
                "tags": list(i.recording.tags),
                "high_band_fraction": i.analysis.high_band,
                "speakers": i.recording.num_speakers,
                "results": {k: {"speakers": v[0], "der": v[1]} for k, v in i.results.items()},
                "merge_chosen_leaving_it_out": i.merge_chosen,
                "stage_seconds": {**i.analysis.stage_seconds, "clustering": i.finish_s},
                "audio_s": len(i.recording.samples) / 16000,
            }
        )
    tables.append(
        format_table(
            "Per recording: true speakers, found (defaults / leave-one-out threshold), DER",
            ["recording", "tags", "true", "found", "found LOO", "DER", "DER true n"],
            per,
        )
    )
    figures["defaults"] = {
        "clustering_threshold": defaults.clustering_threshold,
        "narrowband_threshold": defaults.narrowband_threshold,
        "min_speaker_seconds": defaults.min_speaker_seconds,
        "step": defaults.step,
        "count_method": defaults.count_method,
        "merge_similarity": defaults.merge_similarity,
    }
    figures["simulated"] = {"count": simulated, "seed": seed}
    return tables, figures


def _with_threshold(
    defaults: DiarizationOptions, threshold: float
) -> Callable[[DevRecording], DiarizationOptions]:
    def make(_recording: DevRecording) -> DiarizationOptions:
        return replace(defaults, clustering_threshold=threshold, narrowband_threshold=threshold)

    return make


def _with_merge(
    defaults: DiarizationOptions, similarity: float
) -> Callable[[DevRecording], DiarizationOptions]:
    def make(_recording: DevRecording) -> DiarizationOptions:
        return replace(defaults, merge_similarity=similarity)

    return make


def _leave_one_out(items: Sequence[_Scored]) -> None:
    """Add a ``leave-one-out`` result to each item: the result of the threshold that, on all the other
    recordings of its band (narrowband or wideband: the diarizer has one threshold for each), gets the most
    counts right (then the lowest pooled DER); and a ``merge leave-one-out`` result: the result of the merge
    similarity (or no merge) with the lowest pooled DER on all the other recordings (then the most counts
    right), as it was chosen (its choice in ``merge_chosen``)."""
    for held in items:
        others = [i for i in items if i is not held]
        same_band = [i for i in others if i.analysis.narrowband == held.analysis.narrowband]
        chosen = _best(same_band or others, [f"t={t}" for t in THRESHOLDS], counts_first=True)
        merge = _best(others, ["no merge", *(f"m={m}" for m in MERGE_SIMILARITIES)], counts_first=False)
        assert held.results is not None
        held.results["leave-one-out"] = held.results[chosen]
        held.results["merge leave-one-out"] = held.results[merge]
        held.merge_chosen = merge


def _best(items: Sequence[_Scored], variants: Sequence[str], *, counts_first: bool) -> str:
    """The variant with the most exact counts, then the lowest pooled DER, on ``items`` (or the DER first)."""

    def key(variant: str) -> tuple[float, float]:
        der, exact, _ = _pooled(items, variant)
        der = der if not math.isnan(der) else math.inf
        return (-exact, der) if counts_first else (der, -exact)

    return min(variants, key=key)
