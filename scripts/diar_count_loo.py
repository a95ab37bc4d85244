# ruff: noqa: T201
"""Development helper for issue 11 (not part of the product): leave-one-recording-out figures for the
median-of-three speaker count (threshold, silhouette, NeMo-style enhanced NME-SC with anchor noise sigma):
sigma is chosen on every other recording of the pool (most exact counts, then lowest pooled DER).

    DIAR_CACHE=/tmp/i11count_cache PYTHONPATH=$PWD .venv/bin/python scripts/diar_count_loo.py [POOL ...]
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

SIGMAS = (0.3, 1.0, 5.0, 10.0, 20.0, 50.0)


def main() -> None:
    from diar_count import enhanced_count, path_labels, silhouette, train_of  # type: ignore[import-not-found]
    from diar_dev import components, load  # type: ignore[import-not-found]

    from verbatim.pipeline.diarize import DiarizationOptions, SpeakerDiarizer
    from verbatim.pipeline.types import SpeakerTurn

    base = DiarizationOptions()
    for pool in sys.argv[1:] or ("1", "real,2,3"):
        rows = []
        for rec, an in load(pool):
            emb, chunk, local, speech = train_of(an, base)
            d, _ = SpeakerDiarizer.finish(None, an, base)  # type: ignore[arg-type]
            kt = d.num_speakers
            if kt <= 1:
                ks = 1
            else:
                labs = path_labels(emb, chunk, local, speech, 8)
                sc = {k: silhouette(emb, lab, speech) for k, lab in labs.items() if k >= 2}
                ks = max(sc, key=lambda k: sc[k])
            votes = {
                s: int(sorted([kt, ks, enhanced_count(emb, max_speakers=11, sigma=s)])[1]) for s in SIGMAS
            }
            der: dict[int, tuple[float, float]] = {}
            for k in set(votes.values()):
                if rec.turns is None:
                    der[k] = (0.0, 0.0)
                    continue
                dk, _ = SpeakerDiarizer.finish(None, an, replace(base, num_speakers=k))  # type: ignore[arg-type]
                total, miss, fa, conf = components([SpeakerTurn(*t) for t in rec.turns], dk, rec.uem)
                der[k] = (miss + fa + conf, total)
            rows.append((rec, votes, der))

        def pick(others: list[Any]) -> float:
            def key(sigma: float) -> tuple[int, float]:
                ex = sum(v[sigma] == r.num_speakers for r, v, _ in others)
                err = sum(d[v[sigma]][0] for _, v, d in others)
                ref = sum(d[v[sigma]][1] for _, v, d in others)
                return ex, -err / max(ref, 1e-9)

            return max(SIGMAS, key=key)

        for s in SIGMAS:
            ex = sum(v[s] == r.num_speakers for r, v, _ in rows)
            err = sum(d[v[s]][0] for _, v, d in rows)
            ref = sum(d[v[s]][1] for _, v, d in rows)
            print(f"pool {pool:9s} sigma {s:5.1f}  DER {err / max(ref, 1e-9):.3f}  exact {ex}/{len(rows)}")
        ex = 0
        err = ref = 0.0
        chosen = []
        for i, (r, v, d) in enumerate(rows):
            s = pick(rows[:i] + rows[i + 1 :])
            chosen.append(s)
            ex += v[s] == r.num_speakers
            err += d[v[s]][0]
            ref += d[v[s]][1]
        print(
            f"pool {pool:9s} LOO sigma chosen {sorted(set(chosen))}  DER {err / max(ref, 1e-9):.3f}  "
            f"exact {ex}/{len(rows)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
