"""`verbatim bench voices`: naming diarised speakers after enrolled voices, on simulated conversations.

Development data only: the voices of the shared data (FLEURS readers, SPPAS, Picovoice, the single-speaker
stretches of AMI and TCOF; :func:`verbatim.bench.simulate.load_voices`). A voice with several recordings (or
stretches) is *enrollable*: its last recordings, at least 8 s of speech, make its voice print, and only the
others are used in conversations, so a speaker is never recognised from the very utterance it was enrolled
with. Conversations are the simulated set (1 to 7 speakers, some through a phone line, some with a far
speaker, back-channels, overlap), drawn from those remaining recordings.

Every conversation is diarised once (the defaults, the count estimated); each resulting speaker (cluster) is
given the reference speaker it overlaps most, and its centroid is compared with every voice print. Two
situations are scored:

- *present*: the unit has enrolled every enrollable voice. A cluster of an enrolled speaker is **correct**
  when named after that speaker; a cluster named after someone else is a **false match**.
- *absent*: the voices of the conversation's own speakers are removed from the enrolled set: any name given is
  a **false match** (the situation the threshold exists for: staff enrolled, none of them in the room).

The threshold and margin are chosen on one seed (most correct names with at most 1 % false matches, pooled
over both situations) and reported on another seed, held out; the choice is also made again leaving each
tuning conversation out, and scored on the one left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from verbatim.bench.common import BenchError, format_table
from verbatim.pipeline.types import SAMPLE_RATE

if TYPE_CHECKING:
    from verbatim.bench.simulate import Voice
    from verbatim.pipeline.diarize import SpeakerDiarizer

__all__ = ["ClusterRow", "run_voices", "score", "split_enrolment"]

Log = Callable[[str], None]
THRESHOLDS = tuple(round(0.30 + 0.025 * i, 3) for i in range(25))  # 0.30 .. 0.90
BANDS = ("wideband", "narrowband")
MARGINS = (0.0, 0.02, 0.05, 0.1)
MAX_FALSE_RATE = 0.01
ENROL_SPEECH = 8.0  # seconds of speech of an enrolment (the CLI's minimum)
KEEP_SPEECH = 4.0  # seconds of speech a voice keeps for the conversations


@dataclass(frozen=True)
class ClusterRow:
    """One diarised speaker of one conversation.

    Attributes:
        conversation: its conversation's id.
        speaker: the reference speaker it overlaps most (``""`` when it overlaps none).
        truth: index of that speaker's voice print, ``None`` when that speaker is not enrolled.
        seconds: seconds of its turns.
        similarity: cosine similarity of its centroid with each voice print.
        present: indexes of the voice prints of the conversation's own speakers.
        tags: the conversation's tags (``phone``, ``far``).
    """

    conversation: str
    speaker: str
    truth: int | None
    seconds: float
    similarity: tuple[float, ...]
    present: tuple[int, ...]
    tags: tuple[str, ...]


def _speech(regions: Sequence[tuple[float, float]]) -> float:
    return sum(e - s for s, e in regions)


def split_enrolment(voice: Voice) -> tuple[Voice, Voice] | None:
    """(enrolment, conversation) parts of a voice: its last recordings, up to :data:`ENROL_SPEECH` of
    speech, enrol it; the others stay for conversations. A voice with one long recording is cut at a pause
    into two (other utterances of the same session). ``None`` when the voice cannot spare enough speech."""
    from verbatim.bench.simulate import Voice

    pieces, regions = list(voice.pieces), list(voice.regions)
    if len(pieces) == 1:
        cut_at = _pause_cut(regions[0])
        if cut_at is None:
            return None
        at = round(cut_at * SAMPLE_RATE)
        first = tuple((s, e) for s, e in regions[0] if e <= cut_at)
        last = tuple((s - cut_at, e - cut_at) for s, e in regions[0] if s >= cut_at)
        pieces = [pieces[0][:at], pieces[0][at:]]
        regions = [first, last]
    taken = 0.0
    cut = len(pieces)
    while cut > 1 and taken < ENROL_SPEECH:
        cut -= 1
        taken += _speech(regions[cut])
    rest = sum(_speech(r) for r in regions[:cut])
    if taken < ENROL_SPEECH or rest < KEEP_SPEECH:
        return None
    enrol = Voice(voice.speaker, voice.corpus, tuple(pieces[cut:]), tuple(regions[cut:]))
    keep = Voice(voice.speaker, voice.corpus, tuple(pieces[:cut]), tuple(regions[:cut]))
    return enrol, keep


def _pause_cut(regions: Sequence[tuple[float, float]]) -> float | None:
    """A time between two speech regions leaving :data:`ENROL_SPEECH` of speech after it and at least
    :data:`KEEP_SPEECH` before it (the latest such pause), or None."""
    after = 0.0
    for k in range(len(regions) - 1, 0, -1):
        after += regions[k][1] - regions[k][0]
        if after >= ENROL_SPEECH:
            before = sum(e - s for s, e in regions[:k])
            if before < KEEP_SPEECH:
                return None
            return (regions[k - 1][1] + regions[k][0]) / 2
    return None


def _overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    total = 0.0
    for s1, e1 in a:
        for s2, e2 in b:
            total += max(0.0, min(e1, e2) - max(s1, s2))
    return total


_COUNTS = (
    "enrolled_speakers",
    "speaker_correct",
    "enrolled_clusters",
    "correct",
    "wrong_present",
    "other_clusters",
    "false_other",
    "absent_clusters",
    "false_absent",
)


def score(rows: Sequence[ClusterRow], threshold: float, margin: float) -> dict[str, int]:
    """Counts of one (threshold, margin), in both situations (see the module docstring), with the pipeline's
    own matching (:func:`verbatim.pipeline.voices.match_similarities`).

    Returns:
        ``enrolled_speakers`` and ``speaker_correct`` (each enrolled speaker's largest cluster, named after
        it), ``enrolled_clusters``, ``correct``, ``wrong_present`` (named after another voice, present
        situation), ``other_clusters`` (clusters of speakers not enrolled, present situation), ``false_other``
        (those named), ``absent_clusters``, ``false_absent`` (named, absent situation).
    """
    from verbatim.pipeline.voices import match_similarities

    counts = dict.fromkeys(_COUNTS, 0)
    by_conversation: dict[str, list[ClusterRow]] = {}
    for row in rows:
        by_conversation.setdefault(row.conversation, []).append(row)
    for members in by_conversation.values():
        matrix = np.asarray([r.similarity for r in members], np.float32)
        named = {i: j for i, j, _s in match_similarities(matrix, threshold=threshold, margin=margin)}
        for i, row in enumerate(members):
            if row.truth is None:
                counts["other_clusters"] += 1
                counts["false_other"] += i in named
            else:
                counts["enrolled_clusters"] += 1
                counts["correct"] += named.get(i) == row.truth
                counts["wrong_present"] += i in named and named[i] != row.truth
        largest: dict[int, int] = {}
        for i, row in enumerate(members):
            if row.truth is not None and (
                row.truth not in largest or row.seconds > members[largest[row.truth]].seconds
            ):
                largest[row.truth] = i
        counts["enrolled_speakers"] += len(largest)
        counts["speaker_correct"] += sum(named.get(i) == truth for truth, i in largest.items())
        allowed = [j for j in range(matrix.shape[1]) if j not in set(members[0].present)]
        absent = {
            i for i, _j, _s in match_similarities(matrix[:, allowed], threshold=threshold, margin=margin)
        }
        counts["absent_clusters"] += len(members)
        counts["false_absent"] += len(absent)
    return counts


def rates(counts: dict[str, int]) -> dict[str, float]:
    """Correct-name rate (on enrolled speakers' clusters) and false-match rate (over every cluster scored
    in both situations: wrong names, names of speakers not enrolled, names of absent voices)."""
    false = counts["wrong_present"] + counts["false_other"] + counts["false_absent"]
    clusters = counts["enrolled_clusters"] + counts["other_clusters"] + counts["absent_clusters"]
    return {
        "speaker_correct_rate": counts["speaker_correct"] / max(1, counts["enrolled_speakers"]),
        "correct_rate": counts["correct"] / max(1, counts["enrolled_clusters"]),
        "false_rate": false / max(1, clusters),
        "false_absent_rate": counts["false_absent"] / max(1, counts["absent_clusters"]),
    }


def choose(rows: Sequence[ClusterRow]) -> tuple[float, float]:
    """The (threshold, margin) giving the most correct names with at most 1 % false matches.

    Of the thresholds that reach it, the middle one is taken (not an edge of the interval, which would rest
    on the single closest cluster), with the largest margin that still reaches it there; the strictest pair
    when no pair meets the bound."""
    results: dict[tuple[float, float], float] = {}
    for threshold in THRESHOLDS:
        for margin in MARGINS:
            r = rates(score(rows, threshold, margin))
            if r["false_rate"] <= MAX_FALSE_RATE:
                results[(threshold, margin)] = r["correct_rate"]
    if not results:
        return THRESHOLDS[-1], MARGINS[-1]
    best = max(results.values())
    thresholds = sorted({t for (t, _m), c in results.items() if c == best})
    threshold = thresholds[len(thresholds) // 2]
    margin = max(m for (t, m), c in results.items() if c == best and t == threshold)
    return threshold, margin


def _analyse(
    diarizer: SpeakerDiarizer,
    conversations: Sequence[Any],
    prints: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]],
    index: dict[str, int],
    log: Log,
) -> tuple[list[ClusterRow], float]:
    """Diarise each conversation (defaults) and compare each speaker's centroid with every print (the
    narrowband prints when the conversation sounds narrowband, as the pipeline does)."""
    from verbatim.pipeline.types import Audio
    from verbatim.pipeline.voices import is_narrowband

    rows: list[ClusterRow] = []
    spent = 0.0
    for number, conv in enumerate(conversations, start=1):
        clock = time.perf_counter()
        audio = Audio(conv.samples, sha256="", filename=conv.id)
        diarization, centroids = diarizer.diarize_with_centroids(audio)
        spent += time.perf_counter() - clock
        reference: dict[str, list[tuple[float, float]]] = {}
        for s, e, spk in conv.turns:
            reference.setdefault(spk, []).append((s, e))
        present = tuple(sorted(index[s] for s in conv.speakers if s in index))
        narrow = is_narrowband(conv.samples)
        matrix = prints[1] if narrow else prints[0]
        for speaker in diarization.speakers:
            turns = [(t.start, t.end) for t in diarization.turns if t.speaker == speaker]
            overlaps = {ref: _overlap(turns, regions) for ref, regions in reference.items()}
            truth = max(overlaps, key=lambda k: overlaps[k]) if overlaps else ""
            if overlaps and overlaps[truth] <= 0:
                truth = ""
            centroid = np.asarray(centroids.get(speaker, np.zeros(matrix.shape[1])), np.float32)
            unit = centroid / max(float(np.linalg.norm(centroid)), 1e-12)
            rows.append(
                ClusterRow(
                    conversation=conv.id,
                    speaker=truth,
                    truth=index.get(truth),
                    seconds=round(sum(e - s for s, e in turns), 2),
                    similarity=tuple(round(float(x), 4) for x in matrix @ unit),
                    present=present,
                    tags=tuple(conv.tags) + (("narrowband",) if narrow else ()),
                )
            )
        log(f"{number}/{len(conversations)} {conv.id}: {len(diarization.speakers)} speakers found")
    return rows, spent


def band_of(row: ClusterRow) -> str:
    """``narrowband`` for a cluster of a conversation that sounds like a phone line, else ``wideband``."""
    return "narrowband" if "narrowband" in row.tags else "wideband"


Constants = dict[str, tuple[float, float]]


def choose_bands(rows: Sequence[ClusterRow]) -> Constants:
    """(threshold, margin) per band, each chosen on that band's clusters (see :func:`choose`)."""
    out: Constants = {}
    for band in BANDS:
        subset = [r for r in rows if band_of(r) == band]
        out[band] = choose(subset) if subset else (THRESHOLDS[-1], MARGINS[-1])
    return out


