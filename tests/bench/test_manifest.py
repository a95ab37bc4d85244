"""Default sets and manifest files of the benchmark (no model is run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verbatim.bench.common import BenchError
from verbatim.bench.manifest import Clip, default_clips, limit_per_set, load_manifest, silence_clips

RTTM = (
    "SPEAKER meet 1 0.500 2.000 <NA> <NA> A <NA> <NA>\n"
    "SPEAKER meet 1 2.000 3.000 <NA> <NA> B <NA> <NA>\n"
    "SPEAKER other 1 0.000 1.000 <NA> <NA> C <NA> <NA>\n"
)


def _write_manifest(tmp_path: Path, entries: object) -> Path:
    path = tmp_path / "hearings.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    (tmp_path / "meet.wav").write_bytes(b"RIFF")
    (tmp_path / "meet.rttm").write_text(RTTM, encoding="utf-8")
    (tmp_path / "meet.uem").write_text("meet NA 0.000 30.000\n", encoding="utf-8")
    return tmp_path


def test_load_manifest(files: Path) -> None:
    path = _write_manifest(
        files,
        [
            {"path": "a.wav", "language": "fr", "reference": "Bonjour madame."},
            {"path": "meet.wav", "rttm": "meet.rttm", "uem": [0, 30], "set": "meetings"},
            {"path": "meet.wav", "rttm": "meet.rttm", "uem": "meet.uem", "id": "meet-file-uem"},
        ],
    )
    clips = load_manifest(path)
    assert [c.id for c in clips] == ["hearings/a", "meetings/meet", "hearings/meet-file-uem"]
    asr, diar, diar2 = clips
    assert asr.kind == "asr" and asr.reference == "Bonjour madame." and asr.language == "fr"
    assert Path(asr.path or "") == (files / "a.wav").resolve()
    assert diar.kind == "diarization" and diar.uem == (0.0, 30.0)
    assert diar.rttm == ((0.5, 2.5, "A"), (2.0, 5.0, "B"))  # only this file's turns
    assert diar2.uem == (0.0, 30.0)


def test_worker_view_hides_references(files: Path) -> None:
    clip = load_manifest(_write_manifest(files, [{"path": "a.wav", "reference": "secret"}]))[0]
    assert "secret" not in json.dumps(clip.to_worker())


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"path": "a.wav"}, "non-empty JSON list"),
        ([], "non-empty JSON list"),
        (["a.wav"], "expected an object"),
        ([{"reference": "x"}], "'path'"),
        ([{"path": "nope.wav", "reference": "x"}], "no such recording"),
        ([{"path": "a.wav"}], "exactly one of"),
        ([{"path": "meet.wav", "reference": "x", "rttm": "meet.rttm"}], "exactly one of"),
        ([{"path": "a.wav", "reference": 3}], "reference text"),
        ([{"path": "a.wav", "reference": "x", "uem": [0, 1]}], "only applies"),
        ([{"path": "a.wav", "reference": "x", "speaker": "y"}], "unknown key"),
        ([{"path": "meet.wav", "rttm": "missing.rttm"}], "no such RTTM"),
        ([{"path": "a.wav", "rttm": "meet.rttm"}], "no SPEAKER line for 'a'"),
        ([{"path": "meet.wav", "rttm": "meet.rttm", "uem": [5, 1]}], "'uem' must be"),
        ([{"path": "meet.wav", "rttm": "meet.rttm", "uem": [0, 1, 2]}], "'uem' must be"),
        ([{"path": "a.wav", "reference": "x"}, {"path": "a.wav", "reference": "y"}], "duplicate id"),
    ],
)
def test_manifest_validation(files: Path, entries: object, message: str) -> None:
    with pytest.raises(BenchError, match=message):
        load_manifest(_write_manifest(files, entries))


def test_manifest_not_json(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(BenchError, match="not valid JSON"):
        load_manifest(path)
    with pytest.raises(BenchError, match="cannot read"):
        load_manifest(tmp_path / "absent.json")


def test_limit_per_set() -> None:
    clips = [Clip(id=f"{s}/{i}", set=s, kind="asr", reference="x") for s in ("a", "b") for i in range(3)]
    assert [c.id for c in limit_per_set(clips, 2)] == ["a/0", "a/1", "b/0", "b/1"]
    assert limit_per_set(clips, None) == clips
    with pytest.raises(BenchError):
        limit_per_set(clips, 0)


def test_silence_clips() -> None:
    clips = silence_clips(60.0)
    assert [c.generated for c in clips] == ["silence", "noise"]
    assert all(c.reference == "" and c.duration == 60.0 and c.path is None for c in clips)


def test_unknown_set(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="unknown set"):
        default_clips(tmp_path, ["klingon"])


def test_missing_data_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="fleurs-test-5lang"):
        default_clips(tmp_path, ["fr"])


def test_default_sets_from_a_small_data_tree(tmp_path: Path) -> None:
    # The layout of ../shared/data, with stand-in files (the real folder is not needed by the tests).
    fleurs = tmp_path / "fleurs-test-5lang"
    fleurs.mkdir()
    for lang in ("fr", "en"):
        (fleurs / f"fleurs-{lang}-000.ogg").write_bytes(b"")
        (fleurs / f"fleurs-{lang}-000.txt").write_text(f"texte {lang}\n", encoding="utf-8")
    pico = tmp_path / "picovoice-leopard-multilang"
    pico.mkdir()
    for name in ("test.wav", "test_fr.wav"):
        (pico / name).write_bytes(b"")
    (pico / "references.tsv").write_text(
        "audio_file\tlanguage\ttranscript_with_punctuation\ntest.wav\ten\tMr. Quilter.\n"
        "test_fr.wav\tfr\tSous le consulat.\n",
        encoding="utf-8",
    )
    sppas = tmp_path / "sppas-samples" / "fra"
    sppas.mkdir(parents=True)
    (sppas / "F_1.wav").write_bytes(b"")
    (sppas / "F_1.ref.norm.txt").write_text("hier soir\n", encoding="utf-8")
    fw = tmp_path / "faster-whisper-testdata"
    fw.mkdir()
    (fw / "jfk.flac").write_bytes(b"")
    (fw / "references.tsv").write_text(
        "file\tchannel_or_part\tlanguage\treference_text\treference_kind\n"
        'jfk.flac\tmono-mix\ten\tAnd so, "my" fellow Americans.\tspeech\n',
        encoding="utf-8",
    )
    ami = tmp_path / "pyannote-ami-debug"
    ami.mkdir()
    for subset, names in (("development", ("dev00", "dev01")), ("test", ("tst00", "tst01"))):
        (ami / f"debug.{subset}.rttm").write_text(
            "".join(f"SPEAKER {n} 1 1.0 2.0 <NA> <NA> S{n} <NA> <NA>\n" for n in names), encoding="utf-8"
        )
        (ami / f"debug.{subset}.uem").write_text(
            "".join(f"{n} NA 0.000 30.000\n" for n in names), encoding="utf-8"
        )
        for n in names:
            (ami / f"{n}.wav").write_bytes(b"")

    tcof = tmp_path / "tcof-fr-spontaneous"
    tcof.mkdir()
    (tcof / "talk.wav").write_bytes(b"")
    (tcof / "talk.stm").write_text(
        "talk 1 spk2 1.375 1.534 ouais\ntalk 1 spk1 0.000 1.375 <noise> donc euh c'est pas plus mal\n",
        encoding="utf-8",
    )

    clips = default_clips(tmp_path)
    by_set: dict[str, list[Clip]] = {}
    for clip in clips:
        by_set.setdefault(clip.set, []).append(clip)
    assert list(by_set) == ["fr", "fr-spontaneous", "fr-phone", "en", "multi-speaker", "silence"]
    # STM: segments in time order, tags removed
    assert [c.reference for c in by_set["fr-spontaneous"]] == ["donc euh c'est pas plus mal ouais"]
    # the phone-band set is every French clip again, marked for the worker's phone-line filter
    phone = by_set["fr-phone"]
    assert [c.id.split("/", 1)[1] for c in phone] == [
        c.id.split("/", 1)[1] for c in by_set["fr"] + by_set["fr-spontaneous"]
    ]
    assert all(c.transform == "phone" and c.to_worker()["transform"] == "phone" for c in phone)
    assert [c.id for c in by_set["fr"]] == ["fr/fleurs-fr-000", "fr/picovoice-test_fr", "fr/sppas-F_1"]
    assert [c.reference for c in by_set["fr"]] == ["texte fr", "Sous le consulat.", "hier soir"]
    assert [c.id for c in by_set["en"]] == ["en/jfk", "en/fleurs-en-000", "en/picovoice-test"]
    assert by_set["en"][0].reference == 'And so, "my" fellow Americans.'  # quotes kept as written
    ami_clips = by_set["multi-speaker"]
    assert [c.id.split("/")[1] for c in ami_clips] == ["dev00", "dev01", "tst00", "tst01"]
    assert all(c.kind == "diarization" and c.uem == (0.0, 30.0) and c.rttm for c in ami_clips)
    assert len(by_set["silence"]) == 2
