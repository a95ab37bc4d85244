"""Which clips a benchmark runs on: the default sets built from the shared evaluation data, or a manifest.

A manifest file is a JSON list of objects::

    [{"path": "a.wav", "language": "fr", "reference": "le texte lu"},
     {"path": "meeting.wav", "rttm": "meeting.rttm", "uem": [0, 30]},
     {"path": "b.flac", "reference": "...", "set": "hearings", "id": "b1"}]

``path``, ``rttm`` and a ``uem`` given as a file are relative to the manifest's folder. ``uem`` is
``[start, end]`` or a UEM file; ``rttm_id`` picks the file id inside the RTTM/UEM (default: the audio's stem).
An entry with a ``reference`` is scored by WER, one with an ``rttm`` by DER (a reference of ``""`` means
the clip must give no words). ``set`` defaults to the manifest's file stem.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from verbatim.bench.common import BenchError

__all__ = [
    "DEFAULT_SETS",
    "Clip",
    "default_clips",
    "limit_per_set",
    "load_manifest",
    "silence_clips",
]

Kind = Literal["asr", "diarization"]
DEFAULT_SETS = ("fr", "fr-spontaneous", "fr-phone", "en", "multi-speaker", "silence")
SILENCE_SECONDS = 60.0


@dataclass(frozen=True)
class Clip:
    """One benchmark item.

    Attributes:
        id: unique name within the run (``set/stem``).
        set: the set it is reported under.
        kind: ``asr`` (scored by WER) or ``diarization`` (scored by DER).
        path: the recording, or ``None`` for generated audio.
        generated: ``silence`` or ``noise`` for audio made in memory (with ``duration``).
        duration: seconds of generated audio.
        language: the spoken language, when known (information only: every system detects it).
        reference: the words said (``""``: none).
        rttm: reference speaker turns ``[(start, end, speaker)]``.
        uem: scored region (start, end) for DER.
        transform: how the worker alters the decoded audio before a system hears it: ``phone`` (a phone
            line's band: 8 kHz, 300-3400 Hz, back to 16 kHz; see ``bench.worker.phone_band``).
    """

    id: str
    set: str
    kind: Kind
    path: str | None = None
    generated: str | None = None
    duration: float | None = None
    language: str | None = None
    reference: str | None = None
    rttm: tuple[tuple[float, float, str], ...] | None = None
    uem: tuple[float, float] | None = None
    transform: str | None = None

    def to_worker(self) -> dict[str, Any]:
        """What a worker needs to know (no references: workers never see the answers)."""
        return {
            "id": self.id,
            "set": self.set,
            "kind": self.kind,
            "path": self.path,
            "generated": self.generated,
            "duration": self.duration,
            "transform": self.transform,
        }

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- reading references -------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    return " ".join(path.read_text(encoding="utf-8").split())


def _tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _tsv_reference(path: Path, key_column: str, key: str, text_column: str) -> str:
    for row in _tsv(path):
        if row.get(key_column) == key:
            return row[text_column]
    raise BenchError(f"{path}: no row with {key_column} = {key}")


def _rttm_turns(path: Path, file_id: str) -> tuple[tuple[float, float, str], ...]:
    turns: list[tuple[float, float, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0] == "SPEAKER" and fields[1] == file_id:
            onset, length = float(fields[3]), float(fields[4])
            turns.append((onset, onset + length, fields[7]))
    if not turns:
        raise BenchError(f"{path}: no SPEAKER line for '{file_id}'")
    return tuple(sorted(turns))


def _uem_region(path: Path, file_id: str) -> tuple[float, float]:
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == file_id:
            return float(fields[2]), float(fields[3])
    raise BenchError(f"{path}: no region for '{file_id}'")


# --- default sets -------------------------------------------------------------------------------------------


def _require(path: Path) -> Path:
    if not path.exists():
        raise BenchError(f"benchmark data missing: {path}")
    return path


def _fleurs(data: Path, language: str, set_name: str) -> list[Clip]:
    folder = _require(data / "fleurs-test-5lang")
    clips = []
    for audio in sorted(folder.glob(f"fleurs-{language}-*.ogg")):
        clips.append(
            Clip(
                id=f"{set_name}/{audio.stem}",
                set=set_name,
                kind="asr",
                path=str(audio),
                language=language,
                reference=_read_text(_require(audio.with_suffix(".txt"))),
            )
        )
    if not clips:
        raise BenchError(f"{folder}: no fleurs-{language}-*.ogg clip")
    return clips


def _picovoice(data: Path, name: str, language: str, set_name: str) -> Clip:
    folder = _require(data / "picovoice-leopard-multilang")
    audio = _require(folder / name)
    reference = _tsv_reference(folder / "references.tsv", "audio_file", name, "transcript_with_punctuation")
    return Clip(
        id=f"{set_name}/picovoice-{audio.stem}",
        set=set_name,
        kind="asr",
        path=str(audio),
        language=language,
        reference=reference,
    )


def _fr(data: Path) -> list[Clip]:
    clips = _fleurs(data, "fr", "fr")
    clips.append(_picovoice(data, "test_fr.wav", "fr", "fr"))
    # SPPAS samples are GPL-3.0: read here at run time, never copied into the project.
    folder = _require(data / "sppas-samples" / "fra")
    for audio in sorted(folder.glob("*.wav")):
        ref = audio.with_name(audio.stem + ".ref.norm.txt")
        if ref.exists():
            clips.append(
                Clip(
                    id=f"fr/sppas-{audio.stem}",
                    set="fr",
                    kind="asr",
                    path=str(audio),
                    language="fr",
                    reference=_read_text(ref),
                )
            )
    return clips


_STM_TAG = re.compile(r"<[^>]*>")


def _stm_reference(path: Path) -> str:
    """The words of an STM file, in time order, without its ``<noise>``-style tags."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) >= 5 and not line.startswith(";;"):
            text = fields[5] if len(fields) > 5 else ""
            rows.append((float(fields[3]), _STM_TAG.sub(" ", text)))
    return " ".join(" ".join(text for _, text in sorted(rows)).split())


def _spontaneous(data: Path) -> list[Clip]:
    # TCOF is CC BY-NC-SA: read here at run time to measure, never copied into the project.
    folder = _require(data / "tcof-fr-spontaneous")
    clips = [
        Clip(
            id=f"fr-spontaneous/tcof-{audio.stem}",
            set="fr-spontaneous",
            kind="asr",
            path=str(audio),
            language="fr",
            reference=_stm_reference(_require(audio.with_suffix(".stm"))),
        )
        for audio in sorted(folder.glob("*.wav"))
    ]
    if not clips:
        raise BenchError(f"{folder}: no .wav clip")
    return clips


def _phone(data: Path) -> list[Clip]:
    """The French sets (read and spontaneous) as heard through a phone line."""
    return [
        replace(c, id=f"fr-phone/{c.id.split('/', 1)[1]}", set="fr-phone", transform="phone")
        for c in _fr(data) + _spontaneous(data)
    ]


def _en(data: Path) -> list[Clip]:
    folder = _require(data / "faster-whisper-testdata")
    jfk = _require(folder / "jfk.flac")
    clips = [
        Clip(
            id="en/jfk",
            set="en",
            kind="asr",
            path=str(jfk),
            language="en",
            reference=_tsv_reference(folder / "references.tsv", "file", "jfk.flac", "reference_text"),
        )
    ]
    clips += _fleurs(data, "en", "en")
    clips.append(_picovoice(data, "test.wav", "en", "en"))
    return clips


def _ami(data: Path) -> list[Clip]:
    folder = _require(data / "pyannote-ami-debug")
    clips = []
    for subset, names in (("development", ("dev00", "dev01")), ("test", ("tst00", "tst01"))):
        rttm = _require(folder / f"debug.{subset}.rttm")
        uem = _require(folder / f"debug.{subset}.uem")
        for name in names:
            clips.append(
                Clip(
                    id=f"multi-speaker/{name}",
                    set="multi-speaker",
                    kind="diarization",
                    path=str(_require(folder / f"{name}.wav")),
                    rttm=_rttm_turns(rttm, name),
                    uem=_uem_region(uem, name),
                )
            )
    return clips


def silence_clips(seconds: float = SILENCE_SECONDS) -> list[Clip]:
    """Digital silence and low noise, generated in memory by the workers: any word is an error."""
    return [
        Clip(
            id=f"silence/{kind}-{seconds:g}s",
            set="silence",
            kind="asr",
            generated=kind,
            duration=seconds,
            reference="",
        )
        for kind in ("silence", "noise")
    ]


def default_clips(data: Path, sets: Sequence[str] = DEFAULT_SETS) -> list[Clip]:
    """The default benchmark sets read from the shared evaluation folder.

    Raises:
        BenchError: an unknown set name or missing data.
    """
    builders: dict[str, Callable[[Path], list[Clip]]] = {
        "fr": _fr,
        "fr-spontaneous": _spontaneous,
        "fr-phone": _phone,
        "en": _en,
        "multi-speaker": _ami,
        "silence": lambda _data: silence_clips(),
    }
    unknown = [s for s in sets if s not in builders]
    if unknown:
        raise BenchError(f"unknown set(s) {', '.join(unknown)}; the default sets are {', '.join(builders)}.")
    clips: list[Clip] = []
    for name in sets:
        clips += builders[name](data)
    return clips


def limit_per_set(clips: Iterable[Clip], limit: int | None) -> list[Clip]:
    """The first ``limit`` clips of each set (all when ``limit`` is None)."""
    if limit is None:
        return list(clips)
    if limit < 1:
        raise BenchError("--limit must be at least 1")
    counts: dict[str, int] = {}
    out = []
    for clip in clips:
        if counts.get(clip.set, 0) < limit:
            counts[clip.set] = counts.get(clip.set, 0) + 1
            out.append(clip)
    return out


# --- manifest files -----------------------------------------------------------------------------------------

_KNOWN_KEYS = {"path", "language", "reference", "rttm", "rttm_id", "uem", "set", "id"}


def load_manifest(path: Path) -> list[Clip]:
    """Read and validate a manifest file (format in the module docstring).

    Raises:
        BenchError: unreadable JSON, or an entry that cannot be scored; the message names the entry.
    """
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BenchError(f"cannot read manifest {path}: {e}") from e
    except ValueError as e:
        raise BenchError(f"manifest {path} is not valid JSON: {e}") from e
    if not isinstance(entries, list) or not entries:
        raise BenchError(f"manifest {path} must be a non-empty JSON list of clips")
    base = path.parent
    clips: list[Clip] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        clip = _manifest_clip(entry, base, path.stem, f"{path}: entry {index}")
        if clip.id in seen:
            raise BenchError(
                f"{path}: entry {index}: duplicate id '{clip.id}' (give each entry its own 'id')"
            )
        seen.add(clip.id)
        clips.append(clip)
    return clips


def _manifest_clip(entry: Any, base: Path, default_set: str, where: str) -> Clip:
    if not isinstance(entry, dict):
        raise BenchError(f"{where}: expected an object, got {type(entry).__name__}")
    unknown = set(entry) - _KNOWN_KEYS
    if unknown:
        raise BenchError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_KNOWN_KEYS))}"
        )
    if not isinstance(entry.get("path"), str):
        raise BenchError(f"{where}: 'path' (the recording) is required")
    audio = (base / entry["path"]).resolve()
    if not audio.is_file():
        raise BenchError(f"{where}: no such recording {audio}")
    has_ref, has_rttm = "reference" in entry, "rttm" in entry
    if has_ref == has_rttm:
        raise BenchError(f"{where}: give exactly one of 'reference' (WER) or 'rttm' (DER)")
    set_name = str(entry.get("set") or default_set)
    clip_id = f"{set_name}/{entry.get('id') or audio.stem}"
    language = entry.get("language")
    if language is not None and not isinstance(language, str):
        raise BenchError(f"{where}: 'language' must be a string such as 'fr'")
    if has_ref:
        if not isinstance(entry["reference"], str):
            raise BenchError(f"{where}: 'reference' must be the reference text")
        if "uem" in entry:
            raise BenchError(f"{where}: 'uem' only applies to an 'rttm' entry")
        return Clip(
            id=clip_id,
            set=set_name,
            kind="asr",
            path=str(audio),
            language=language,
            reference=entry["reference"],
        )
    file_id = str(entry.get("rttm_id") or audio.stem)
    rttm = (base / str(entry["rttm"])).resolve()
    if not rttm.is_file():
        raise BenchError(f"{where}: no such RTTM file {rttm}")
    uem = _manifest_uem(entry.get("uem"), base, file_id, where)
    return Clip(
        id=clip_id,
        set=set_name,
        kind="diarization",
        path=str(audio),
        language=language,
        rttm=_rttm_turns(rttm, file_id),
        uem=uem,
    )


def _manifest_uem(value: Any, base: Path, file_id: str, where: str) -> tuple[float, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        uem_path = (base / value).resolve()
        if not uem_path.is_file():
            raise BenchError(f"{where}: no such UEM file {uem_path}")
        return _uem_region(uem_path, file_id)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        start, end = float(value[0]), float(value[1])
        if math.isfinite(start) and math.isfinite(end) and 0 <= start < end:
            return start, end
    raise BenchError(f"{where}: 'uem' must be [start, end] with 0 <= start < end, or a UEM file")
