"""`verbatim pseudonymize FILE` through the real entry point, on a text file and a transcript JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verbatim.anonymize.crypto import decrypt_document
from verbatim.pipeline.export import transcript_to_dict
from verbatim.pipeline.types import Segment, Transcript, Word

pytestmark = pytest.mark.models  # loads spaCy's French model

TEXT = (
    "Audition de Julie Martin par le brigadier Lefort.\n"
    "Je m'appelle Julie Martin. Mon beau-père Kévin Dubois m'a frappée.\n"
    "Maman m'appelle au zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit.\n"
)


def run(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VERBATIM_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "verbatim", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_text_file_copy_spans_and_encrypted_table(tmp_path: Path) -> None:
    source = tmp_path / "audition.txt"
    source.write_text(TEXT, encoding="utf-8")
    table = tmp_path / "table.json"
    proc = run("pseudonymize", str(source), "--mapping", str(table), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in ("Julie", "Martin", "Kévin", "Dubois", "zéro six"):
        assert name not in proc.stdout
    assert "brigadier Lefort" in proc.stdout and "Maman" in proc.stdout
    assert "Julie" not in proc.stderr
    assert b"Julie" not in table.read_bytes()
    key_file = tmp_path / "pseudonymization.key"
    key = __import__("base64").urlsafe_b64decode(key_file.read_text().strip())
    entries = decrypt_document(key, table.read_bytes())["entries"]
    assert any("Julie" in e["originals"] for e in entries)


def test_spans_of_a_text_file(tmp_path: Path) -> None:
    from verbatim.anonymize import get_policy
    from verbatim.anonymize.command import pseudonymize_file

    source = tmp_path / "audition.txt"
    source.write_text(TEXT, encoding="utf-8")
    result = pseudonymize_file(source, get_policy("hearing"), fmt=None, spans=True, language="fr", key=None)
    found = json.loads(result.content)
    assert {"start", "end", "category", "text"} <= set(found[0])
    assert all(TEXT[s["start"] : s["end"]] == s["text"] for s in found)
    assert {"PER", "PHONE"} <= {s["category"] for s in found}


def test_transcript_json(tmp_path: Path) -> None:
    words = tuple(
        Word(0.5 * i, 0.5 * i + 0.4, (" " if i else "") + w, 0.9)
        for i, w in enumerate(["Je", "m'appelle", "Julie", "Martin."])
    )
    transcript = Transcript(
        language="fr", duration=3.0,
        segments=(Segment(0, 0.0, 2.0, "Je m'appelle Julie Martin.", words, "SPEAKER_00", "fr"),),
        audio_sha256="ab" * 32, filename="julie.wav", speakers={"SPEAKER_00": "SPEAKER_00"},
    )  # fmt: skip
    source = tmp_path / "t.json"
    source.write_text(json.dumps(transcript_to_dict(transcript)), encoding="utf-8")
    proc = run("pseudonymize", str(source), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["pseudonymization"]["policy"] == "hearing"
    assert "Julie" not in proc.stdout and document["audio"]["filename"] == ""


def test_bad_policy_and_missing_file_are_usage_errors(tmp_path: Path) -> None:
    source = tmp_path / "a.txt"
    source.write_text("bonjour", encoding="utf-8")
    assert run("pseudonymize", str(source), "--policy", "nope", home=tmp_path).returncode == 2
    assert run("pseudonymize", str(tmp_path / "missing.txt"), home=tmp_path).returncode == 2
