"""Development helper (issue 11): peak RSS and stage times of the diariser alone on a long recording built
the way ``verbatim bench --long`` builds it (FLEURS fr/en clips joined with pauses).

    PYTHONPATH=$PWD nice -n 5 .venv/bin/python scripts/diar_memory.py 3600
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    from verbatim.bench.long import write_long_recording
    from verbatim.jobs.stages import get_diarizer
    from verbatim.ops.settings import get_settings
    from verbatim.pipeline.decode import decode

    seconds = float(sys.argv[1])
    data = Path("/work/shared/data/fleurs-test-5lang")
    sources = [
        decode(p).samples for p in sorted(data.glob("fleurs-f*.ogg")) + sorted(data.glob("fleurs-en*.ogg"))
    ]
    diarizer = get_diarizer(get_settings())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.flac"
        write_long_recording(sources, seconds, path, seed=0)
        del sources
        audio = decode(path)
    print(
        f"before diarisation: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        flush=True,
    )
    started = time.perf_counter()
    analysis = diarizer.analyse(audio)
    clock = time.perf_counter()
    diarization, _ = diarizer.finish(analysis)
    finish_s = time.perf_counter() - clock
    print(
        f"{seconds:.0f} s: {diarization.num_speakers} speakers, {len(diarization.turns)} turns, "
        f"{analysis.num_embeddings} embeddings, stages {analysis.stage_seconds} clustering {finish_s:.1f} s, "
        f"wall {time.perf_counter() - started:.0f} s, peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
        flush=True,
    )


if __name__ == "__main__":
    main()
