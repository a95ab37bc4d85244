"""A tiny CTranslate2 translation model built by the test suite itself (no download, no transformers).

A SentencePiece model is trained on the committed FLORES-200 excerpt, and a 2-layer Transformer with random
weights is written with CTranslate2's own spec API, its vocabulary being the SentencePiece pieces plus the
language tokens of the family it imitates (NLLB ``fra_Latn``, M2M100 ``__fr__``, Marian: none). Its output is
gibberish: it proves the plumbing (tokenise, translate, detokenise, align to segments), not quality.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tests.conftest import DATA

__all__ = ["build_tiny_model"]

_LANGUAGE_TOKENS = {
    "nllb": ["eng_Latn", "fra_Latn", "deu_Latn"],
    "m2m100": ["__en__", "__fr__", "__de__"],
    "marian": [],
}


def _train_sentencepiece(target: Path) -> None:
    import sentencepiece as spm

    lines = []
    for name in ("flores200_dev_excerpt.fra", "flores200_dev_excerpt.eng"):
        lines += (DATA / name).read_text(encoding="utf-8").splitlines()
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=model,
        vocab_size=400,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        unk_id=1,
        eos_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        unk_piece="<unk>",
        eos_piece="</s>",
        minloglevel=2,
        num_threads=1,
    )
    target.write_bytes(model.getvalue())


def build_tiny_model(directory: Path, family: str, *, seed: int = 0) -> Path:
    """Write a tiny CTranslate2 model of ``family`` (nllb, m2m100, marian) into ``directory``.

    Returns:
        ``directory``, holding ``model.bin``, the vocabulary and the SentencePiece files the family uses.
    """
    import sentencepiece as spm
    from ctranslate2.specs import transformer_spec

    directory.mkdir(parents=True, exist_ok=True)
    spm_file = directory / ("source.spm" if family == "marian" else "sentencepiece.bpe.model")
    _train_sentencepiece(spm_file)
    if family == "marian":
        (directory / "target.spm").write_bytes(spm_file.read_bytes())
    sp = spm.SentencePieceProcessor(model_file=str(spm_file))
    vocab = [sp.id_to_piece(i) for i in range(sp.get_piece_size())] + ["<s>", *_LANGUAGE_TOKENS[family]]

    rng = np.random.default_rng(seed)
    d, ff, v = 32, 64, len(vocab)

    def rand(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    def norm(layer) -> None:  # type: ignore[no-untyped-def]
        layer.gamma = np.ones(d, np.float32)
        layer.beta = np.zeros(d, np.float32)

    def linear(layer, out: int, inp: int) -> None:  # type: ignore[no-untyped-def]
        layer.weight = rand(out, inp)
        layer.bias = rand(out)

    def ffn(layer) -> None:  # type: ignore[no-untyped-def]
        norm(layer.layer_norm)
        linear(layer.linear_0, ff, d)
        linear(layer.linear_1, d, ff)

    spec = transformer_spec.TransformerSpec.from_config(2, 2, pre_norm=True)
    encoder, decoder = spec.encoder, spec.decoder
    encoder.embeddings[0].weight = rand(v, d)
    norm(encoder.layer_norm)
    for layer in encoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        ffn(layer.ffn)
    decoder.embeddings.weight = rand(v, d)
    norm(decoder.layer_norm)
    linear(decoder.projection, v, d)
    for layer in decoder.layer:
        norm(layer.self_attention.layer_norm)
        linear(layer.self_attention.linear[0], 3 * d, d)
        linear(layer.self_attention.linear[1], d, d)
        norm(layer.attention.layer_norm)
        linear(layer.attention.linear[0], d, d)
        linear(layer.attention.linear[1], 2 * d, d)
        linear(layer.attention.linear[2], d, d)
        ffn(layer.ffn)
    spec.register_source_vocabulary(vocab)
    spec.register_target_vocabulary(vocab)
    spec.validate()
    spec.save(str(directory))
    return directory
