"""Long recordings across workers: cut at pauses, transcribe the parts in parallel, merge.

The execution that holds the job (the *parent*, :func:`verbatim.workers.process.process_job`) cuts the decoded
recording with :func:`~verbatim.pipeline.asr.block_bounds`, stores each part as 16-bit WAV under
``jobs/<id>/chunks/<n>.wav`` and hands one chunk task per part to the other workers (``submit``). It then
works through the parts itself, from the last one back, skipping those already stored and, for a
while, those another worker is busy with, so that:

- with one worker the parent transcribes every part (the queued chunk tasks later find the job finished and
  do nothing); with several, the parts are shared between them;
- a chunk worker that dies leaves a lease that stops being refreshed: once it is ``stale_after`` old the
  parent transcribes that part itself, so the job never waits on a lost worker;
- a chunk task is idempotent by (job id, index): its result ``jobs/<id>/chunks/<n>.json`` is overwritten as a
  whole, and a stored result is never recomputed.

When every result is there the parent merges them (:func:`~verbatim.pipeline.chunks.merge_chunks`) and
finishes the job as for a single pass. Leases are ``jobs/<id>/chunks/<n>.lease`` (worker id and time).
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from verbatim.digest import sha256_stream
from verbatim.errors import InvalidOptionError, VerbatimError
from verbatim.jobs.layout import chunk_key, chunk_kind, chunks_prefix
from verbatim.ops.db import ArtifactRecord, Job
from verbatim.ops.storage.base import ObjectNotFoundError, ObjectStore
from verbatim.pipeline.types import SAMPLE_RATE, Audio

if TYPE_CHECKING:
    from verbatim.ops.settings import Settings
    from verbatim.pipeline.chunks import ChunkResult
    from verbatim.pipeline.runner import PipelineOptions, TranscriptionPipeline
    from verbatim.pipeline.types import Transcript

__all__ = ["ChunkSubmitter", "chunk_artifacts", "process_chunk", "run_chunked"]

log = logging.getLogger("verbatim.worker")

ChunkSubmitter = Callable[[str, int, int], None]
"""``submit(job_id, index, first_sample)``: have another worker transcribe one part (returns at once)."""

_POLL_SECONDS = 1.0


def chunk_artifacts(store: ObjectStore, job_id: str) -> list[ArtifactRecord]:
    """The parts a split job left in the store, as artefacts for its custody manifest.

    The parts' audio and results are derived data like the transcript: they stay (and are purged with the
    job), so the manifest lists each with its SHA-256. Leases are bookkeeping, deleted here.
    """
    records: list[ArtifactRecord] = []
    for key in sorted(store.list(chunks_prefix(job_id)), key=_part_order):
        suffix = key.rsplit(".", 1)[-1]
        if suffix == "lease":
            store.delete(key)
            continue
        index = _part_order(key)[0]
        kind = chunk_kind(suffix, index)
        if kind is None or index == _NOT_A_PART:
            continue
        stat = store.stat(key)
        digest = stat.sha256
        if digest is None:
            with store.open(key) as stream:
                digest = sha256_stream(stream)
        records.append(ArtifactRecord(kind=kind, object_key=key, sha256=digest, size=stat.size))
    return records


_NOT_A_PART = 1 << 30


def _part_order(key: str) -> tuple[int, str]:
    name = key.rsplit("/", 1)[-1]
    index, _, suffix = name.partition(".")
    return (int(index) if index.isdigit() else _NOT_A_PART, suffix)


def _wav_bytes(samples: np.ndarray) -> bytes:
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.clip(samples, -1.0, 1.0), SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _load_result(store: ObjectStore, job_id: str, index: int, first: int) -> ChunkResult | None:
    """The stored result of a part, or ``None`` when missing or not this part's (a different cut)."""
    from verbatim.pipeline.chunks import ChunkResult

    try:
        result = ChunkResult.from_dict(json.loads(store.get_bytes(chunk_key(job_id, index, "json"))))
    except ObjectNotFoundError:
        return None
    except (InvalidOptionError, ValueError):
        log.warning("unreadable chunk result job=%s chunk=%d", job_id, index)
        return None
    if result.index != index or abs(result.offset - first / SAMPLE_RATE) > 1e-3:
        return None
    return result


