"""Whisper's languages: a constant full from the first import, that matches the installed model."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from verbatim.models.store import ModelStore
from verbatim.ops.settings import get_settings
from verbatim.pipeline.languages import SUPPORTED_LANGUAGES, WHISPER_LANGUAGES


def test_the_languages_are_there_for_an_early_importer() -> None:
    code = "from verbatim.pipeline.asr import SUPPORTED_LANGUAGES as s; print(len(s), 'fr' in s, 'xx' in s)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == [str(len(WHISPER_LANGUAGES)), "True", "False"]
    assert len(SUPPORTED_LANGUAGES) == len(WHISPER_LANGUAGES)  # no duplicate


@pytest.mark.models
def test_every_language_token_of_the_installed_model_is_listed() -> None:
    settings = get_settings()
    model = ModelStore(settings.models_dir).resolve(settings.asr.model, kind="asr")
    vocabulary = json.loads((model.path / "tokenizer.json").read_text(encoding="utf-8"))["added_tokens"]
    # language tokens come first among the special tokens, between <|startoftranscript|> and <|translate|>
    tokens = [t["content"] for t in vocabulary]
    start, end = tokens.index("<|startoftranscript|>"), tokens.index("<|translate|>")
    codes = [re.fullmatch(r"<\|(\w+)\|>", t).group(1) for t in tokens[start + 1 : end]]  # type: ignore[union-attr]
    assert set(codes) <= SUPPORTED_LANGUAGES
    assert SUPPORTED_LANGUAGES - set(codes) <= {"yue"}  # Cantonese came with large-v3
