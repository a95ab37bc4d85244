"""`verbatim voices` and `verbatim transcribe --unit` through the real entry point, on the embedded SQLite
database, with the real models."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import DATA, write_audio

SR = 16000


def run(*args: str, home: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VERBATIM_HOME": str(home)}
    env.pop("VERBATIM_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "verbatim.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _conversation(path: Path) -> Path:
    from verbatim.pipeline.decode import decode, decode_channels

    jfk = decode(DATA / "jfk.flac").samples
    en = decode(DATA / "picovoice_test_en.wav").samples
    other = decode_channels(DATA / "stereo_diarization.wav")[1].samples
    pause = np.zeros(SR // 2, np.float32)
    return write_audio(path, np.concatenate([jfk[: 5 * SR], pause, en, pause, other, pause, jfk[5 * SR :]]))


def test_enrol_name_list_remove_and_audit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = run(
        "voices",
        "add",
        "Dupont",
        str(DATA / "jfk.flac"),
        "--unit",
        "bpf-75",
        "--role",
        "Enquêteur",
        home=home,
    )
    assert added.returncode == 0, added.stderr
    voice_id = added.stdout.strip()
    assert len(voice_id) == 36 and "Enquêteur Dupont" in added.stderr

    short = run("voices", "add", "Martin", str(DATA / "picovoice_test_fr.wav"), "--unit", "bpf-75", home=home)
    assert short.returncode == 1 and "too little speech" in short.stderr and short.stdout == ""
    missing = run("voices", "add", "Martin", str(tmp_path / "nope.wav"), "--unit", "bpf-75", home=home)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + b"\0" * 200)
    bad = run("voices", "add", "Martin", str(junk), "--unit", "bpf-75", home=home)
    assert bad.returncode == 1 and bad.stderr.startswith("verbatim: error:")

    listing = run("voices", "list", "--unit", "bpf-75", "--json", home=home)
    assert listing.returncode == 0, listing.stderr
    assert [(v["id"], v["display"], v["status"]) for v in json.loads(listing.stdout)] == [
        (voice_id, "Enquêteur Dupont", "ready")
    ]  # enrolled at once where the models are
    assert json.loads(run("voices", "list", "--unit", "tj-lyon", "--json", home=home).stdout) == []

    recording = _conversation(tmp_path / "audition.wav")
    done = run("transcribe", str(recording), "--unit", "bpf-75", "--language", "en", "-q", home=home)
    assert done.returncode == 0, done.stderr
    speakers = json.loads(done.stdout)["speakers"]
    named = [s for s in speakers if "voice" in s]
    assert len(named) == 1 and named[0]["name"] == "Enquêteur Dupont"
    assert named[0]["voice"]["id"] == voice_id and named[0]["voice"]["similarity"] >= 0.6
    assert len(speakers) >= 2  # the others keep their ids
    off = run(
        "transcribe", str(recording), "--unit", "bpf-75", "--no-voices", "--language", "en", "-q", home=home
    )
    assert off.returncode == 0, off.stderr
    assert all(
        "voice" not in s and s["name"] != "Enquêteur Dupont" for s in json.loads(off.stdout)["speakers"]
    )

    raw = (home / "verbatim.db").read_bytes()
    assert b"Dupont" not in raw and voice_id.encode() in raw

    removed = run("voices", "remove", "Enquêteur Dupont", "--unit", "bpf-75", home=home)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(run("voices", "list", "--unit", "bpf-75", "--json", home=home).stdout) == []
    again = run("voices", "remove", voice_id, "--unit", "bpf-75", home=home)
    assert again.returncode == 2 and "no voice" in again.stderr

    audit = run("audit", "--unit", "bpf-75", home=home)
    entries = [json.loads(line) for line in audit.stdout.splitlines()]
    details = [e["detail"] for e in entries]
    assert any(d.startswith(f"voices add id={voice_id}") for d in details)
    assert sum(d.startswith(f"voices match id={voice_id} unit=bpf-75 speaker=") for d in details) == 1
    assert f"voices remove id={voice_id} unit=bpf-75" in details
    assert sum(d.startswith("voices list unit=bpf-75") for d in details) == 2
    assert "Dupont" not in audit.stdout