def score_bands(rows: Sequence[ClusterRow], constants: Constants) -> dict[str, int]:
    """:func:`score` with each band's constants, summed."""
    total = dict.fromkeys(_COUNTS, 0)
    for band, (threshold, margin) in constants.items():
        subset = [r for r in rows if band_of(r) == band]
        for key, value in score(subset, threshold, margin).items():
            total[key] += value
    return total


def _row(label: str, counts: dict[str, int]) -> list[str]:
    r = rates(counts)
    false = counts["wrong_present"] + counts["false_other"] + counts["false_absent"]
    clusters = counts["enrolled_clusters"] + counts["other_clusters"] + counts["absent_clusters"]
    return [
        label,
        f"{counts['correct']}/{counts['enrolled_clusters']} = {100 * r['correct_rate']:.1f} %",
        f"{counts['speaker_correct']}/{counts['enrolled_speakers']} "
        f"= {100 * r['speaker_correct_rate']:.1f} %",
        f"{false}/{clusters} = {100 * r['false_rate']:.2f} %",
        f"{counts['false_absent']}/{counts['absent_clusters']} = {100 * r['false_absent_rate']:.2f} %",
        str(counts["wrong_present"]),
    ]


def _leave_one_out(rows: Sequence[ClusterRow]) -> tuple[dict[str, int], list[Constants]]:
    """Counts when each conversation is scored with the constants chosen on the others."""
    conversations = sorted({r.conversation for r in rows})
    total = dict.fromkeys(_COUNTS, 0)
    chosen: list[Constants] = []
    for left in conversations:
        constants = choose_bands([r for r in rows if r.conversation != left])
        chosen.append(constants)
        for key, value in score_bands([r for r in rows if r.conversation == left], constants).items():
            total[key] += value
    return total, chosen