def _lease_age(store: ObjectStore, job_id: str, index: int, worker_id: str) -> float | None:
    """Seconds since another worker last refreshed its lease on a part; ``None`` when there is none."""
    try:
        lease = json.loads(store.get_bytes(chunk_key(job_id, index, "lease")))
    except ObjectNotFoundError:
        return None
    except ValueError:
        return None
    if lease.get("worker") == worker_id:
        return None
    return max(0.0, time.time() - float(lease.get("at", 0.0)))


def _take_lease(store: ObjectStore, job_id: str, index: int, worker_id: str) -> None:
    data = json.dumps({"worker": worker_id, "at": time.time()}).encode()
    store.put_bytes(chunk_key(job_id, index, "lease"), data, content_type="application/json", overwrite=True)


def _lease_keeper(
    store: ObjectStore, job_id: str, index: int, worker_id: str, interval: float
) -> Callable[..., None]:
    """A progress hook that refreshes the lease every ``interval`` seconds."""
    last = time.monotonic()

    def hook(step: str, *, completed: float, total: float) -> None:
        nonlocal last
        if time.monotonic() - last >= interval:
            last = time.monotonic()
            try:
                _take_lease(store, job_id, index, worker_id)
            except Exception:  # a missed refresh is not fatal
                log.warning("lease refresh failed job=%s chunk=%d", job_id, index, exc_info=True)

    return hook


def _transcribe_and_store(
    pipeline: TranscriptionPipeline,
    options: PipelineOptions,
    audio: Audio,
    *,
    store: ObjectStore,
    job_id: str,
    index: int,
    first: int,
    worker_id: str,
    lease_interval: float,
) -> ChunkResult:
    from verbatim.pipeline.chunks import transcribe_chunk

    _take_lease(store, job_id, index, worker_id)
    started = time.monotonic()
    result = transcribe_chunk(
        pipeline,
        audio,
        index=index,
        offset=first / SAMPLE_RATE,
        options=options,
        hook=_lease_keeper(store, job_id, index, worker_id, lease_interval),
    )
    data = json.dumps(result.to_dict(), ensure_ascii=False).encode()
    store.put_bytes(chunk_key(job_id, index, "json"), data, content_type="application/json", overwrite=True)
    log.info(
        "chunk done job=%s chunk=%d audio_s=%.1f wall_s=%.1f worker=%s",
        job_id,
        index,
        audio.duration,
        time.monotonic() - started,
        worker_id,
    )
    return result


