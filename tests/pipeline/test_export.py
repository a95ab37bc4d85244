"""Export formats, read back: JSON round trip, TXT turns, SRT/VTT cue syntax and limits, DOCX contents."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
from typing import Any

import pytest

from verbatim.errors import InvalidOptionError
from verbatim.pipeline.export import (
    FORMATS,
    MEDIA_TYPES,
    SCHEMA,
    ExportOptions,
    render,
    transcript_from_dict,
    transcript_from_json,
    transcript_to_dict,
)
from verbatim.pipeline.types import Segment, Transcript, Word

SHA = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"


def _words(start: float, text: str, step: float = 0.4, probability: float = 0.9) -> tuple[Word, ...]:
    return tuple(
        Word(round(start + i * step, 3), round(start + (i + 1) * step, 3), f" {t}", probability)
        for i, t in enumerate(text.split())
    )


def _segment(sid: int, start: float, text: str, speaker: str | None, **kw: Any) -> Segment:
    words = _words(start, text)
    return Segment(
        id=sid, start=start, end=words[-1].end, text=" " + text, words=words, speaker=speaker, **kw
    )


def _hearing() -> Transcript:
    low = Word(8.0, 8.4, " Dupont-Martin", 0.3, "SPEAKER_01")
    return Transcript(
        language="fr",
        duration=6000.0,
        segments=(
            _segment(
                0,
                1.0,
                "Bonjour, vous êtes bien madame Dupont ?",
                "SPEAKER_00",
                language="fr",
                avg_logprob=-0.21,
            ),
            _segment(1, 4.0, "Asseyez-vous je vous prie.", "SPEAKER_00"),
            Segment(
                id=2,
                start=7.5,
                end=8.4,
                text=" Oui, Dupont-Martin",
                words=(Word(7.5, 8.0, " Oui,", 0.95, "SPEAKER_01"), low),
                speaker="SPEAKER_01",
                no_speech_prob=0.02,
                compression_ratio=1.4,
            ),
            _segment(3, 6000.5, "Fin de l'audition à dix heures & <quart>.", "SPEAKER_00"),
        ),
        audio_sha256=SHA,
        filename="audition_2024-03-12.wav",
        models={"asr": {"name": "whisper-base", "sha256": SHA}, "diarization": {"name": "senko-0.2.2"}},
        speakers={"SPEAKER_00": "Enquêteur", "SPEAKER_01": "Témoin"},
        language_probability=0.9731,
    )


EMPTY = Transcript(language="fr", duration=0.0, segments=())

# --- registry --------------------------------------------------------------------------------------------


def test_formats_and_media_types() -> None:
    assert FORMATS == ("json", "txt", "srt", "vtt", "docx", "odt", "pdf")
    assert set(MEDIA_TYPES) == set(FORMATS)


def test_unknown_format_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidOptionError, match="rtf") as info:
        render(_hearing(), "rtf")
    for fmt in FORMATS:
        assert fmt in str(info.value)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f != "pdf"])  # PDF: tests/pipeline/test_documents.py
def test_every_format_renders_an_empty_transcript(fmt: str) -> None:
    assert isinstance(render(EMPTY, fmt), bytes)


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_does_not_mutate_its_input(fmt: str) -> None:
    t = _hearing()
    before = copy.deepcopy(t)
    render(t, fmt)
    assert t == before


# --- JSON ------------------------------------------------------------------------------------------------


def test_json_round_trip_is_exact() -> None:
    t = _hearing()
    # A word whose speaker differs from its segment's (overlapped speech) survives too.
    odd = t.segments[1].with_(words=(Word(4.0, 4.4, " Assieds", 0.8, None),))
    t = t.with_(segments=(*t.segments[:1], odd, *t.segments[2:]))
    assert transcript_from_dict(transcript_to_dict(t)) == t
    assert transcript_from_json(render(t, "json")) == t
    doc = json.loads(render(t, "json"))
    assert transcript_to_dict(transcript_from_dict(doc)) == doc


def test_json_layout_and_rounding() -> None:
    t = _hearing()
    seg = t.segments[0].with_(start=1.23456789, words=(Word(1.23456789, 1.5, " x", 0.123456),))
    doc = json.loads(render(t.with_(segments=(seg,)), "json"))
    assert doc["schema"] == SCHEMA
    assert doc["audio"] == {"sha256": SHA, "duration": 6000.0, "filename": "audition_2024-03-12.wav"}
    assert doc["language"] == "fr"
    assert doc["speakers"] == [
        {"id": "SPEAKER_00", "name": "Enquêteur"},
        {"id": "SPEAKER_01", "name": "Témoin"},
    ]
    assert doc["models"]["asr"]["sha256"] == SHA
    segment = doc["segments"][0]
    assert {"id", "start", "end", "speaker", "language", "text", "words"} <= set(segment)
    assert segment["start"] == 1.235
    assert segment["words"][0] == {
        "start": 1.235,
        "end": 1.5,
        "text": " x",
        "probability": 0.1235,
        "join": " ",
        "speaker": None,
    }


def test_json_empty_transcript() -> None:
    doc = json.loads(render(EMPTY, "json"))
    assert doc["segments"] == [] and doc["speakers"] == []
    assert transcript_from_dict(doc) == EMPTY


@pytest.mark.parametrize(
    "doc",
    [
        {"schema": "verbatim.transcript/2", "audio": {}, "segments": []},
        {"audio": {}, "segments": []},
        ["not", "a", "dict"],
    ],
)
def test_json_rejects_an_unknown_schema(doc: object) -> None:
    with pytest.raises(InvalidOptionError, match="schema"):
        transcript_from_dict(doc)  # type: ignore[arg-type]


def test_json_rejects_a_malformed_document() -> None:
    doc = transcript_to_dict(_hearing())
    del doc["segments"][0]["start"]
    with pytest.raises(InvalidOptionError, match="malformed"):
        transcript_from_dict(doc)
    with pytest.raises(InvalidOptionError, match="JSON"):
        transcript_from_json(b"{not json")


# --- TXT -------------------------------------------------------------------------------------------------


def test_txt_groups_turns_and_names_speakers() -> None:
    text = render(_hearing(), "txt").decode("utf-8")
    paragraphs = text.strip().split("\n\n")
    assert paragraphs == [
        "[00:00:01] Enquêteur : Bonjour, vous êtes bien madame Dupont ? Asseyez-vous je vous prie.",
        "[00:00:07] Témoin : Oui, Dupont-Martin",
        "[01:40:00] Enquêteur : Fin de l'audition à dix heures & <quart>.",
    ]


def test_txt_without_speakers_has_no_labels() -> None:
    t = Transcript(
        language="fr",
        duration=10.0,
        segments=(_segment(0, 0.0, "Un.", None), _segment(1, 2.0, "Deux.", None)),
    )
    assert render(t, "txt").decode() == "[00:00:00] Un.\n\n[00:00:02] Deux.\n"
    assert render(EMPTY, "txt") == b""


def test_txt_uses_the_id_when_a_speaker_has_no_name() -> None:
    t = _hearing().with_(speakers={})
    assert "] SPEAKER_01 : Oui" in render(t, "txt").decode()


# --- SRT / VTT -------------------------------------------------------------------------------------------

_SRT_TIME = r"(\d{2,}):(\d{2}):(\d{2}),(\d{3})"
_VTT_TIME = r"(\d{2,}):(\d{2}):(\d{2})\.(\d{3})"


def _ms(h: str, m: str, s: str, ms: str) -> int:
    assert int(m) < 60 and int(s) < 60
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def _parse_srt(data: bytes) -> list[tuple[int, int, list[str]]]:
    text = data.decode("utf-8")
    assert text.endswith("\n") and "\n\n\n" not in text
    cues = []
    for number, block in enumerate(text.strip("\n").split("\n\n"), start=1):
        lines = block.split("\n")
        assert lines[0] == str(number)
        match = re.fullmatch(f"{_SRT_TIME} --> {_SRT_TIME}", lines[1])
        assert match, lines[1]
        groups = match.groups()
        assert 1 <= len(lines[2:]) <= 2 and all(line.strip() for line in lines[2:])
        cues.append((_ms(*groups[:4]), _ms(*groups[4:]), lines[2:]))
    return cues


def _parse_vtt(data: bytes) -> list[tuple[int, int, list[str]]]:
    text = data.decode("utf-8")
    assert text.startswith("WEBVTT\n\n") or text == "WEBVTT\n"
    cues = []
    for block in text.strip("\n").split("\n\n")[1:]:
        lines = block.split("\n")
        match = re.fullmatch(f"{_VTT_TIME} --> {_VTT_TIME}", lines[0])
        assert match, lines[0]
        groups = match.groups()
        assert 1 <= len(lines[1:]) <= 2
        cues.append((_ms(*groups[:4]), _ms(*groups[4:]), lines[1:]))
    return cues


def _check_timing(cues: list[tuple[int, int, list[str]]]) -> None:
    assert cues
    for start, end, _ in cues:
        assert end > start
    starts = [c[0] for c in cues]
    assert starts == sorted(starts)


def test_srt_cues_parse_back() -> None:
    cues = _parse_srt(render(_hearing(), "srt"))
    _check_timing(cues)
    assert cues[0][0] == 1000
    assert cues[0][2][0].startswith("Enquêteur: Bonjour,")
    assert any(lines[0].startswith("Témoin: Oui,") for _, _, lines in cues)
    # 6000.5 s is 1 h 40 min 0.5 s, not "00:100:00".
    assert cues[-1][0] == 6_000_500
    assert "01:40:00,500 -->" in render(_hearing(), "srt").decode()
    assert cues[-1][2][-1].endswith("& <quart>.")  # SRT has no escaping


def test_srt_without_speaker_labels() -> None:
    text = render(_hearing(), "srt", options=ExportOptions(speaker_labels=False)).decode()
    assert "Enquêteur" not in text and "Témoin" not in text


def test_vtt_cues_parse_back_with_voices_and_escaping() -> None:
    data = render(_hearing(), "vtt")
    cues = _parse_vtt(data)
    _check_timing(cues)
    assert cues[0][2][0].startswith("<v Enquêteur>Bonjour,")
    assert any(lines[0].startswith("<v Témoin>Oui,") for _, _, lines in cues)
    last = " ".join(cues[-1][2])
    assert last.endswith("dix heures &amp; &lt;quart&gt;.")
    # Outside voice tags no raw "<" or ">" and no bare "&" remain.
    body = re.sub(r"<v [^<>\n]+>", "", data.decode())
    assert "<" not in body.replace("-->", "") and ">" not in body.replace("-->", "")
    assert not re.search(r"&(?!amp;|lt;|gt;)", body)


def test_vtt_escapes_speaker_names() -> None:
    t = _hearing().with_(speakers={"SPEAKER_00": "M. <X> & Fils", "SPEAKER_01": "Témoin"})
    assert "<v M. &lt;X&gt; &amp; Fils>Bonjour," in render(t, "vtt").decode()


def test_empty_subtitles() -> None:
    assert render(EMPTY, "srt") == b""
    assert render(EMPTY, "vtt") == b"WEBVTT\n"


def test_hours_past_99_minutes_and_past_99_hours() -> None:
    t = Transcript(
        language="fr",
        duration=400_000.0,
        segments=(
            Segment(id=0, start=5999.25, end=6001.0, text="Cent minutes."),
            Segment(id=1, start=360_000.0, end=360_002.0, text="Cent heures."),
        ),
    )
    srt = render(t, "srt").decode()
    vtt = render(t, "vtt").decode()
    assert "01:39:59,250 --> 01:40:01,000" in srt
    assert "100:00:00,000 --> 100:00:02,000" in srt
    assert "01:39:59.250 --> 01:40:01.000" in vtt
    _check_timing(_parse_srt(render(t, "srt")))
    assert render(t, "txt").decode().split("\n\n")[1].startswith("[100:00:00] ")


def test_long_segments_are_cut_into_short_cues() -> None:
    text = " ".join(f"mot{i:03d}" for i in range(120))  # 7 chars a word, 0.4 s a word: 48 s
    t = Transcript(language="fr", duration=60.0, segments=(_segment(0, 0.0, text, None),))
    options = ExportOptions(max_line_chars=42, max_cue_duration=6.0)
    for fmt, parse in (("srt", _parse_srt), ("vtt", _parse_vtt)):
        cues = parse(render(t, fmt, options=options))
        _check_timing(cues)
        assert len(cues) > 5
        for start, end, lines in cues:
            assert end - start <= 6000
            assert all(len(line) <= 42 for line in lines)
        words = [w for _, _, lines in cues for line in lines for w in line.split()]
        assert words == text.split()  # nothing lost, nothing repeated, in order


def test_segment_without_words_is_cut_by_its_time() -> None:
    text = "Alors je suis rentrée à la maison vers dix-huit heures et il était déjà là dans la cuisine " * 3
    t = Transcript(
        language="fr",
        duration=30.0,
        segments=(Segment(id=0, start=2.0, end=26.0, text=text, speaker="A"),),
        speakers={"A": "Témoin"},
    )
    cues = _parse_srt(render(t, "srt"))
    _check_timing(cues)
    assert len(cues) > 1
    # the last cue ends with the segment, or is held up to 1 s on screen (broadcast rule)
    assert cues[0][0] == 2000 and 26000 <= cues[-1][1] <= max(26000, cues[-1][0] + 1000)
    assert all(len(line) <= 42 for _, _, lines in cues for line in lines)
    assert all(lines[0].startswith("Témoin: ") for _, _, lines in cues)
    assert " ".join(" ".join(lines).removeprefix("Témoin: ") for _, _, lines in cues).split() == text.split()


def test_zero_length_words_never_make_empty_cues() -> None:
    t = Transcript(
        language="fr",
        duration=5.0,
        segments=(
            Segment(id=0, start=1.0, end=1.0, text=" euh", words=(Word(1.0, 1.0, " euh", 0.5),)),
            Segment(id=1, start=1.2, end=1.2, text=" bon", words=(Word(1.2, 1.2, " bon", 0.5),)),
            Segment(id=2, start=3.0, end=2.5, text=" voilà"),
        ),
    )
    for fmt, parse in (("srt", _parse_srt), ("vtt", _parse_vtt)):
        cues = parse(render(t, fmt))
        _check_timing(cues)
        assert cues[0][1] <= cues[1][0]  # the stretched cue stops where the next one starts


# --- DOCX ------------------------------------------------------------------------------------------------


def _docx_text(data: bytes) -> tuple[list[str], list[list[str]], str]:
    import docx

    document = docx.Document(io.BytesIO(data))
    paragraphs = [p.text for p in document.paragraphs]
    rows = [[cell.text for cell in row.cells] for table in document.tables for row in table.rows]
    footer = "\n".join(p.text for p in document.sections[0].footer.paragraphs)
    return paragraphs, rows, footer


def test_docx_hearing_layout() -> None:
    options = ExportOptions(
        case_fields=(("Affaire", "PV 2024/00123"), ("Service", "Brigade de protection des familles")),
        transcription_date=dt.date(2024, 3, 12),
    )
    paragraphs, rows, footer = _docx_text(render(_hearing(), "docx", options=options))
    assert paragraphs[0] == "Transcription d'audition"
    table = dict((r[0], r[1]) for r in rows)
    assert table["Affaire"] == "PV 2024/00123"
    assert table["Service"] == "Brigade de protection des familles"
    assert table["Enregistrement"] == "audition_2024-03-12.wav"
    assert table["Empreinte SHA-256"] == SHA
    assert table["Durée"] == "01:40:00"
    assert table["Langue"] == "français (détectée, probabilité 0,97)"
    assert table["Date de transcription"] == "12/03/2024"
    assert table["Modèles"].splitlines() == [
        f"Reconnaissance de la parole : whisper-base, empreinte SHA-256 {SHA}",
        "Distinction des voix : senko-0.2.2",
    ]
    assert [r[0] for r in rows][:2] == ["Affaire", "Service"]
    text = "\n".join(paragraphs)
    assert "automatiquement" in text and "vérifiée" in text
    assert "Enquêteur [00:00:01]" in paragraphs
    assert "Témoin [00:00:07]" in paragraphs
    assert "Bonjour, vous êtes bien madame Dupont ? Asseyez-vous je vous prie." in paragraphs
    assert "Oui, Dupont-Martin" in paragraphs
    assert "Fin de l'audition à dix heures & <quart>." in paragraphs
    assert "page" in footer


def test_docx_marks_low_confidence_words() -> None:
    import docx

    document = docx.Document(io.BytesIO(render(_hearing(), "docx")))
    underlined = [r.text for p in document.paragraphs for r in p.runs if r.underline]
    assert underlined == ["Dupont-Martin"]
    off = docx.Document(io.BytesIO(render(_hearing(), "docx", options=ExportOptions(low_confidence=0.0))))
    assert not [r for p in off.paragraphs for r in p.runs if r.underline]


def test_docx_empty_transcript_and_control_characters() -> None:
    paragraphs, rows, _ = _docx_text(render(EMPTY, "docx"))
    assert any("Aucune parole" in p for p in paragraphs)
    assert ["Modèles", "—"] in rows
    odd = Transcript(
        language="fr", duration=1.0, segments=(Segment(id=0, start=0.0, end=1.0, text="a\x00b\x01c"),)
    )
    paragraphs, _, _ = _docx_text(render(odd, "docx"))
    assert "abc" in paragraphs
