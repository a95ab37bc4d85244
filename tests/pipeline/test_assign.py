"""Speaker assignment: overlaps, gaps, segment splits, purity, and the interval search's cost."""

from __future__ import annotations

import copy
import time

import pytest

from verbatim.pipeline.assign import assign_speakers
from verbatim.pipeline.types import Diarization, Segment, SpeakerTurn, Transcript, Word


def _turns(*spec: tuple[float, float, str]) -> Diarization:
    turns = tuple(SpeakerTurn(s, e, sp) for s, e, sp in spec)
    return Diarization(turns=turns, num_speakers=len({t.speaker for t in turns}))


def _word(start: float, end: float, text: str, probability: float = 0.9) -> Word:
    return Word(start=start, end=end, text=text, probability=probability)


def _transcript(*segments: Segment, speakers: dict[str, str] | None = None) -> Transcript:
    return Transcript(
        language="fr",
        duration=max((s.end for s in segments), default=0.0),
        segments=segments,
        speakers=speakers or {},
    )


def _one_segment(*words: Word) -> Transcript:
    return _transcript(Segment(id=0, start=words[0].start, end=words[-1].end, text="", words=words))


def _word_speakers(transcript: Transcript) -> list[str | None]:
    return [w.speaker for w in transcript.words]


def test_word_straddling_a_turn_change_goes_to_the_longer_overlap() -> None:
    t = _one_segment(_word(0.9, 1.3, " a"), _word(1.8, 2.05, " b"))
    out = assign_speakers(t, _turns((0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 3.0, "A")))
    # 0.9-1.3: 0.1 s with A, 0.3 s with B. 1.8-2.05: 0.2 s with B, 0.05 s with A.
    assert _word_speakers(out) == ["B", "B"]


def test_overlapping_turns_of_one_speaker_add_up() -> None:
    # A's speech came out as two fragments around B's interjection; the word overlaps A for 1.2 s in all,
    # more than any single turn (B: 1.1 s).
    t = _one_segment(_word(0.5, 1.7, " mot"))
    out = assign_speakers(t, _turns((0.0, 1.0, "A"), (0.5, 1.6, "B"), (1.0, 2.0, "A")))
    assert _word_speakers(out) == ["A"]


def test_interjection_inside_a_long_turn() -> None:
    words = (_word(1.0, 1.5, " a"), _word(2.1, 2.9, " b"), _word(3.0, 3.2, " c"), _word(4.0, 4.5, " d"))
    t = _one_segment(*words)
    out = assign_speakers(t, _turns((0.0, 10.0, "A"), (2.0, 3.05, "B")))
    # "b" overlaps A and B equally: the tie goes to the turn that started first.
    assert _word_speakers(out) == ["A", "A", "A", "A"]
    out = assign_speakers(t, _turns((0.0, 2.2, "A"), (2.0, 3.3, "B"), (3.5, 10.0, "A")))
    assert _word_speakers(out) == ["A", "B", "B", "A"]


def test_words_in_gaps_take_the_nearest_turn_or_the_previous_speaker() -> None:
    words = (
        _word(0.2, 0.8, " un"),  # inside A
        _word(1.3, 1.5, " deux"),  # 0.3 s after A, 3.5 s before B: A
        _word(3.5, 3.8, " trois"),  # 1.2 s before B, 2.5 s after A: too far from both, previous word's (A)
        _word(4.6, 4.8, " quatre"),  # 0.2 s before B: B
        _word(5.0, 5.0, " cinq"),  # zero length, inside B: B
    )
    out = assign_speakers(_one_segment(*words), _turns((0.0, 1.0, "A"), (5.0, 6.0, "B")))
    assert _word_speakers(out) == ["A", "A", "A", "B", "B"]


def test_words_before_any_turn_take_the_first_turn_however_far() -> None:
    out = assign_speakers(_one_segment(_word(0.0, 0.5, " allô")), _turns((10.0, 11.0, "B")))
    assert _word_speakers(out) == ["B"]


def test_unsorted_turns_are_accepted() -> None:
    t = _one_segment(_word(0.1, 0.4, " a"), _word(1.1, 1.4, " b"))
    out = assign_speakers(t, _turns((1.0, 2.0, "B"), (0.0, 1.0, "A")))
    assert _word_speakers(out) == ["A", "B"]


