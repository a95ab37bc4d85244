"""`verbatim models add --kind translation` and `verbatim transcribe --translate-to`, through the real entry
point. The text model is the suite's tiny random one: this proves the CLI plumbing, not quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA
from tests.pipeline.tiny_translation import build_tiny_model

pytestmark = pytest.mark.models


def _run(*args: str, models_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "VERBATIM_MODELS_DIR": str(models_dir)}
    return subprocess.run(
        [sys.executable, "-m", "verbatim.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_registered_text_model_translates_from_the_command_line(tmp_path: Path) -> None:
    from verbatim.ops.settings import get_settings

    whisper = get_settings().models_dir / "whisper-base"  # installed by the session's ASR fixture or here
    if not (whisper / "model.bin").is_file():
        from verbatim.models.store import ModelStore

        ModelStore(get_settings().models_dir).install_builtin()
    models_dir = tmp_path / "models"
    tiny = build_tiny_model(tmp_path / "opus-mt-fr-en-tiny", "marian")

    added = _run("models", "add", str(tiny), "--kind", "translation", models_dir=models_dir)
    assert added.returncode == 0, added.stderr
    listed = json.loads(_run("models", "list", "--json", models_dir=models_dir).stdout)
    assert any(r["name"] == "opus-mt-fr-en-tiny" and r["kind"] == "translation" for r in listed)

    common = (
        "transcribe",
        str(DATA / "picovoice_test_fr.wav"),
        "--no-diarize",
        "--model",
        str(whisper),
        "-q",
    )
    proc = _run(*common, "--language", "fr", "--translate-to", "en", models_dir=models_dir)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    [segment] = doc["segments"]
    assert "consulat" in segment["text"].lower()
    assert segment["translation"]["model"] == "opus-mt-fr-en-tiny"
    assert segment["translation"]["language"] == "en" and segment["translation"]["text"]
    assert doc["models"]["translation:opus-mt-fr-en-tiny"]["family"] == "marian"

    # French is not reachable: no installed model translates into it, and Whisper only into English
    refused = _run(*common, "--language", "en", "--translate-to", "fr", models_dir=models_dir)
    assert refused.returncode == 2 and "into 'fr'" in refused.stderr
