from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import pytest

from verbatim.digest import sha256_file
from verbatim.errors import ModelIntegrityError, ModelNotFoundError
from verbatim.models import store as store_mod
from verbatim.models.store import BUILTIN_ASR, ModelStore


def _fake_ct2(path: Path, payload: bytes = b"weights") -> Path:
    path.mkdir(parents=True)
    (path / "model.bin").write_bytes(payload)
    (path / "config.json").write_text("{}")
    (path / "tokenizer.json").write_text("{}")
    return path


def test_builtin_install_joins_parts_and_checks_published_hash(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ref = store.install_builtin()
    assert ref.installed and ref.source == "builtin"
    assert sha256_file(ref.path / "model.bin") == BUILTIN_ASR.sha256
    assert {p.name for p in ref.path.iterdir()} >= {
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.json",
    }
    assert store.resolve("whisper-base").path == ref.path


def test_builtin_install_refuses_a_mismatch_and_installs_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_mod, "BUILTIN_ASR", dataclasses.replace(BUILTIN_ASR, sha256="0" * 64))
    store = ModelStore(tmp_path)
    with pytest.raises(ModelIntegrityError, match="refusing"):
        store.install_builtin()
    assert not (tmp_path / "whisper-base").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".install-")]


def test_tampered_installed_model_is_refused(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    ref = store.install_builtin()
    with (ref.path / "model.bin").open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"\x00\x01\x02\x03")
    os.utime(ref.path / "model.bin", ns=(1, 1))  # a changed mtime invalidates the hash cache
    with pytest.raises(ModelIntegrityError, match="modified or corrupted"):
        store.resolve("whisper-base")
    bad = [row for row in store.verify() if not row[1]]
    assert bad and bad[0][0].name == "whisper-base"
    assert store.install_builtin(force=True).installed  # --force repairs it
    assert all(ok for _, ok, _ in store.verify())


def test_model_by_path_and_registration(tmp_path: Path) -> None:
    model = _fake_ct2(tmp_path / "large-v3", b"big weights")
    store = ModelStore(tmp_path / "store")
    ref = store.resolve(str(model))
    assert ref.sha256 == hashlib.sha256(b"big weights").hexdigest()
    added = store.add(model, kind="asr", name="large")
    assert store.resolve("large").path == model
    assert [r.name for r in store.list_models()] == ["whisper-base", "large"]
    assert added.identity()["sha256"] == ref.sha256
    # a registered model whose weights change is refused until registered again
    (model / "model.bin").write_bytes(b"other weights")
    with pytest.raises(ModelIntegrityError, match="changed"):
        store.resolve("large")


def test_unknown_model_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="Known: whisper-base"):
        ModelStore(tmp_path).resolve("large-v9")


def test_directory_without_weights_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no model\.bin"):
        ModelStore(tmp_path / "s").add(tmp_path / "empty", kind="asr")


def test_asr_directory_needs_tokenizer(tmp_path: Path) -> None:
    model = _fake_ct2(tmp_path / "m")
    (model / "tokenizer.json").unlink()
    with pytest.raises(ModelNotFoundError, match="tokenizer"):
        ModelStore(tmp_path / "s").resolve(str(model))
