"""Helpers shared by every benchmark suite: WER text normalisation and scoring, running a system in its own
process with its peak memory, tables, JSON output, locating the evaluation data.

Nothing here imports a model library: ``import verbatim.bench.cli`` stays light.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = [
    "BenchError",
    "WerScore",
    "WorkerResult",
    "corpus_wer",
    "default_json_path",
    "format_table",
    "normalize_text",
    "pair_order",
    "ratio",
    "resolve_data_dir",
    "run_worker",
    "stage_seconds",
    "write_json",
]


class BenchError(Exception):
    """A benchmark that cannot run as asked (missing data, bad manifest, a worker that failed)."""


# --- text normalisation and WER -----------------------------------------------------------------------------

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "´": "'"})
# French elision before a quotation: qu’« on » -> qu'on, as a transcriber writes it without the quote mark.
_ELISION_QUOTE = re.compile(r"(\w)'\s*[«»“”„‹›\"]\s*(?=\w)")


NUMBER_LANGUAGES = frozenset({"fr", "en", "es", "pt", "de", "nl", "da", "it"})
"""Languages whose spelled numbers are written as digits before scoring (text2num's ``alpha2digit``)."""

FILLERS: dict[str, frozenset[str]] = {
    "fr": frozenset({"euh", "euhm", "heu", "hum", "hm", "hmm", "mh", "mhm", "mm", "mmh"}),
    "en": frozenset({"uh", "um", "umm", "hm", "hmm", "mh", "mhm", "mm", "mmm"}),
}
"""Hesitation sounds per language, dropped from every text only when asked (``drop_fillers``): a
transcriber writes them, Whisper mostly does not. Words that carry meaning ("ben", "bah", "eh") are not
among them."""

# Digit groups of a number written with a space as thousands separator ("1 000", "10 000 000").
_DIGIT_GROUPS = re.compile(r"\b\d{1,3}(?:[ \u00a0\u202f]\d{3})+\b")


def _numbers_as_digits(text: str, language: str) -> str:
    """Spelled numbers as digits ("vingt-deux" -> "22", "mille neuf cent" -> "1900"), the way text2num
    reads them (small numbers such as "un", "deux" stay words: they are articles and pronouns too), and a
    number written with thousands separators as one token ("1 000" -> "1000")."""
    from text_to_num import alpha2digit

    text = _DIGIT_GROUPS.sub(lambda m: re.sub(r"\s", "", m.group(0)), text)
    try:
        return str(alpha2digit(text, language))
    except ValueError:  # a language text2num does not know after all
        return text


def normalize_text(text: str, language: str | None = None, *, drop_fillers: bool = False) -> str:
    """Normalise a hypothesis or a reference before WER, the same way for both.

    NFC, lower case, typographic apostrophes to ``'``, punctuation and symbols replaced by spaces (an
    apostrophe inside a word is kept: ``l'accident`` stays one token; hyphens split ``états-unis`` in two),
    whitespace collapsed. With ``language`` one of :data:`NUMBER_LANGUAGES`, spelled numbers become digits
    first (a reference that writes "dix-sept" where Whisper writes "17" is no error, as Whisper's own
    English normaliser does); with ``drop_fillers``, the language's hesitation sounds (:data:`FILLERS`)
    are removed.

    Args:
        text: any transcript text.
        language: the spoken language (ISO 639-1), when known.
        drop_fillers: remove hesitation sounds ("euh", "hum").

    Returns:
        Space-separated lower-case tokens ('' for no words).
    """
    text = unicodedata.normalize("NFC", text).lower().translate(_APOSTROPHES)
    text = _ELISION_QUOTE.sub(r"\1'", text)
    if language in NUMBER_LANGUAGES:
        text = _numbers_as_digits(text, language)
    out: list[str] = []
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if ch == "'":
            inside = 0 < i < len(text) - 1 and text[i - 1].isalnum() and text[i + 1].isalnum()
            out.append(ch if inside else " ")
        elif category[0] in "PS":
            out.append(" ")
        else:
            out.append(ch)
    tokens = "".join(out).split()
    if drop_fillers:
        fillers = FILLERS.get(language or "", frozenset()) or frozenset().union(*FILLERS.values())
        tokens = [t for t in tokens if t not in fillers]
    return " ".join(tokens)


@dataclass(frozen=True)
class WerScore:
    """Word errors of a set of clips, summed over clips (corpus WER, not a mean of per-clip WERs).

    Attributes:
        substitutions / deletions / insertions: error counts.
        reference_words: words in the normalised references.
        hypothesis_words: words in the normalised hypotheses.
    """

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    reference_words: int = 0
    hypothesis_words: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        """errors / reference words; ``nan`` without reference words."""
        return self.errors / self.reference_words if self.reference_words else math.nan

    def __add__(self, other: WerScore) -> WerScore:
        return WerScore(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_words + other.reference_words,
            self.hypothesis_words + other.hypothesis_words,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "wer": _finite(self.wer),
            "errors": self.errors,
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "reference_words": self.reference_words,
            "hypothesis_words": self.hypothesis_words,
        }


def clip_wer(
    reference: str, hypothesis: str, language: str | None = None, *, drop_fillers: bool = False
) -> WerScore:
    """Word errors of one clip after :func:`normalize_text` on both sides (the same ``language`` and
    ``drop_fillers`` for both).

    An empty reference scores every hypothesis word as an insertion (the silence set).
    """
    ref = normalize_text(reference, language, drop_fillers=drop_fillers)
    hyp = normalize_text(hypothesis, language, drop_fillers=drop_fillers)
    ref_n, hyp_n = len(ref.split()), len(hyp.split())
    if not ref_n or not hyp_n:
        return WerScore(0, ref_n, hyp_n, ref_n, hyp_n)
    import jiwer

    out = jiwer.process_words(ref, hyp)
    return WerScore(out.substitutions, out.deletions, out.insertions, ref_n, hyp_n)


def corpus_wer(pairs: Iterable[tuple[str, str]]) -> WerScore:
    """Summed word errors over ``(reference, hypothesis)`` pairs."""
    total = WerScore()
    for reference, hypothesis in pairs:
        total = total + clip_wer(reference, hypothesis)
    return total


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``; ``None`` when either is missing or the denominator is 0 or not finite."""
    if numerator is None or denominator is None:
        return None
    if not math.isfinite(numerator) or not math.isfinite(denominator) or denominator == 0:
        return None
    return numerator / denominator


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# --- a system in its own process ----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerResult:
    """What a worker process wrote, with what the parent saw of it.

    Attributes:
        data: the worker's JSON output.
        wall_s: wall time of the whole process (imports and loads included).
        peak_rss_mb: the worker's own peak resident memory (``getrusage(RUSAGE_SELF)``), as it reported it.
    """

    data: dict[str, Any]
    wall_s: float
    peak_rss_mb: float


def run_worker(
    system: str,
    manifest: Path,
    out: Path,
    *,
    extra: Sequence[str] = (),
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> WorkerResult:
    """Run ``python -m verbatim.bench.worker SYSTEM MANIFEST OUT`` and read its result.

    One process per system: its peak RSS is that system's alone (models, buffers, allocator), not the sum of
    everything the benchmark loaded before. The worker's stderr (progress) is passed through.

    Raises:
        BenchError: the worker failed or wrote no result.
    """
    command = [sys.executable, "-m", "verbatim.bench.worker", system, str(manifest), str(out), *extra]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, env={**os.environ, **(env or {})}, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"worker '{system}' ran past {timeout:.0f} s") from e
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        raise BenchError(f"worker '{system}' failed (exit {completed.returncode}); see its messages above.")
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise BenchError(f"worker '{system}' wrote no readable result to {out}") from e
    return WorkerResult(data=data, wall_s=wall, peak_rss_mb=float(data.get("peak_rss_mb", math.nan)))


def pair_order(index: int) -> tuple[str, str]:
    """Who runs first on the ``index``-th clip of an interleaved run: ours and plain in turn, so neither
    always meets the warmer cache or the calmer moment of the machine."""
    return ("ours", "plain") if index % 2 == 0 else ("plain", "ours")


def stage_seconds(changes: Sequence[tuple[str, float]], start: float, end: float) -> dict[str, float]:
    """Seconds spent in each stage of a run, from the moments its progress reports changed stage.

    Each stretch between two changes goes to the stage that reported at its start (a stage reports as it
    starts and as it works); the stretch before the first report goes to ``other``. The values add up to
    ``end - start``, a stage met twice (transcribe, languages, transcribe again) is summed.

    Args:
        changes: ``(stage, time)`` each time the reporting stage changed, in time order.
        start: when the run started.
        end: when it ended.
    """
    out: dict[str, float] = {}
    marks = [("other", start), *[(step, min(max(t, start), end)) for step, t in changes], ("", end)]
    for (step, begin), (_, until) in pairwise(marks):
        if until > begin:
            out[step] = out.get(step, 0.0) + (until - begin)
    return out


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB (Linux reports ``ru_maxrss`` in KiB, macOS in bytes)."""
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


# --- output -------------------------------------------------------------------------------------------------


def fmt(value: object, digits: int = 3) -> str:
    """A table cell: floats rounded, ``None``/nan as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)


def format_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (fixed-width columns; numbers right-aligned) that reads well in a log or report."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    numeric = [all(_looks_numeric(r[i]) for r in cells) and bool(cells) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric, strict=True)
        )

    rule = "-" * len(line(list(header)))
    body = [line(r) for r in cells]
    return "\n".join([title, rule, line(list(header)), rule, *body, rule])


def _looks_numeric(cell: str) -> bool:
    if cell in ("-", ""):
        return True
    try:
        float(cell.rstrip("x%"))
    except ValueError:
        return False
    return True


def _json_default(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _clean(value: Any) -> Any:
    """nan/inf become null (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented strict JSON (non-finite floats as null), creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(_clean(data), indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8"
    )
    return path


def default_json_path(suite: str, now: datetime | None = None) -> Path:
    """``bench-results/<suite>-<timestamp>.json`` under the current directory."""
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path("bench-results") / f"{suite}-{stamp}.json"


# --- data ---------------------------------------------------------------------------------------------------


def repo_root() -> Path:
    """The checkout this package lives in (``verbatim/bench/common.py`` -> two folders up)."""
    return Path(__file__).resolve().parents[2]


def resolve_data_dir(explicit: Path | None, *, cwd: Path | None = None) -> Path:
    """The evaluation data folder: ``explicit`` (``--data`` or ``VERBATIM_BENCH_DATA``), else
    ``../shared/data`` from the current directory, else from the repository.

    Raises:
        BenchError: no such folder, with the places tried.
    """
    if explicit is not None:
        if explicit.is_dir():
            return explicit.resolve()
        raise BenchError(
            f"benchmark data folder {explicit} does not exist (from --data or VERBATIM_BENCH_DATA)."
        )
    tried = [(cwd or Path.cwd()) / ".." / "shared" / "data", repo_root() / ".." / "shared" / "data"]
    for candidate in tried:
        if candidate.is_dir():
            return candidate.resolve()
    raise BenchError(
        "benchmark data not found; tried "
        + ", ".join(str(p) for p in tried)
        + ". Give --data DIR or set VERBATIM_BENCH_DATA."
    )


def stop_process(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Terminate a child process, killing it if it has not stopped within ``timeout`` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
