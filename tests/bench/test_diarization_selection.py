"""The bench's leave-one-out choices (our own selection logic, on made-up results)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from verbatim.bench.diarization import MERGE_SIMILARITIES, THRESHOLDS, DevRecording, _leave_one_out, _Scored


def _item(name: str, speakers: int, results: dict[str, tuple[int, float]]) -> _Scored:
    recording = DevRecording(
        id=name, set="simulated", samples=np.zeros(16000, np.float32), num_speakers=speakers,
        turns=((0.0, 10.0, "A"),),
    )  # fmt: skip
    base = {f"t={t}": (speakers, 0.5) for t in THRESHOLDS}
    base |= {"no merge": (speakers, 0.4)} | {f"m={m}": (speakers, 0.3) for m in MERGE_SIMILARITIES}
    return _Scored(recording, SimpleNamespace(narrowband=False), results=base | results)  # type: ignore[arg-type]


def test_the_merge_is_chosen_on_the_other_recordings_by_their_der() -> None:
    # 0.75 is best on b, c and d; 0.9 is best on a alone
    items = [
        _item("a", 2, {"m=0.9": (2, 0.0), "m=0.75": (3, 0.35)}),
        *(_item(n, 1, {"m=0.75": (1, 0.1), "m=0.9": (2, 0.6)}) for n in "bcd"),
    ]
    _leave_one_out(items)
    assert [i.merge_chosen for i in items] == ["m=0.75"] * 4
    assert items[0].results is not None
    assert items[0].results["merge leave-one-out"] == (3, 0.35)  # a's result under the choice of the others
    # with a alone favouring no merge strongly enough, its own fold still follows the others
    items = [_item("a", 2, {"no merge": (2, 0.0)}), *(_item(n, 1, {"m=0.7": (1, 0.05)}) for n in "bcd")]
    _leave_one_out(items)
    assert [i.merge_chosen for i in items] == ["m=0.7", "m=0.7", "m=0.7", "m=0.7"]
