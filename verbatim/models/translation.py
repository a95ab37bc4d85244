"""Text-translation model directories: what family they are, which languages they cover, their tokenisers.

An operator converts a model on a machine with internet access (``ct2-transformers-converter``, see the
README) and registers the directory with ``verbatim models add DIR --kind translation``.
Three families are read:

- **NLLB-200**: one shared vocabulary holding language tokens such as ``fra_Latn``; SentencePiece
  ``sentencepiece.bpe.model``.
- **M2M100**: language tokens such as ``__fr__``; SentencePiece ``sentencepiece.bpe.model``
  (or ``spm.model``).
- **Marian / Opus-MT**: one language pair (``opus-mt-fr-en``), or several targets chosen by a ``>>fr<<``
  token; ``source.spm`` and ``target.spm``.

The family and the languages are read from the vocabulary (NLLB, M2M100) or from the directory's name or the
``--languages`` option (Marian), and recorded in the model registry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from verbatim.errors import ModelNotFoundError

__all__ = [
    "FAMILIES",
    "NLLB_CODES",
    "TranslationModelInfo",
    "inspect_translation_dir",
    "read_vocabulary",
]

Family = Literal["nllb", "m2m100", "marian"]
FAMILIES: tuple[Family, ...] = ("nllb", "m2m100", "marian")

NLLB_CODES: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "az": "azj_Latn", "be": "bel_Cyrl",
    "bg": "bul_Cyrl", "bn": "ben_Beng", "bs": "bos_Latn", "ca": "cat_Latn", "cs": "ces_Latn",
    "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn", "el": "ell_Grek", "en": "eng_Latn",
    "es": "spa_Latn", "et": "est_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fr": "fra_Latn",
    "ga": "gle_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn", "he": "heb_Hebr",
    "hi": "hin_Deva", "hr": "hrv_Latn", "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn",
    "is": "isl_Latn", "it": "ita_Latn", "ja": "jpn_Jpan", "ka": "kat_Geor", "kk": "kaz_Cyrl",
    "km": "khm_Khmr", "ko": "kor_Hang", "lt": "lit_Latn", "lv": "lvs_Latn", "mk": "mkd_Cyrl",
    "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn", "my": "mya_Mymr",
    "ne": "npi_Deva", "nl": "nld_Latn", "no": "nob_Latn", "pa": "pan_Guru", "pl": "pol_Latn",
    "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn", "ru": "rus_Cyrl", "sk": "slk_Latn",
    "sl": "slv_Latn", "so": "som_Latn", "sq": "als_Latn", "sr": "srp_Cyrl", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "th": "tha_Thai", "tl": "tgl_Latn",
    "tr": "tur_Latn", "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn", "vi": "vie_Latn",
    "yo": "yor_Latn", "zh": "zho_Hans",
}  # fmt: skip
"""ISO 639-1 (Whisper's codes) -> FLORES-200 code used by NLLB-200."""

_SPM_SHARED = ("sentencepiece.bpe.model", "spm.model", "sentencepiece.model", "tokenizer.model")
_MARIAN_NAME = re.compile(r"opus-mt-([a-z]{2,3})-([a-z]{2,3})(?:\b|_|-|$)", re.IGNORECASE)


@dataclass(frozen=True)
class TranslationModelInfo:
    """A text-translation model directory and what it covers.

    Attributes:
        name: registered name (or the directory's name).
        path: the CTranslate2 directory.
        sha256: hash of its ``model.bin``.
        family: ``nllb``, ``m2m100`` or ``marian``.
        sources / targets: ISO 639-1 codes it translates from / into.
        source_spm / target_spm: SentencePiece model files (the same file for shared vocabularies).
        source: ``registered`` or ``path``.
    """

    name: str
    path: Path
    sha256: str
    family: Family
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    source_spm: Path
    target_spm: Path
    source: str = "registered"

    def covers(self, source: str, target: str) -> bool:
        """Whether the model translates ``source`` into ``target``."""
        return source != target and source in self.sources and target in self.targets

    def identity(self) -> dict[str, str]:
        """What a transcript records about the model."""
        return {
            "name": self.name,
            "kind": "translation",
            "family": self.family,
            "sha256": self.sha256,
            "source": self.source,
        }

    def to_metadata(self) -> dict[str, object]:
        """The registry entry's extra fields."""
        return {
            "family": self.family,
            "sources": list(self.sources),
            "targets": list(self.targets),
            "source_spm": self.source_spm.name,
            "target_spm": self.target_spm.name,
        }

    @staticmethod
    def from_metadata(
        name: str, path: Path, sha256: str, meta: dict[str, object], source: str
    ) -> TranslationModelInfo:
        """Rebuild from a registry entry written by :meth:`to_metadata`.

        Raises:
            ModelNotFoundError: the entry lacks the translation fields (register the model again).
        """
        try:
            family = str(meta["family"])
            sources = tuple(str(x) for x in meta["sources"])  # type: ignore[attr-defined]
            targets = tuple(str(x) for x in meta["targets"])  # type: ignore[attr-defined]
            source_spm, target_spm = str(meta["source_spm"]), str(meta["target_spm"])
        except (KeyError, TypeError) as e:
            raise ModelNotFoundError(
                f"The registry entry of translation model '{name}' lacks its family or languages; "
                f"register it again with `verbatim models add {path} --kind translation`."
            ) from e
        if family not in FAMILIES:
            raise ModelNotFoundError(f"Translation model '{name}' has an unknown family '{family}'.")
        return TranslationModelInfo(
            name,
            path,
            sha256,
            family,
            sources,
            targets,
            path / source_spm,
            path / target_spm,
            source,  # type: ignore[arg-type]
        )


def read_vocabulary(path: Path, side: Literal["source", "target"]) -> list[str]:
    """The tokens of a CTranslate2 translation model's source or target vocabulary.

    Raises:
        ModelNotFoundError: no vocabulary file.
    """
    for stem in ("shared_vocabulary", f"{side}_vocabulary"):
        json_file, txt_file = path / f"{stem}.json", path / f"{stem}.txt"
        if json_file.is_file():
            return [str(t) for t in json.loads(json_file.read_text(encoding="utf-8"))]
        if txt_file.is_file():
            return txt_file.read_text(encoding="utf-8").splitlines()
    raise ModelNotFoundError(
        f"{path} has no shared_vocabulary or {side}_vocabulary file: it is not a CTranslate2 translation "
        "model."
    )


def _spm_files(path: Path) -> tuple[Path, Path]:
    if (path / "source.spm").is_file() and (path / "target.spm").is_file():
        return path / "source.spm", path / "target.spm"
    for name in _SPM_SHARED:
        if (path / name).is_file():
            return path / name, path / name
    models = sorted(path.glob("*.spm")) + sorted(path.glob("*.model"))
    if models:
        return models[0], models[0]
    raise ModelNotFoundError(
        f"{path} has no SentencePiece model (source.spm/target.spm or sentencepiece.bpe.model). Convert with "
        "`ct2-transformers-converter ... --copy_files sentencepiece.bpe.model` (NLLB, M2M100) or "
        "`--copy_files source.spm target.spm` (Marian)."
    )


def inspect_translation_dir(
    path: Path,
    *,
    name: str | None = None,
    sha256: str = "",
    family: str | None = None,
    languages: str | None = None,
    source: str = "registered",
) -> TranslationModelInfo:
    """Read a converted translation model's family, languages and tokenisers.

    Args:
        path: the CTranslate2 directory (``model.bin``, vocabularies, SentencePiece files).
        name: name to record (default: the directory's name).
        sha256: hash of ``model.bin``.
        family: ``nllb``, ``m2m100`` or ``marian``; read from the vocabulary when ``None``.
        languages: ``SRC-TGT`` (several with commas: ``fr-en,en-fr``) for a Marian model whose directory name
            does not say (``opus-mt-fr-en`` does); ignored for NLLB and M2M100, which list their languages.
        source: ``registered`` or ``path``.

    Raises:
        ModelNotFoundError: not a translation model, or its family or languages cannot be told.
    """
    vocab = set(read_vocabulary(path, "target")) | set(read_vocabulary(path, "source"))
    found: str
    if family is None:
        if "eng_Latn" in vocab or "fra_Latn" in vocab:
            found = "nllb"
        elif "__en__" in vocab or "__fr__" in vocab:
            found = "m2m100"
        else:
            found = "marian"
    else:
        found = family
    if found not in FAMILIES:
        raise ModelNotFoundError(f"Unknown translation model family '{family}': use nllb, m2m100 or marian.")
    source_spm, target_spm = _spm_files(path)
    if found == "nllb":
        codes = tuple(sorted(iso for iso, code in NLLB_CODES.items() if code in vocab))
        sources = targets = codes
    elif found == "m2m100":
        codes = tuple(
            sorted(t[2:-2] for t in vocab if len(t) in (6, 7) and t.startswith("__") and t.endswith("__"))
        )
        sources = targets = codes
    else:
        pairs = _marian_pairs(path, languages, vocab)
        sources = tuple(sorted({s for s, _ in pairs}))
        targets = tuple(sorted({t for _, t in pairs}))
    if not sources or not targets:
        raise ModelNotFoundError(
            f"No language of translation model {path.name} could be read; give them with --languages SRC-TGT."
        )
    return TranslationModelInfo(
        name or path.name,
        path,
        sha256,
        found,
        sources,
        targets,
        source_spm,
        target_spm,
        source,  # type: ignore[arg-type]
    )


def _marian_pairs(path: Path, languages: str | None, vocab: set[str]) -> list[tuple[str, str]]:
    if languages:
        pairs = []
        for item in languages.split(","):
            src, sep, tgt = item.strip().partition("-")
            if not sep or not src or not tgt:
                raise ModelNotFoundError(f"--languages expects SRC-TGT (fr-en), got '{item}'.")
            pairs.append((src.lower(), tgt.lower()))
        return pairs
    match = _MARIAN_NAME.search(path.name)
    if match is None:
        raise ModelNotFoundError(
            f"The languages of Marian model {path.name} cannot be read from its name: register it with "
            "--languages SRC-TGT (e.g. fr-en)."
        )
    src, tgt = match.group(1).lower(), match.group(2).lower()
    targets = [t[2:-2] for t in vocab if t.startswith(">>") and t.endswith("<<")]
    return [(src, t) for t in targets] if targets else [(src, tgt)]
