"""The `verbatim` command through its real entry point (a subprocess), as a user runs it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA

pytestmark = pytest.mark.models


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "verbatim.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=600,
    )


def test_json_on_stdout_traces_the_recording_and_model() -> None:
    proc = run("transcribe", str(DATA / "jfk.flac"), "--no-diarize", "--language", "en")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "verbatim.transcript/1"
    assert doc["audio"]["sha256"] == hashlib.sha256((DATA / "jfk.flac").read_bytes()).hexdigest()
    assert doc["audio"]["filename"] == "jfk.flac"
    assert (
        doc["models"]["asr"]["sha256"] == "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
    )
    text = " ".join(s["text"] for s in doc["segments"]).lower()
    assert "ask not what your country can do for you" in text.replace(",", "")
    assert all(w["start"] <= w["end"] for s in doc["segments"] for w in s["words"])


def test_several_inputs_into_a_directory(tmp_path: Path) -> None:
    second = tmp_path / "copie de jfk.flac"
    shutil.copy(DATA / "jfk.flac", second)
    out = tmp_path / "out"
    proc = run(
        "transcribe", str(DATA / "jfk.flac"), str(DATA / "picovoice_test_fr.wav"), str(second),
        "--no-diarize", "-f", "srt", "-o", str(out), "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["copie de jfk.srt", "jfk.srt", "picovoice_test_fr.srt"]
    srt = (out / "picovoice_test_fr.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:0") and "consulat" in srt.lower()
    assert not list(out.glob(".*partial"))


def test_split_channels_give_one_speaker_per_microphone() -> None:
    proc = run("transcribe", str(DATA / "stereo_diarization.wav"), "--channels", "split", "-f", "txt", "-q")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert any("S1 :" in line and "wizard" in line.lower() for line in lines)
    assert any("S2 :" in line and "horizon" in line.lower() for line in lines)


def test_one_bad_file_among_good_ones_still_writes_the_good_ones(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 10)
    out = tmp_path / "out"
    proc = run(
        "transcribe", str(broken), str(DATA / "jfk.flac"), "--no-diarize", "-f", "txt", "-o", str(out), "-q"
    )
    assert proc.returncode == 1
    assert "broken.wav" in proc.stderr
    assert (out / "jfk.txt").read_text(encoding="utf-8").strip()
    assert not (out / "broken.txt").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["transcribe", "/definitely/not/here.wav"], 2, "no such file"),
        (["transcribe", "{jfk}", "--language", "klingon"], 2, "Unknown language 'klingon'"),
        (["transcribe", "{jfk}", "--model", "large-v9", "--no-diarize"], 1, "Unknown asr model 'large-v9'"),
        (["transcribe", "{jfk}", "--format", "rtf"], 2, "unknown format 'rtf'"),
        (["transcribe", "{jfk}", "--format", "pdf"], 2, "PDF is binary: give -o FILE.pdf"),
        (["transcribe", "{jfk}", "--hearing-date", "hier"], 2, "hearing_date"),
        (
            ["transcribe", "{jfk}", "--task", "summarize"],
            2,
            "task: Input should be 'transcribe' or 'translate'",
        ),
        (["transcribe", "{jfk}", "--num-speakers", "0"], 2, "speaker"),
        (["transcribe", "{empty}"], 1, "empty"),
        (["transcribe", "{text}", "--no-diarize"], 1, "not a readable audio"),
    ],
)
def test_bad_input_gives_one_actionable_line(
    tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "notes.mp3").write_text("procès-verbal\n" * 40, encoding="utf-8")
    subs = {
        "{jfk}": str(DATA / "jfk.flac"),
        "{empty}": str(tmp_path / "empty.wav"),
        "{text}": str(tmp_path / "notes.mp3"),
    }
    proc = run(*[subs.get(a, a) for a in args])
    assert proc.returncode == code, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("verbatim: error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_models_list_json_and_verify() -> None:
    installed = run("models", "install")
    assert installed.returncode == 0, installed.stderr
    proc = run("models", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    base = next(r for r in rows if r["name"] == "whisper-base")
    assert base["installed"] is True
    assert {r["kind"] for r in rows} >= {"asr", "diarization"}
    assert (
        base["kind"] == "asr"
        and base["sha256"] == "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
    )
    verify = run("models", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "whisper-base" in verify.stdout and "OK" in verify.stdout


def test_docx_carries_case_fields_hash_and_text(tmp_path: Path) -> None:
    import docx

    out = tmp_path / "pv.docx"
    proc = run(
        "transcribe", str(DATA / "jfk.flac"), "--no-diarize", "-f", "docx", "-o", str(out),
        "--field", "Procédure=2026/00042", "--field", "Service=Brigade de protection des familles", "-q",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    document = docx.Document(str(out))
    cells = " ".join(cell.text for table in document.tables for row in table.rows for cell in row.cells)
    body = " ".join(p.text for p in document.paragraphs)
    assert "2026/00042" in cells and "Brigade de protection des familles" in cells
    assert hashlib.sha256((DATA / "jfk.flac").read_bytes()).hexdigest() in cells
    assert "fellow Americans" in body


def test_pdf_from_the_cli_has_the_case_on_every_page(tmp_path: Path) -> None:
    from pypdf import PdfReader

    out = tmp_path / "pv.pdf"
    proc = run(
        "transcribe", str(DATA / "jfk.flac"), "--no-diarize", "-f", "pdf", "-o", str(out), "-q",
        "--case-number", "2026/00042", "--hearing-place", "Lyon", "--hearing-date", "2026-11-29",
        "--persons-present", "Mme Durand (greffière)", "--persons-present", "M. Martin (témoin)",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    pages = PdfReader(str(out)).pages
    text = " ".join(page.extract_text() or "" for page in pages)
    assert all("Procédure n° 2026/00042" in (page.extract_text() or "") for page in pages)
    assert "Mme Durand (greffière)" in text and "M. Martin (témoin)" in text
    assert "29/11/2026" in text and "fellow" in text and "Langue" in text and "anglais" in text


def test_malformed_case_field_is_a_usage_error() -> None:
    proc = run("transcribe", str(DATA / "jfk.flac"), "--field", "no-equals-sign")
    assert proc.returncode == 2 and "LABEL=VALUE" in proc.stderr


def test_verify_tells_whether_a_transcript_belongs_to_a_recording(tmp_path: Path) -> None:
    out = tmp_path / "jfk.json"
    proc = run("transcribe", str(DATA / "jfk.flac"), "--no-diarize", "-o", str(out), "-q")
    assert proc.returncode == 0, proc.stderr
    match = run("verify", str(DATA / "jfk.flac"), str(out))
    assert match.returncode == 0 and match.stdout.startswith("MATCH") and "asr=905e5bf8336b" in match.stdout
    altered = tmp_path / "jfk-altered.flac"
    altered.write_bytes((DATA / "jfk.flac").read_bytes() + b"\x00")
    mismatch = run("verify", str(altered), str(out))
    assert mismatch.returncode == 1 and mismatch.stdout.startswith("MISMATCH")
    not_json = run("verify", str(DATA / "jfk.flac"), str(DATA / "jfk.flac"))
    assert not_json.returncode == 2 and "not a verbatim transcript" in not_json.stderr


def test_vocabulary_prompt_and_languages_from_the_command_line(tmp_path: Path) -> None:
    vocabulary = tmp_path / "affaire.txt"
    vocabulary.write_text("# noms de l'affaire\nUSOC\n\nMashhad  # un lieu\n", encoding="utf-8")
    proc = run(
        "transcribe", str(DATA / "picovoice_test_fr.wav"), "--no-diarize", "--quiet",
        "--vocabulary", str(vocabulary), "--prompt", "Audition du consul.", "--languages", "fr,en",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    asr = doc["models"]["asr"]
    assert asr["prompt"] == "USOC, Mashhad. Audition du consul."  # recorded with the transcript
    assert asr["languages"] == "fr,en"
    assert {s["language"] for s in doc["segments"]} <= {"fr", "en"}
    bad = run("transcribe", str(DATA / "picovoice_test_fr.wav"), "--languages", "fr,xx")
    assert bad.returncode == 2 and "languages" in bad.stderr
    missing = run("transcribe", str(DATA / "picovoice_test_fr.wav"), "--vocabulary", str(tmp_path / "no.txt"))
    assert missing.returncode == 2 and "vocabulary" in missing.stderr
