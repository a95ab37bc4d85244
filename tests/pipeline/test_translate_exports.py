"""Translations in the exports (JSON blocks, bilingual TXT and DOCX, SRT/VTT of the translation) and in the
request (``translate_to``)."""

from __future__ import annotations

import io
import json

import pytest

from verbatim.errors import InvalidOptionError
from verbatim.jobs.request import parse_request
from verbatim.pipeline.export import ExportOptions, render, transcript_from_json, transcript_to_dict
from verbatim.pipeline.types import Segment, SegmentTranslation, Transcript, Word


def _bilingual() -> Transcript:
    words = (Word(1.0, 1.5, "Guten", 0.9), Word(1.5, 2.0, "Tag,", 0.9), Word(2.0, 2.6, "Herr", 0.9))
    return Transcript(
        language="de",
        duration=10.0,
        segments=(
            Segment(
                0, 1.0, 2.6, "Guten Tag, Herr", words, speaker="S1", language="de", language_probability=0.97,
                translation=SegmentTranslation("fr", "Bonjour, monsieur", "nllb-200-600M"),
            ),
            Segment(
                1, 3.0, 5.0, "Bonjour, asseyez-vous.", speaker="S2", language="fr", language_probability=0.99,
                translation=SegmentTranslation("fr", "Bonjour, asseyez-vous.", "original"),
            ),
            Segment(2, 5.5, 6.0, "Ja.", speaker="S1", language="de", language_probability=0.41,
                    translation=SegmentTranslation("fr", "Oui.", "nllb-200-600M")),
        ),
        models={"asr": {"name": "whisper-base"}, "translation:nllb-200-600M": {"name": "nllb-200-600M"}},
        speakers={"S1": "Témoin", "S2": "Greffière"},
    )  # fmt: skip


def test_json_has_translation_blocks_and_language_probability_and_round_trips() -> None:
    transcript = _bilingual()
    doc = transcript_to_dict(transcript)
    first = doc["segments"][0]
    assert first["translation"] == {"language": "fr", "text": "Bonjour, monsieur", "model": "nllb-200-600M"}
    assert first["language"] == "de" and first["language_probability"] == 0.97
    assert transcript_from_json(render(transcript, "json")) == transcript
    plain = transcript.with_(segments=(Segment(0, 0.0, 1.0, "x"),))
    assert transcript_to_dict(plain)["segments"][0]["translation"] is None
    assert transcript_to_dict(plain)["segments"][0]["language_probability"] is None


def test_txt_puts_each_translation_under_its_original() -> None:
    text = render(_bilingual(), "txt").decode()
    paragraphs = text.strip().split("\n\n")
    assert paragraphs[0].splitlines() == [
        "[00:00:01] Témoin : Guten Tag, Herr",
        " " * 11 + "[fr] Bonjour, monsieur",
    ]
    assert paragraphs[2].splitlines()[1].strip() == "[fr] Oui."
    monolingual = render(_bilingual(), "txt", options=ExportOptions(bilingual=False)).decode()
    assert "[fr]" not in monolingual


def test_a_translation_older_than_a_correction_is_said_so_in_json_txt_and_docx() -> None:
    import docx

    transcript = _bilingual()
    first = transcript.segments[0]
    assert first.translation is not None
    outdated = first.with_(translation=SegmentTranslation("fr", "Bonjour, monsieur", "nllb-200-600M", True))
    revised = transcript.with_(segments=(outdated, *transcript.segments[1:]))
    assert transcript_to_dict(revised)["segments"][0]["translation"]["outdated"] is True
    assert "outdated" not in transcript_to_dict(transcript)["segments"][0]["translation"]
    assert transcript_from_json(render(revised, "json")) == revised
    text = render(revised, "txt").decode().strip().split("\n\n")
    assert text[0].splitlines()[1].strip() == (
        "[fr, traduction antérieure à une correction de l'original] Bonjour, monsieur"
    )
    assert text[2].splitlines()[1].strip() == "[fr] Oui."  # the other turns are unchanged
    document = docx.Document(io.BytesIO(render(revised, "docx")))
    cells = [row.cells[2].text for table in document.tables[1:] for row in table.rows]
    assert "[traduction antérieure à une correction de l'original] Bonjour, monsieur" in cells


def test_subtitles_of_the_translation_keep_speakers_and_times() -> None:
    transcript = _bilingual()
    original = render(transcript, "srt").decode()
    translated = render(transcript, "srt", options=ExportOptions(subtitles="translation")).decode()
    assert "Guten Tag" in original and "Guten Tag" not in translated
    assert "Témoin: Bonjour, monsieur" in translated
    assert "00:00:01,000 -->" in translated and "--> 00:00:02,600" in translated
    vtt = render(transcript, "vtt", options=ExportOptions(subtitles="translation")).decode()
    assert "<v Témoin>Bonjour, monsieur" in vtt
    untranslated = transcript.with_(segments=tuple(s.with_(translation=None) for s in transcript.segments))
    with pytest.raises(InvalidOptionError, match="translate-to"):
        render(untranslated, "vtt", options=ExportOptions(subtitles="translation"))


def test_docx_sets_original_and_translation_side_by_side_in_one_table() -> None:
    import docx

    document = docx.Document(io.BytesIO(render(_bilingual(), "docx")))
    assert len(document.tables) == 2  # the identification table, then one table of every turn
    rows = [[cell.text for cell in row.cells] for row in document.tables[1].rows]
    header = {row[0]: row[1] for row in ([c.text for c in r.cells] for r in document.tables[0].rows)}
    assert header["Langues parlées"] == "allemand, français"
    assert header["Traduction automatique vers"] == "français"
    assert rows[0] == ["Intervenant", "Original (allemand)", "Traduction automatique (français)"]
    assert [row[1:] for row in rows[1:]][:1] == [["Guten Tag, Herr", "Bonjour, monsieur"]]
    assert ["Ja.", "Oui."] in [row[1:] for row in rows]
    notices = [p.text for p in document.paragraphs if p.text.startswith("Traduction automatique")]
    assert notices and "ne fait pas foi" in notices[0]
    monolingual = docx.Document(
        io.BytesIO(render(_bilingual(), "docx", options=ExportOptions(bilingual=False)))
    )
    assert len(monolingual.tables) == 1
    assert not any("Traduction automatique" in p.text for p in monolingual.paragraphs)


def test_request_translate_to_is_validated() -> None:
    assert parse_request({"translate_to": "FR"}).translate_to == "fr"
    assert parse_request({}).translate_to is None
    with pytest.raises(InvalidOptionError, match="translate_to"):
        parse_request({"translate_to": "auto"})
    with pytest.raises(InvalidOptionError, match="xx"):
        parse_request({"translate_to": "xx"})
    with pytest.raises(InvalidOptionError, match="one or the other"):
        parse_request({"translate_to": "en", "task": "translate"})
    # the request round-trips through JSON (it is stored with a job)
    request = parse_request({"translate_to": "en"})
    assert parse_request(json.loads(request.model_dump_json())) == request