def run_chunked(
    job_id: str,
    audio: Audio,
    bounds: list[tuple[int, int]],
    *,
    pipeline: TranscriptionPipeline,
    options: PipelineOptions,
    store: ObjectStore,
    worker_id: str,
    report: Callable[..., None],
    stale_after: float,
    lease_interval: float,
    submit: ChunkSubmitter | None = None,
) -> Transcript:
    """The parent's side: store the parts, hand them out, transcribe what is left, merge.

    Args:
        job_id: the job (held by this execution).
        audio: the whole decoded recording.
        bounds: (first, last) samples of each part (:func:`~verbatim.pipeline.asr.block_bounds`).
        pipeline / options: loaded models and the job's options.
        store: the object store.
        worker_id: this execution.
        report: progress in [0, 1] of the whole job; raises when the job is no longer this execution's.
        stale_after: seconds after which another worker's lease no longer holds.
        lease_interval: seconds between two refreshes of a lease while a part is transcribed.
        submit: hands a part to another worker; ``None`` (embedded) transcribes every part here.
    """
    from verbatim.pipeline.chunks import merge_chunks, slice_audio

    results: dict[int, ChunkResult] = {}
    for index, (first, _last) in enumerate(bounds):
        found = _load_result(store, job_id, index, first)
        if found is not None:
            results[index] = found
    for index, (first, last) in enumerate(bounds):
        if index not in results:
            store.put_bytes(
                chunk_key(job_id, index, "wav"),
                _wav_bytes(audio.samples[first:last]),
                content_type="audio/wav",
                overwrite=True,
            )
    log.info("job split job=%s chunks=%d reused=%d", job_id, len(bounds), len(results))
    if submit is not None:
        for index, (first, _last) in enumerate(bounds):
            if index not in results:
                submit(job_id, index, first)

    def progress() -> None:
        report(0.05 + 0.9 * len(results) / len(bounds), stage="transcribe")

    pending = [i for i in reversed(range(len(bounds))) if i not in results]
    while pending:
        progress()
        deferred: list[int] = []
        did_work = False
        for index in pending:
            first, last = bounds[index]
            found = _load_result(store, job_id, index, first)
            if found is None:
                age = _lease_age(store, job_id, index, worker_id)
                if age is not None and age < stale_after:
                    deferred.append(index)  # another worker is on it
                    continue
                found = _transcribe_and_store(
                    pipeline,
                    options,
                    slice_audio(audio, first, last),
                    store=store,
                    job_id=job_id,
                    index=index,
                    first=first,
                    worker_id=worker_id,
                    lease_interval=lease_interval,
                )
                did_work = True
            results[index] = found
            progress()
        pending = deferred
        if pending and not did_work:
            time.sleep(_POLL_SECONDS)
    return merge_chunks([results[i] for i in range(len(bounds))], options)


def process_chunk(
    job_id: str,
    index: int,
    first: int,
    *,
    settings: Settings,
    sessions: sessionmaker[Session],
    store: ObjectStore,
    worker_id: str,
    lease_interval: float = 10.0,
    stale_after: float = 300.0,
) -> str:
    """A chunk task: transcribe part ``index`` of a running job and store its result.

    Idempotent by (job id, index): a part already done, being done by a live worker, or of a job that is no
    longer running is skipped. Failures are logged and left to the parent, which transcribes the part itself.

    Returns:
        ``done`` (stored now or before), ``skipped`` or ``failed``.
    """
    from verbatim.jobs.request import TranscriptionRequest
    from verbatim.jobs.stages import build_pipeline
    from verbatim.pipeline.decode import decode

    with sessions() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != "running":
            status = job.status if job else "missing"
            log.info("chunk skipped job=%s chunk=%d status=%s", job_id, index, status)
            return "skipped"
        raw_options: dict[str, Any] = dict(job.options or {})
    if _load_result(store, job_id, index, first) is not None:
        return "done"
    age = _lease_age(store, job_id, index, worker_id)
    if age is not None and age < stale_after:
        log.info("chunk held by another worker job=%s chunk=%d", job_id, index)
        return "skipped"
    workdir = Path(tempfile.mkdtemp(prefix="verbatim-chunk-"))
    try:
        local = workdir / "chunk.wav"
        store.download_to(chunk_key(job_id, index, "wav"), local)
        decoded = decode(local)
        pipeline, options = build_pipeline(TranscriptionRequest.from_stored(raw_options), settings)
        _transcribe_and_store(
            pipeline,
            options,
            Audio(decoded.samples, "", ""),
            store=store,
            job_id=job_id,
            index=index,
            first=first,
            worker_id=worker_id,
            lease_interval=lease_interval,
        )
        return "done"
    except Exception as e:
        if isinstance(e, VerbatimError):
            log.warning("chunk failed job=%s chunk=%d error=%s", job_id, index, type(e).__name__)
        else:
            log.exception("chunk failed job=%s chunk=%d", job_id, index)
        try:  # the job's worker does the part itself, without waiting for the lease to go stale
            store.delete(chunk_key(job_id, index, "lease"))
        except Exception:
            log.warning("could not drop the lease job=%s chunk=%d", job_id, index, exc_info=True)
        return "failed"
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
