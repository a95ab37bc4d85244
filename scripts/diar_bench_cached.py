"""Development helper (issue 11): ``verbatim bench diarization``'s tables (defaults, true count, leave-one-out
threshold, stage times) computed on the analyses cached by ``scripts/diar_dev.py cache`` instead of analysing
again (the clustering is the code of this checkout; the analyses' stage times are those of the caching run).

    PYTHONPATH=$PWD .venv/bin/python scripts/diar_bench_cached.py real,2,3
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    import verbatim.bench.diarization as bench
    import verbatim.jobs.stages as stages
    from diar_dev import load  # type: ignore[import-not-found]
    from verbatim.pipeline.diarize import SpeakerDiarizer

    items = load(sys.argv[1])
    by_id = {rec.id: analysis for rec, analysis in items}
    real = [rec for rec, _ in items if rec.set != "simulated"]
    simulated = [rec for rec, _ in items if rec.set == "simulated"]

    class Cached:
        def analyse(self, audio: Any, options: Any = None) -> Any:
            return by_id[audio.filename]

        def finish(self, analysis: Any, options: Any) -> Any:
            return SpeakerDiarizer.finish(self, analysis, options)  # type: ignore[arg-type]

    bench.real_recordings = lambda data: real  # type: ignore[assignment]
    bench.simulated_recordings = lambda *a, **k: simulated  # type: ignore[assignment]
    stages.get_diarizer = lambda settings: Cached()  # type: ignore[assignment,return-value]
    tables, figures = bench.run_diarization(Path("."), simulated=len(simulated), seed=0, log=lambda m: None)
    for t in tables:
        sys.stdout.write(t + "\n\n")
    if len(sys.argv) > 2:
        Path(sys.argv[2]).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
