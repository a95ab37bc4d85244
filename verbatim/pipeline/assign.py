"""Speaker assignment: merge a diarization into a transcript.

Every word gets the speaker whose turns overlap it most, then segments are split where the speaker changes.
The search is a sweep over words and turns both sorted by start, with a heap of the turns still open, so it
costs O((W + T) log T) plus the number of turns that truly overlap each word, never W x T (whisperX's
per-word scan took 74 s on a 7-minute file: see STYLE.md).

Pure functions: the inputs are frozen dataclasses and are never mutated; new values are built with
``dataclasses.replace``.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace

from verbatim.pipeline.types import Diarization, Segment, SpeakerTurn, Transcript, Word, join_words

__all__ = ["DEFAULT_MAX_GAP", "assign_speakers"]

DEFAULT_MAX_GAP = 1.0
"""A word that overlaps no turn takes the nearest turn's speaker when that turn is at most this many seconds
away; farther than that it keeps the previous word's speaker (a pause inside one person's speech)."""


def assign_speakers(
    transcript: Transcript,
    diarization: Diarization,
    *,
    max_gap: float = DEFAULT_MAX_GAP,
) -> Transcript:
    """Give every word and segment a speaker, splitting segments where the speaker changes.

    Each word takes the speaker whose turns overlap it most (ties go to the turn that starts first). A word
    that overlaps no turn takes the speaker of the nearest turn within ``max_gap`` seconds, else the previous
    word's speaker. A segment whose words change speaker is split at the word boundaries; the pieces get the
    joined words as text and keep the language and log-probability fields. A segment without words takes the
    speaker of the turns that overlap it most (same fallbacks). Segment ids are renumbered 0..n-1 in time
    order, and ``speakers`` lists every speaker that appears, in order of first appearance, keeping the
    display names already set.

    Args:
        transcript: the transcript to annotate; not modified.
        diarization: the speaker turns; not modified. With no turns the transcript is returned unchanged.
        max_gap: how far (seconds) a turn may be from a word that overlaps no turn and still give it its
            speaker.

    Returns:
        A new transcript with speakers on every word and segment.
    """
    if not diarization.turns:
        return transcript
    index = _TurnIndex(diarization.turns, max_gap=max_gap)

    # Every word, and every segment that has no words, is one interval to label. They are labelled in start
    # order (the sweep needs it); the previous-speaker fallback follows that order too.
    intervals: list[tuple[float, float]] = []
    for segment in transcript.segments:
        if segment.words:
            intervals.extend((w.start, w.end) for w in segment.words)
        else:
            intervals.append((segment.start, segment.end))
    labels = index.label(intervals)

    segments: list[Segment] = []
    position = 0
    for segment in transcript.segments:
        if not segment.words:
            segments.append(replace(segment, speaker=labels[position]))
            position += 1
            continue
        words = tuple(replace(w, speaker=labels[position + i]) for i, w in enumerate(segment.words))
        position += len(words)
        segments.extend(_split_by_speaker(segment, words))

    # Stable sort: pieces of one segment never overlap, and equal starts keep their original order.
    ordered = sorted(segments, key=lambda s: s.start)
    renumbered = tuple(replace(s, id=i) for i, s in enumerate(ordered))
    return replace(
        transcript,
        segments=renumbered,
        speakers=_speaker_names(renumbered, transcript.speakers),
    )


class _TurnIndex:
    """Turns sorted by start, with what the sweep and the nearest-turn fallback need."""

    def __init__(self, turns: Sequence[SpeakerTurn], *, max_gap: float) -> None:
        self.turns = sorted(turns, key=lambda t: (t.start, t.end))
        self.starts = [t.start for t in self.turns]
        # argmax_end[i]: which of turns[0..i] ends last. Of the turns starting before an interval ends, that
        # one is the closest before it (used when the interval overlaps no turn).
        self.argmax_end: list[int] = []
        best = -1
        for i, turn in enumerate(self.turns):
            if best < 0 or turn.end > self.turns[best].end:
                best = i
            self.argmax_end.append(best)
        self.max_gap = max_gap

    def label(self, intervals: Sequence[tuple[float, float]]) -> list[str]:
        """Speaker of each interval, in the input order."""
        order = sorted(range(len(intervals)), key=lambda i: intervals[i][0])
        labels = [""] * len(intervals)
        open_turns: list[tuple[float, int]] = []  # heap of (end, turn index)
        next_turn = 0
        reach = float("-inf")  # the latest interval end seen so far: turns starting before it are pushed
        previous: str | None = None
        for i in order:
            start, end = intervals[i]
            reach = max(reach, end)
            while next_turn < len(self.turns) and self.turns[next_turn].start < reach:
                heapq.heappush(open_turns, (self.turns[next_turn].end, next_turn))
                next_turn += 1
            # Starts are visited in increasing order, so a turn that ends before this start is done for good.
            while open_turns and open_turns[0][0] <= start:
                heapq.heappop(open_turns)
            speaker = self._most_overlapping(open_turns, start, end)
            if speaker is None:
                speaker = self._nearest(start, end, previous)
            labels[i] = previous = speaker
        return labels

    def _most_overlapping(self, open_turns: list[tuple[float, int]], start: float, end: float) -> str | None:
        # Overlap summed per speaker: one speaker's turns may overlap each other (several diarization models
        # emit such fragments) and should count once each, side by side with the other speakers'.
        totals: dict[str, float] = {}
        first: dict[str, int] = {}
        for _, k in open_turns:
            turn = self.turns[k]
            overlap = min(end, turn.end) - max(start, turn.start)
            if overlap > 0:
                totals[turn.speaker] = totals.get(turn.speaker, 0.0) + overlap
                first[turn.speaker] = min(first.get(turn.speaker, k), k)
        if not totals:
            return None
        return max(totals, key=lambda s: (totals[s], -first[s]))

    def _nearest(self, start: float, end: float, previous: str | None) -> str:
        candidates: list[tuple[float, int]] = []  # (distance, turn index)
        after = bisect_right(self.starts, end)
        if after > 0:
            k = self.argmax_end[after - 1]
            candidates.append((max(0.0, start - self.turns[k].end), k))
        if after < len(self.turns):
            candidates.append((self.turns[after].start - end, after))
        distance, k = min(candidates)
        if distance <= self.max_gap or previous is None:
            # A word before the first word with a speaker has no previous speaker: the nearest turn, however
            # far, is the best guess.
            return self.turns[k].speaker
        return previous


def _split_by_speaker(segment: Segment, words: tuple[Word, ...]) -> list[Segment]:
    """Pieces of ``segment`` with one speaker each; the first and last keep the segment's outer times."""
    groups: list[list[Word]] = []
    for word in words:
        if groups and groups[-1][-1].speaker == word.speaker:
            groups[-1].append(word)
        else:
            groups.append([word])
    if len(groups) == 1:
        return [replace(segment, words=words, speaker=words[0].speaker)]
    pieces: list[Segment] = []
    for n, group in enumerate(groups):
        start = min(segment.start, group[0].start) if n == 0 else group[0].start
        end = max(segment.end, group[-1].end) if n == len(groups) - 1 else group[-1].end
        pieces.append(
            replace(
                segment,
                start=start,
                end=max(end, start),
                text=join_words(group),
                words=tuple(group),
                speaker=group[0].speaker,
            )
        )
    return pieces


def _speaker_names(segments: Sequence[Segment], existing: dict[str, str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for segment in segments:
        for speaker in (segment.speaker, *(w.speaker for w in segment.words)):
            if speaker is not None and speaker not in names:
                names[speaker] = existing.get(speaker, speaker)
    return names