def test_segment_is_split_where_the_speaker_changes() -> None:
    first = Segment(
        id=0,
        start=0.0,
        end=4.2,
        text=" Vous étiez où ? À la maison.",
        words=(
            _word(0.1, 0.5, " Vous"),
            _word(0.5, 0.9, " étiez"),
            _word(0.9, 1.4, " où ?"),
            _word(2.0, 2.3, " À"),
            _word(2.3, 2.6, " la"),
            _word(2.6, 4.0, " maison."),
        ),
        language="fr",
        avg_logprob=-0.25,
        no_speech_prob=0.01,
        compression_ratio=1.3,
    )
    second = Segment(id=1, start=5.0, end=6.0, text=" D'accord.", words=(_word(5.0, 5.8, " D'accord."),))
    t = _transcript(first, second)
    out = assign_speakers(t, _turns((0.0, 1.6, "S1"), (1.8, 4.5, "S2"), (4.8, 6.5, "S1")))

    assert [(s.id, s.speaker, s.text) for s in out.segments] == [
        (0, "S1", "Vous étiez où ?"),
        (1, "S2", "À la maison."),
        (2, "S1", " D'accord."),  # not split: its own text is kept as it was
    ]
    a, b, c = out.segments
    assert (a.start, a.end) == (0.0, 1.4)  # the segment's start, the last word's end
    assert (b.start, b.end) == (2.0, 4.2)  # the first word's start, the segment's end
    assert (c.start, c.end) == (5.0, 6.0)
    assert [w.text for w in a.words] == [" Vous", " étiez", " où ?"]
    assert all(w.speaker == "S2" for w in b.words)
    for piece in (a, b):
        assert (piece.language, piece.avg_logprob, piece.no_speech_prob, piece.compression_ratio) == (
            "fr",
            -0.25,
            0.01,
            1.3,
        )
    assert out.speakers == {"S1": "S1", "S2": "S2"}


def test_speaker_coming_back_in_one_segment_makes_three_pieces() -> None:
    t = _one_segment(_word(0.0, 1.0, "oui"), _word(1.0, 2.0, "non"), _word(2.0, 3.0, "peut-être"))
    out = assign_speakers(t, _turns((0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 3.0, "A")))
    assert [(s.id, s.speaker, s.text) for s in out.segments] == [
        (0, "A", "oui"),
        (1, "B", "non"),
        (2, "A", "peut-être"),
    ]
    assert [(s.start, s.end) for s in out.segments] == [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]


def test_segment_without_words_takes_the_speaker_of_max_overlap() -> None:
    t = _transcript(
        Segment(id=0, start=0.0, end=3.0, text="Bonjour."),
        Segment(id=1, start=3.0, end=4.0, text="Oui."),
    )
    out = assign_speakers(t, _turns((0.0, 1.0, "A"), (1.0, 3.2, "B"), (3.2, 4.0, "A")))
    assert [s.speaker for s in out.segments] == ["B", "A"]
    assert [s.text for s in out.segments] == ["Bonjour.", "Oui."]


def test_speakers_in_order_of_appearance_keep_their_names() -> None:
    t = _transcript(
        Segment(id=0, start=0.0, end=1.0, text="a", words=(_word(0.0, 1.0, "a"),)),
        Segment(id=1, start=1.0, end=2.0, text="b", words=(_word(1.0, 2.0, "b"),)),
        speakers={"SPK_2": "Juge", "SPK_9": "Absent"},
    )
    out = assign_speakers(t, _turns((1.0, 2.0, "SPK_2"), (0.0, 1.0, "SPK_1")))
    assert list(out.speakers.items()) == [("SPK_1", "SPK_1"), ("SPK_2", "Juge")]


def test_inputs_are_not_mutated() -> None:
    t = _one_segment(_word(0.0, 1.0, " a"), _word(1.0, 2.0, " b"))
    t = t.with_(speakers={"A": "Enquêteur"}, models={"asr": {"name": "whisper-base"}})
    d = _turns((0.0, 1.0, "A"), (1.0, 2.0, "B"))
    t_before, d_before = copy.deepcopy(t), copy.deepcopy(d)
    out = assign_speakers(t, d)
    assert t == t_before and d == d_before
    assert t.speakers == {"A": "Enquêteur"}
    assert out is not t and out.speakers is not t.speakers
    assert all(w.speaker is None for w in t.words)


def test_no_turns_leaves_the_transcript_as_it_is() -> None:
    t = _one_segment(_word(0.0, 1.0, " a"))
    assert assign_speakers(t, Diarization(turns=(), num_speakers=0)) == t


def test_empty_transcript() -> None:
    out = assign_speakers(_transcript(), _turns((0.0, 1.0, "A")))
    assert out.segments == () and out.speakers == {}


@pytest.mark.parametrize("background", [False, True])
def test_interval_search_scales(background: bool) -> None:
    # 20k words x 2k turns; with a turn spanning the whole recording, a prefix-max-end search would scan
    # every earlier turn for every word. A per-word scan of all turns takes tens of seconds here.
    turns = [SpeakerTurn(i * 5.0, i * 5.0 + 4.9, f"S{i % 7}") for i in range(2000)]
    if background:
        turns.insert(0, SpeakerTurn(0.0, 10_000.0, "BG"))
    words = [_word(i * 0.5, i * 0.5 + 0.4, f" w{i}") for i in range(20_000)]
    segments = tuple(
        Segment(
            id=k,
            start=words[k * 20].start,
            end=words[k * 20 + 19].end,
            text="",
            words=tuple(words[k * 20 : k * 20 + 20]),
        )
        for k in range(1000)
    )
    t = _transcript(*segments)
    began = time.perf_counter()
    out = assign_speakers(t, Diarization(turns=tuple(turns), num_speakers=8))
    elapsed = time.perf_counter() - began
    assert len(out.words) == 20_000
    assert out.words[1].speaker == "S0"
    assert all(w.speaker is not None for w in out.words)
    assert elapsed < 2.0, f"assign_speakers took {elapsed:.2f} s"
