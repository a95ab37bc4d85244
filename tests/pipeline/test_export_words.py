"""Whole French words in every format, and the broadcast rules of subtitle cues (SRT and VTT alike)."""

from __future__ import annotations

import io
import json
import re

import pytest

from tests.pipeline.test_export import _parse_srt, _parse_vtt
from verbatim.pipeline.export import ExportOptions, render, transcript_from_dict, transcript_to_dict
from verbatim.pipeline.export._cues import MIN_CUE_SECONDS, build_cues
from verbatim.pipeline.types import Segment, Transcript, Word, join_words

# Tokens as Whisper's word timestamps give them: a leading space starts a word; "'accord", "-Unis" and
# "'hui" continue the previous one.
_TOKENS = [
    (" Nous", " "),
    (" sommes", " "),
    (" d", " "),
    ("'accord", ""),
    (" avec", " "),
    (" les", " "),
    (" États", " "),
    ("-Unis", ""),
    (" aujourd", " "),
    ("'hui,", ""),
    (" l", " "),
    ("'eau", ""),
    (" qu", " "),
    ("'à", ""),
    (" la", " "),
    (" fin.", " "),
]
WHOLE = ("d'accord", "États-Unis", "aujourd'hui,", "l'eau", "qu'à")


def _french(repeat: int = 1, step: float = 0.3) -> Transcript:
    segments = []
    t = 0.5
    for sid in range(repeat):
        words = []
        for token, join in _TOKENS:
            words.append(Word(round(t, 3), round(t + step, 3), token.strip(), 0.9, "S1", join))
            t += step
        segments.append(
            Segment(sid, words[0].start, words[-1].end, join_words(words), tuple(words), speaker="S1")
        )
        t += 1.5
    return Transcript(
        language="fr", duration=round(t + 5, 3), segments=tuple(segments), speakers={"S1": "Témoin"}
    )


def test_join_words_glues_what_whisper_glued() -> None:
    text = _french().segments[0].text
    assert text == "Nous sommes d'accord avec les États-Unis aujourd'hui, l'eau qu'à la fin."


def _no_split_word(text: str) -> None:
    for whole in WHOLE:
        head, tail = re.split(r"(?=['-])", whole, maxsplit=1)
        assert f"{head} {tail}" not in text and f"{head}\n{tail}" not in text, text
    assert "États-Unis" in text and "d'accord" in text, text


@pytest.mark.parametrize("fmt", ["txt", "srt", "vtt"])
def test_text_formats_keep_french_words_whole(fmt: str) -> None:
    for width in (42, 20, 12):  # narrow lines force cuts near the glued words
        data = render(_french(3), fmt, options=ExportOptions(max_line_chars=width)).decode("utf-8")
        _no_split_word(data)


def test_docx_keeps_french_words_whole() -> None:
    import docx

    document = docx.Document(io.BytesIO(render(_french(), "docx")))
    body = [p.text for p in document.paragraphs]
    assert "Nous sommes d'accord avec les États-Unis aujourd'hui, l'eau qu'à la fin." in body
    # a low-confidence glued token is underlined without a space before it
    low = _french()
    words = list(low.segments[0].words)
    words[7] = Word(words[7].start, words[7].end, words[7].text, 0.2, "S1", "")  # "-Unis"
    seg = low.segments[0].with_(words=tuple(words))
    document = docx.Document(io.BytesIO(render(low.with_(segments=(seg,)), "docx")))
    body = [p.text for p in document.paragraphs]
    assert "Nous sommes d'accord avec les États-Unis aujourd'hui, l'eau qu'à la fin." in body


def test_json_keeps_join_and_reads_old_documents() -> None:
    transcript = _french()
    doc = transcript_to_dict(transcript)
    assert [w["join"] for w in doc["segments"][0]["words"]][2:4] == [" ", ""]
    assert transcript_from_dict(json.loads(json.dumps(doc))) == transcript
    for word in doc["segments"][0]["words"]:
        del word["join"]  # a document written before "join" existed
    old = transcript_from_dict(doc)
    assert all(w.join == " " for w in old.words)


def test_cues_follow_broadcast_rules_and_srt_equals_vtt() -> None:
    # one short word per segment, far apart: each cue is held 1 s; a burst of quick segments: held only
    # until the next one starts
    short = [
        Segment(i, 2.0 * i, 2.0 * i + 0.12, "oui", (Word(2.0 * i, 2.0 * i + 0.12, "oui", 0.9),))
        for i in range(3)
    ]
    burst = [
        Segment(
            3 + i,
            10.0 + 0.3 * i,
            10.0 + 0.3 * i + 0.1,
            "non",
            (Word(10.0 + 0.3 * i, 10.1 + 0.3 * i, "non", 0.9),),
        )
        for i in range(3)
    ]
    long = _french(4).segments
    long = tuple(
        s.with_(
            id=10 + s.id,
            words=tuple(
                w.__class__(w.start + 20, w.end + 20, w.text, w.probability, None, w.join) for w in s.words
            ),
            start=s.start + 20,
            end=s.end + 20,
            speaker=None,
        )
        for s in long
    )
    transcript = Transcript(language="fr", duration=60.0, segments=(*short, *burst, *long))
    options = ExportOptions(speaker_labels=False)
    cues = build_cues(transcript, options)
    srt = _parse_srt(render(transcript, "srt", options=options))
    vtt = _parse_vtt(render(transcript, "vtt", options=options))
    assert (
        [(s, e) for s, e, _ in srt] == [(s, e) for s, e, _ in vtt] == [(c.start_ms, c.end_ms) for c in cues]
    )
    assert [lines for *_, lines in srt] == [lines for *_, lines in vtt] == [list(c.lines) for c in cues]
    for n, cue in enumerate(cues):
        assert 1 <= len(cue.lines) <= 2 and all(len(line) <= 42 for line in cue.lines)
        following = cues[n + 1].start_ms if n + 1 < len(cues) else None
        shown = cue.end_ms - cue.start_ms
        # at least 1 s on screen unless the next cue starts sooner, and never over the next cue
        assert shown >= MIN_CUE_SECONDS * 1000 or (following is not None and cue.end_ms == following)
        assert following is None or cue.end_ms <= following
    assert [c.end_ms - c.start_ms for c in cues[:3]] == [1000, 1000, 1000]
    assert [c.end_ms for c in cues[3:5]] == [cues[4].start_ms, cues[5].start_ms]
    # every word of the long passage is shown once, in order, whole
    shown_words = " ".join(" ".join(c.lines) for c in cues[6:]).split()
    expected = " ".join(s.text for s in long).split()
    assert shown_words == expected