def _rows_to_json(rows: Sequence[ClusterRow]) -> list[dict[str, Any]]:
    return [
        {
            "conversation": r.conversation,
            "speaker": r.speaker,
            "truth": r.truth,
            "seconds": r.seconds,
            "similarity": list(r.similarity),
            "present": list(r.present),
            "tags": list(r.tags),
        }
        for r in rows
    ]


def _rows_from_json(items: Sequence[dict[str, Any]]) -> list[ClusterRow]:
    return [
        ClusterRow(
            conversation=str(i["conversation"]),
            speaker=str(i["speaker"]),
            truth=None if i["truth"] is None else int(i["truth"]),
            seconds=float(i["seconds"]),
            similarity=tuple(float(x) for x in i["similarity"]),
            present=tuple(int(x) for x in i["present"]),
            tags=tuple(str(t) for t in i["tags"]),
        )
        for i in items
    ]


def _diarised_rows(
    data: Path, *, count: int, tune_seed: int, test_seed: int, log: Log
) -> tuple[dict[str, list[ClusterRow]], dict[str, Any]]:
    """Enrol the enrollable voices and diarise ``count`` conversations per seed (the costly part)."""
    from verbatim.bench.simulate import load_voices, merge_same_speakers, simulated_conversations
    from verbatim.models.diarization import embed_fbank, kaldi_fbank
    from verbatim.pipeline.diarize import SpeakerDiarizer, torch_threads
    from verbatim.pipeline.types import Audio
    from verbatim.pipeline.voices import EnrolmentError, voice_print

    diarizer = SpeakerDiarizer(device="cpu")

    def embed(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        feats = kaldi_fbank(samples)
        return np.asarray(embed_fbank(diarizer.embedding, [feats[: len(feats) - len(feats) % 20]])[0])

    with torch_threads(1):
        voices = merge_same_speakers(load_voices(data), embed)
        kept: list[Voice] = []
        prints: list[npt.NDArray[np.float32]] = []
        narrow_prints: list[npt.NDArray[np.float32]] = []
        enrolled: list[str] = []
        for voice in voices:
            split = split_enrolment(voice)
            if split is None:
                kept.append(voice)
                continue
            enrol, keep = split
            try:
                made = voice_print(diarizer.embedding, [Audio(p, "", voice.speaker) for p in enrol.pieces])
            except EnrolmentError:
                kept.append(voice)
                continue
            prints.append(made.embedding)
            narrow_prints.append(made.narrowband if made.narrowband is not None else made.embedding)
            enrolled.append(voice.speaker)
            kept.append(keep)
    if not prints:
        raise BenchError(f"{data}: no voice has recordings enough to enrol it")
    log(f"{len(voices)} voices, {len(enrolled)} enrolled from recordings kept out of the conversations")
    matrix = (np.stack(prints), np.stack(narrow_prints))
    index = {s: i for i, s in enumerate(enrolled)}
    rows: dict[str, list[ClusterRow]] = {}
    spent: dict[str, float] = {}
    for name, seed in (("tune", tune_seed), ("test", test_seed)):
        conversations = simulated_conversations(kept, count, seed=seed)
        with torch_threads(1):
            rows[name], spent[name] = _analyse(diarizer, conversations, matrix, index, log)
    meta = {
        "voices": len(voices),
        "enrolled": enrolled,
        "conversations_per_seed": count,
        "seeds": {"tune": tune_seed, "test": test_seed},
        "diarisation_seconds": spent,
    }
    return rows, meta


def run_voices(
    data: Path,
    *,
    count: int,
    tune_seed: int,
    test_seed: int,
    log: Log,
    rescore: Path | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """Enrol the enrollable voices, diarise ``count`` conversations per seed, choose the constants per band
    on ``tune_seed``, report on ``test_seed`` and leaving one tuning conversation out.

    Args:
        rescore: a JSON file an earlier run wrote: score its clusters again without diarising anything.

    Returns:
        (tables, figures).
    """
    import json

    from verbatim.pipeline.voices import (
        DEFAULT_MARGIN,
        DEFAULT_NARROWBAND_THRESHOLD,
        DEFAULT_THRESHOLD,
    )

    if rescore is not None:
        earlier = json.loads(rescore.read_text())
        rows = {name: _rows_from_json(items) for name, items in earlier["clusters"].items()}
        meta = {
            k: earlier[k] for k in ("voices", "enrolled", "conversations_per_seed", "seeds") if k in earlier
        }
        meta["rescored_from"] = str(rescore)
    else:
        rows, meta = _diarised_rows(data, count=count, tune_seed=tune_seed, test_seed=test_seed, log=log)
    seeds = meta.get("seeds", {"tune": tune_seed, "test": test_seed})
    chosen = choose_bands(rows["tune"])
    defaults: Constants = {
        "wideband": (DEFAULT_THRESHOLD, DEFAULT_MARGIN),
        "narrowband": (DEFAULT_NARROWBAND_THRESHOLD, DEFAULT_MARGIN),
    }
    loo, loo_constants = _leave_one_out(rows["tune"])

    def label(constants: Constants) -> str:
        return ", ".join(f"{b[0]} {t}/{m}" for b, (t, m) in constants.items())

    header = [
        "set, constants (w: wideband, n: narrowband threshold/margin)",
        "correct, clusters",
        "correct, speakers",
        "false matches (all)",
        "false, voices absent",
        "wrong name",
    ]
    table: list[list[str]] = [
        _row(f"tune seed {seeds['tune']}, chosen {label(chosen)}", score_bands(rows["tune"], chosen)),
        _row(f"test seed {seeds['test']}, chosen", score_bands(rows["test"], chosen)),
        _row(f"tune seed {seeds['tune']}, defaults {label(defaults)}", score_bands(rows["tune"], defaults)),
        _row(f"test seed {seeds['test']}, defaults", score_bands(rows["test"], defaults)),
        _row(f"tune seed {seeds['tune']}, leave-one-out", loo),
    ]
    for tag in ("phone", "narrowband", "far"):
        for name in ("tune", "test"):
            subset = [r for r in rows[name] if tag in r.tags]
            if subset:
                table.append(_row(f"{name} seed, {tag} only, defaults", score_bands(subset, defaults)))
    tables = [
        format_table(
            "Known voices: speakers named after enrolled voices (simulated conversations, development data)",
            header,
            table,
        ),
        _distribution(rows["tune"] + rows["test"]),
    ]

    def figures_of(counts: dict[str, int]) -> dict[str, Any]:
        return {**counts, **rates(counts)}

    figures: dict[str, Any] = {
        **meta,
        "chosen": {b: {"threshold": t, "margin": m} for b, (t, m) in chosen.items()},
        "defaults": {b: {"threshold": t, "margin": m} for b, (t, m) in defaults.items()},
        "tune": figures_of(score_bands(rows["tune"], chosen)),
        "test": figures_of(score_bands(rows["test"], chosen)),
        "tune_defaults": figures_of(score_bands(rows["tune"], defaults)),
        "test_defaults": figures_of(score_bands(rows["test"], defaults)),
        "leave_one_out": {
            **figures_of(loo),
            "constants": [{b: list(v) for b, v in c.items()} for c in loo_constants],
        },
        "clusters": {name: _rows_to_json(items) for name, items in rows.items()},
    }
    return tables, figures


def _distribution(rows: Sequence[ClusterRow]) -> str:
    """Quantiles of the similarity of a cluster with its own speaker's print and with the best other print."""
    own = [r.similarity[r.truth] for r in rows if r.truth is not None]
    other = [max((s for j, s in enumerate(r.similarity) if j != r.truth), default=-1.0) for r in rows]
    lines = []
    for label, values in (("own voice", own), ("best other voice", other)):
        if values:
            q = np.quantile(values, [0.0, 0.05, 0.5, 0.95, 1.0])
            lines.append([label, str(len(values)), *(f"{x:.3f}" for x in q)])
    return format_table(
        "Cosine similarity of a cluster's centroid with voice prints",
        ["with", "clusters", "min", "5 %", "median", "95 %", "max"],
        lines,
    )
