"""Pseudonymised copies in every export format carry no original name."""

from __future__ import annotations

import io
import json

import pytest

from verbatim.anonymize import get_policy, pseudonymize_transcript
from verbatim.anonymize.analyzer import default_analyzer
from verbatim.anonymize.export import render_pseudonymized
from verbatim.pipeline.types import Segment, Transcript, Word


def _transcript() -> Transcript:
    text = "Je m'appelle Julie Martin, j'habite 12 rue des Lilas."
    words = tuple(
        Word(0.4 * i, 0.4 * i + 0.3, (" " if i else "") + w, 0.9) for i, w in enumerate(text.split())
    )
    return Transcript(
        language="fr", duration=5.0, segments=(Segment(0, 0.0, 4.0, text, words, "SPEAKER_00", "fr"),),
        audio_sha256="cd" * 32, filename="julie-martin.wav", speakers={"SPEAKER_00": "Julie Martin"},
    )  # fmt: skip


@pytest.mark.parametrize("fmt", ["json", "txt", "srt", "vtt", "docx"])
def test_every_format_is_pseudonymised(fmt: str) -> None:
    copy, mapping = pseudonymize_transcript(
        _transcript(), get_policy("hearing"), analyzer=default_analyzer(ner=False)
    )
    data = render_pseudonymized(copy, fmt, mapping)
    if fmt == "docx":
        import docx

        document = docx.Document(io.BytesIO(data))
        text = "\n".join(p.text for p in document.paragraphs)
        text += "\n".join(c.text for t in document.tables for r in t.rows for c in r.cells)
        assert "pseudonymisée" in text
    else:
        text = data.decode("utf-8")
    assert "Julie" not in text and "Martin" not in text and "Lilas" not in text
    assert "appelle" in text
    if fmt == "json":
        document = json.loads(text)
        assert document["pseudonymization"]["policy"] == "hearing"
        assert document["pseudonymization"]["replaced"]["PER"] >= 1
        assert document["schema"] == "verbatim.transcript/1"
