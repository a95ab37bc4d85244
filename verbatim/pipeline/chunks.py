"""Long recordings in parts: transcribe each part on its own, then merge them into one transcript.

A part (a *chunk*) is cut at a pause (:func:`verbatim.pipeline.asr.block_bounds`) and transcribed and
diarised alone, possibly on another machine; its :class:`ChunkResult` keeps the raw transcript (times already
on the recording's clock), its speaker turns with speaker ids local to the chunk, and one centroid embedding
per local speaker. :func:`merge_chunks` clusters the centroids of all chunks together, so that one voice gets
one id over the whole recording, and assigns speakers to words exactly as a single pass does.

Everything in a :class:`ChunkResult` is plain data: :meth:`ChunkResult.to_dict` and
:meth:`ChunkResult.from_dict` round-trip it through JSON (the object store keeps it between the workers).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.assign import assign_speakers
from verbatim.pipeline.diarize import MODEL_NAME
from verbatim.pipeline.progress import ProgressHook, null_hook
from verbatim.pipeline.types import SAMPLE_RATE, Audio, Diarization, Segment, SpeakerTurn, Transcript

if TYPE_CHECKING:
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline

__all__ = ["CHUNK_SCHEMA", "ChunkResult", "merge_chunks", "offset_of", "slice_audio", "transcribe_chunk"]

CHUNK_SCHEMA = "verbatim.chunk/1"


@dataclass(frozen=True)
class ChunkResult:
    """What one chunk contributes to the merged transcript.

    Attributes:
        index: position of the chunk in the recording (0, 1, ...).
        offset: seconds from the start of the recording to the chunk's first sample.
        duration: length of the chunk in seconds.
        transcript: the chunk's transcript without speakers, times on the recording's clock.
        turns: the chunk's speaker turns, recording clock, speaker ids local to the chunk (``S1``...).
        centroids: local speaker id -> centroid: the mean of its unit-norm CAM++ embeddings, not normalised
            again (its dot product with another centroid is their average cosine similarity).
        diarized: whether diarisation was asked for (turns and centroids are empty otherwise, and for a part
            in which nothing was said).
    """

    index: int
    offset: float
    duration: float
    transcript: Transcript
    turns: tuple[SpeakerTurn, ...] = ()
    centroids: dict[str, tuple[float, ...]] = field(default_factory=dict)
    diarized: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable document (schema ``verbatim.chunk/1``)."""
        from verbatim.pipeline.export.json_format import transcript_to_dict

        return {
            "schema": CHUNK_SCHEMA,
            "index": self.index,
            "offset": self.offset,
            "duration": self.duration,
            "diarized": self.diarized,
            "transcript": transcript_to_dict(self.transcript),
            "turns": [[t.start, t.end, t.speaker] for t in self.turns],
            "centroids": {k: list(v) for k, v in self.centroids.items()},
        }

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> ChunkResult:
        """Read back :meth:`to_dict`'s document.

        Raises:
            InvalidOptionError: not a chunk document, or malformed.
        """
        from verbatim.pipeline.export.json_format import transcript_from_dict

        if not isinstance(doc, dict) or doc.get("schema") != CHUNK_SCHEMA:
            raise InvalidOptionError(f"not a chunk document (expected schema {CHUNK_SCHEMA!r})")
        try:
            return ChunkResult(
                index=int(doc["index"]),
                offset=float(doc["offset"]),
                duration=float(doc["duration"]),
                transcript=transcript_from_dict(doc["transcript"]),
                turns=tuple(SpeakerTurn(float(s), float(e), str(k)) for s, e, k in doc["turns"]),
                centroids={str(k): tuple(float(x) for x in v) for k, v in doc["centroids"].items()},
                diarized=bool(doc["diarized"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidOptionError(f"malformed chunk document: {type(e).__name__}: {e}") from e


def transcribe_chunk(
    pipeline: TranscriptionPipeline,
    audio: Audio,
    *,
    index: int,
    offset: float,
    options: PipelineOptions,
    hook: ProgressHook = null_hook,
) -> ChunkResult:
    """Transcribe (and diarise, when the options say so) one chunk of a recording.

    Args:
        pipeline: the loaded models.
        audio: the chunk's samples alone (16 kHz mono).
        index: the chunk's position.
        offset: seconds from the start of the recording to the chunk's start; every time is shifted by it.
        options: as for a single pass (``channels`` is ignored: chunks are mixed to one track).
        hook: progress of the chunk's own stages.

    Raises:
        InvalidOptionError: diarisation asked for without a diarisation model.
    """
    transcript = pipeline.recognize(audio, options, hook)
    transcript = _shift_transcript(transcript, offset)
    if not options.diarize:
        return ChunkResult(index, offset, audio.duration, transcript)
    if pipeline.diarizer is None:
        raise InvalidOptionError("Diarisation was asked for but no diarisation model is loaded.")
    if not transcript.segments:  # nothing said in this part: no word needs a speaker (as in a single pass)
        models = {**transcript.models, **pipeline.diarizer.identity()}
        return ChunkResult(index, offset, audio.duration, transcript.with_(models=models), diarized=True)
    diarization, centroids = pipeline.diarizer.diarize_with_centroids(audio, options.diarization, hook)
    turns = tuple(
        SpeakerTurn(round(t.start + offset, 3), round(t.end + offset, 3), t.speaker)
        for t in diarization.turns
    )
    models = {**transcript.models, **pipeline.diarizer.identity()}
    return ChunkResult(
        index=index,
        offset=offset,
        duration=audio.duration,
        transcript=transcript.with_(models=models),
        turns=turns,
        centroids={k: tuple(float(x) for x in v) for k, v in centroids.items()},
        diarized=True,
    )


def merge_chunks(
    results: list[ChunkResult],
    options: PipelineOptions,
    *,
    audio_sha256: str = "",
    filename: str = "",
) -> Transcript:
    """One transcript from the results of every chunk of a recording, as a single pass would give it.

    The local speakers of all chunks are clustered together on their centroids (honouring the requested number
    of speakers), two local speakers of one chunk never becoming one speaker; global speakers are named
    ``S1``, ``S2``... by first appearance, and words get their speakers as in a single pass.

    Args:
        results: one per chunk, in any order; indexes must be 0..n-1.
        options: the options the chunks were transcribed with (diarisation hints).
        audio_sha256 / filename: identity of the whole recording.

    Raises:
        InvalidOptionError: no results, or indexes missing or repeated.
    """
    if not results:
        raise InvalidOptionError("No chunk to merge.")
    results = sorted(results, key=lambda r: r.index)
    if [r.index for r in results] != list(range(len(results))):
        raise InvalidOptionError("Chunk results are missing or repeated.")
    segments = [s for r in results for s in r.transcript.segments]
    models: dict[str, dict[str, str]] = {}
    for r in results:
        models.update(r.transcript.models)
    first = results[0].transcript
    merged = Transcript(
        language=_main_language(results),
        duration=round(sum(r.duration for r in results), 3),
        segments=tuple(replace(s, id=i) for i, s in enumerate(segments)),
        audio_sha256=audio_sha256 or first.audio_sha256,
        filename=filename or first.filename,
        models=models,
        speakers={},
        language_probability=min((r.transcript.language_probability for r in results), default=1.0),
    )
    if not options.diarize or not any(r.diarized for r in results):
        return merged
    from verbatim.pipeline.runner import name_known_voices, usable_voices

    diarization, centroids = _global_diarization(results, options)
    transcript = assign_speakers(merged, diarization)
    naming = usable_voices(options.voices, models.get("speaker_embedding", {}).get("sha256"))
    if naming is not None:
        transcript = name_known_voices(transcript, centroids, naming)
    return transcript


def _global_diarization(
    results: list[ChunkResult], options: PipelineOptions
) -> tuple[Diarization, dict[str, npt.NDArray[np.float32]]]:
    """Turns of every chunk with one global speaker id per voice, named by first appearance, and each global
    speaker's centroid (the mean of its local speakers' centroids, weighted by their speech)."""
    keys: list[tuple[int, str]] = []
    vectors: list[tuple[float, ...]] = []
    weights: list[float] = []
    for r in results:
        for speaker in sorted({t.speaker for t in r.turns}):
            if speaker in r.centroids:
                keys.append((r.index, speaker))
                vectors.append(r.centroids[speaker])
                weights.append(sum(t.end - t.start for t in r.turns if t.speaker == speaker))
    if not vectors and not any(r.turns for r in results):
        return Diarization(turns=(), num_speakers=0, model=MODEL_NAME), {}
    labels = _cluster_speakers(
        np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1),
        np.asarray([k[0] for k in keys], dtype=np.int64),
        np.asarray(weights, dtype=np.float64),
        options,
    )
    cluster_of = {key: int(label) for key, label in zip(keys, labels, strict=True)}
    next_label = int(labels.max()) + 1 if len(labels) else 0
    raw: list[tuple[float, float, int]] = []
    for r in results:
        for turn in r.turns:
            key = (r.index, turn.speaker)
            if key not in cluster_of:  # a local speaker without a centroid (should not happen): its own voice
                cluster_of[key] = next_label
                next_label += 1
            raw.append((turn.start, turn.end, cluster_of[key]))
    names: dict[int, str] = {}
    turns = []
    for start, end, cluster in sorted(raw, key=lambda t: (t[0], t[1])):
        name = names.setdefault(cluster, f"S{len(names) + 1}")
        turns.append(SpeakerTurn(start, end, name))
    sums: dict[int, npt.NDArray[np.float64]] = {}
    for key, vector, weight in zip(keys, vectors, weights, strict=True):
        label = cluster_of[key]
        sums[label] = sums.get(label, 0.0) + np.asarray(vector, np.float64) * max(weight, 1e-6)
    centroids = {
        names[label]: np.asarray(total / max(float(np.linalg.norm(total)), 1e-12), np.float32)
        for label, total in sums.items()
        if label in names
    }
    return Diarization(turns=tuple(turns), num_speakers=len(names), model=MODEL_NAME), centroids


def _cluster_speakers(
    vectors: npt.NDArray[np.float32],
    chunk_index: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
    options: PipelineOptions,
) -> npt.NDArray[np.int64]:
    """Global speaker label of each local speaker; local speakers of one chunk get different labels.

    The single pass clusters unit-norm embeddings with average linkage and cosine distance. Between two groups
    of unit vectors the average cosine distance is ``1 - mean_a . mean_b``, so with each local speaker's
    centroid being the mean of its unit-norm embeddings (not normalised again), the same average linkage and
    the same threshold apply to the local speakers: merge the closest pair of clusters (never two that hold
    local speakers of one chunk) while their distance is under the threshold, honouring the speaker counts.
    """
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    hints = options.diarization
    means = [v.astype(np.float64) for v in vectors]
    mass = [max(float(w), 1e-6) for w in weights]
    chunks = [{int(c)} for c in chunk_index]
    members = [[i] for i in range(n)]
    while len(members) > 1:
        k = len(members)
        if hints.num_speakers is not None and k <= hints.num_speakers:
            break
        if hints.num_speakers is None and k <= hints.min_speakers:
            break
        over_max = hints.max_speakers is not None and k > hints.max_speakers
        forced = hints.num_speakers is not None or over_max
        best = _closest_pair(means, chunks, apart=True)
        if best is None and forced:  # a requested count beats the one-chunk constraint
            best = _closest_pair(means, chunks, apart=False)
        if best is None:
            break
        distance, a, b = best
        if not forced and distance > hints.clustering_threshold:
            break
        total = mass[a] + mass[b]
        means[a] = (means[a] * mass[a] + means[b] * mass[b]) / total
        mass[a] = total
        chunks[a] |= chunks[b]
        members[a] += members[b]
        del means[b], mass[b], chunks[b], members[b]
    labels = np.zeros(n, dtype=np.int64)
    for label, group in enumerate(members):
        labels[group] = label
    return labels


def _closest_pair(
    means: list[npt.NDArray[np.float64]], chunks: list[set[int]], *, apart: bool
) -> tuple[float, int, int] | None:
    """(distance, a, b) of the two closest clusters; with ``apart``, never two sharing a chunk."""
    best: tuple[float, int, int] | None = None
    for a in range(len(means)):
        for b in range(a + 1, len(means)):
            if apart and chunks[a] & chunks[b]:
                continue
            distance = 1.0 - float(means[a] @ means[b])
            if best is None or distance < best[0]:
                best = (distance, a, b)
    return best


def _main_language(results: list[ChunkResult]) -> str:
    """The language spoken longest (by segment time), else the first chunk's."""
    spoken: dict[str, float] = {}
    for r in results:
        for s in r.transcript.segments:
            language = s.language or r.transcript.language
            spoken[language] = spoken.get(language, 0.0) + max(0.0, s.end - s.start)
    if not spoken:
        return results[0].transcript.language
    return max(spoken, key=lambda lang: spoken[lang])


def _shift_transcript(transcript: Transcript, offset: float) -> Transcript:
    if offset == 0:
        return transcript
    return transcript.with_(segments=tuple(_shift_segment(s, offset) for s in transcript.segments))


def _shift_segment(segment: Segment, offset: float) -> Segment:
    words = tuple(
        replace(w, start=round(w.start + offset, 3), end=round(w.end + offset, 3)) for w in segment.words
    )
    return replace(
        segment, start=round(segment.start + offset, 3), end=round(segment.end + offset, 3), words=words
    )


def slice_audio(audio: Audio, first: int, last: int) -> Audio:
    """Samples ``[first, last)`` of a recording, as an :class:`Audio` of their own."""
    return Audio(audio.samples[first:last], audio.sha256, audio.filename)


def offset_of(first: int) -> float:
    """Seconds from the start of the recording to sample ``first``."""
    return first / SAMPLE_RATE
