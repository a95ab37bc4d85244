"""Replacement: a policy applied to detected spans, in plain texts and in whole transcripts.

:class:`Pseudonymizer` holds the aliases of one document, so a transcript, its translation and every export
made from them use the same pseudonyms. :func:`pseudonymize_transcript` is pure: it returns a new transcript
and the correspondence table, and never changes its input.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from verbatim.anonymize.aliases import LABELS, AliasRegistry
from verbatim.anonymize.crypto import encrypt_document, encrypt_token, key_fingerprint
from verbatim.anonymize.layout import is_structure_label
from verbatim.anonymize.names import name_tokens
from verbatim.anonymize.normalize import fold
from verbatim.anonymize.people import HIDE, hide_known
from verbatim.anonymize.policy import Policy
from verbatim.anonymize.spans import Span
from verbatim.errors import InvalidOptionError

if TYPE_CHECKING:
    from verbatim.anonymize.analyzer import Analyzer
    from verbatim.pipeline.types import Segment, Transcript, Word

__all__ = [
    "MAPPING_SCHEMA",
    "HandMark",
    "PseudonymizationMapping",
    "PseudonymizedText",
    "Pseudonymizer",
    "Replacement",
    "pseudonymize_text",
    "pseudonymize_transcript",
]

MAPPING_SCHEMA: Final = "verbatim.pseudonymization/1"


@dataclass(frozen=True)
class Replacement:
    """One replaced span: where (in the original text), what it was and what it became."""

    start: int
    end: int
    category: str
    operator: str
    original: str
    replacement: str


@dataclass(frozen=True)
class HandMark:
    """A span of a segment's words marked by hand as personal data (``marked``) or left in clear.

    Attributes:
        segment_id: the segment's id.
        word_index: its first word.
        word_count: how many words.
        marked: True: replaced (and its text hidden wherever it appears, like the hide list); False: what
            the recognizers found there is left in clear (a word that is no one's name: "Pierre" the stone).
    """

    segment_id: int
    word_index: int
    word_count: int
    marked: bool


@dataclass(frozen=True)
class PseudonymizedText:
    """A text after replacement, with every span found and the replacements made."""

    text: str
    spans: tuple[Span, ...]
    replacements: tuple[Replacement, ...]


@dataclass(frozen=True)
class PseudonymizationMapping:
    """The correspondence table of a pseudonymised copy, and what the audio release needs.

    Attributes:
        policy: the policy's name.
        entries: alias -> originals (``{"alias", "category", "originals"}``), for entitled readers only.
        replacements: every replacement with its place (``segment``, ``translation`` or ``text``, index).
        intervals: (start, end) seconds of the recording covered by replaced words, sorted and merged.
        counts: replaced spans per category.
        key_id: fingerprint of the key of encrypted tokens, if any.
    """

    policy: str
    entries: tuple[dict[str, Any], ...]
    replacements: tuple[dict[str, Any], ...]
    intervals: tuple[tuple[float, float], ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    key_id: str | None = None

    def header(self) -> dict[str, Any]:
        """The ``pseudonymization`` header of a pseudonymised transcript document (no original text)."""
        return {
            "schema": MAPPING_SCHEMA,
            "policy": self.policy,
            "replaced": dict(sorted(self.counts.items())),
            "key_id": self.key_id,
        }

    def to_document(self) -> dict[str, Any]:
        """The whole table as JSON types (original texts included: encrypt it before storing)."""
        return {
            **self.header(),
            "entries": list(self.entries),
            "replacements": list(self.replacements),
            "intervals": [list(i) for i in self.intervals],
        }

    def encrypt(self, key: bytes, *, context: str) -> bytes:
        """The table as an AES-256-GCM envelope bound to ``context`` (the job id)."""
        return encrypt_document(key, self.to_document(), context=context)


class Pseudonymizer:
    """Applies a policy to texts of one document with consistent aliases.

    Args:
        policy: what to replace and how.
        analyzer: the detector (default: every built-in recognizer with spaCy's French model).
        key: the AES key; needed only by a policy using the ``encrypt`` operator.
        hide: names the case already knows (the minor's, the family's): hidden wherever they appear, in any
            case, spelled out or misspelt, whatever role word stands near them.

    Raises:
        InvalidOptionError: the policy encrypts and no key was given.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        analyzer: Analyzer | None = None,
        key: bytes | None = None,
        hide: Sequence[str] = (),
    ) -> None:
        if "encrypt" in policy.operators.values() and key is None:
            raise InvalidOptionError(f"policy {policy.name} encrypts spans: a pseudonymisation key is needed")
        if analyzer is None:
            from verbatim.anonymize.analyzer import default_analyzer

            analyzer = default_analyzer()
        self.policy = policy
        self.analyzer = analyzer
        self.key = key
        self.registry = AliasRegistry(policy.alias_style)
        self._counts: Counter[str] = Counter()
        self._known: dict[str, str] = {}
        self._hide = hide_known(hide)

    def hide_whole(self, texts: Sequence[str]) -> None:
        """Hide these texts wherever they appear, whole (a span marked by hand: "la petite Claire" hides
        that, not every "petite")."""
        for text in texts:
            whole = " ".join(fold(text).split())
            if len(whole) >= 2:
                self._hide[whole] = HIDE

    def analyze(self, text: str, *, language: str = "fr", known: dict[str, str] | None = None) -> list[Span]:
        """Spans of ``text`` (every category, before the policy); the hide list is always looked for."""
        return self.analyzer.analyze(text, language=language, known={**(known or {}), **self._hide})

    def selected(self, spans: list[Span]) -> list[Span]:
        """The spans the policy replaces (a hidden name is replaced even where named in a role)."""
        return [
            s
            for s in spans
            if self.policy.operator_for(s.category) != "keep"
            and s.score >= self.policy.min_score
            and not (
                s.professional
                and self.policy.keep_professionals
                and s.category == "PER"
                and not any(t in self._hide for t in name_tokens(s.text))
            )
        ]

    def learn(self, spans: list[Span]) -> None:
        """Record a document's mentions before replacing (first names vs surnames, names to avoid)."""
        self.registry.learn_people(spans)
        for span in spans:
            if span.category == "PER" and span.key and len(span.key) >= 3 and span.key.isalpha():
                self._known.setdefault(span.key, "PER")
            if span.category == "PER" and span.source != "spelled":
                flag = "PER/professional" if span.professional else "PER"
                for token in name_tokens(span.text):
                    if len(token) >= 3 and self._known.get(token) != "PER":
                        self._known[token] = flag
            elif span.category in ("LOC", "ORG", "ADDRESS") and len(span.text) >= 4:
                self._known.setdefault(fold(span.text), span.category)

    @property
    def known(self) -> dict[str, str]:
        """Mentions learnt so far (folded text -> category), to find them again in a translation."""
        return dict(self._known)

    def replace_spans(self, text: str, spans: list[Span], *, language: str = "fr") -> PseudonymizedText:
        """Apply the policy to already detected ``spans`` of ``text``."""
        pieces: list[str] = []
        replacements: list[Replacement] = []
        cursor = 0
        for span in sorted(self.selected(spans), key=lambda s: s.start):
            if span.start < cursor:
                continue
            operator = self.policy.operator_for(span.category)
            new = self._apply(operator, span, language)
            pieces.append(text[cursor : span.start])
            pieces.append(new)
            cursor = span.end
            replacements.append(Replacement(span.start, span.end, span.category, operator, span.text, new))
            self._counts[span.category] += 1
        pieces.append(text[cursor:])
        return PseudonymizedText("".join(pieces), tuple(spans), tuple(replacements))

    def pseudonymize(
        self, text: str, *, language: str = "fr", known: dict[str, str] | None = None
    ) -> PseudonymizedText:
        """Detect and replace in one text (aliases shared with every other text of this pseudonymizer)."""
        merged_known = {**self._known, **(known or {})}
        spans = self.analyze(text, language=language, known=merged_known)
        self.learn(spans)
        return self.replace_spans(text, spans, language=language)

    def _apply(self, operator: str, span: Span, language: str) -> str:
        if operator == "pseudonym":
            if span.category == "PER":
                return self.registry.person(span)
            return self.registry.numbered(span, language)
        if operator == "mask":
            return re.sub(r"\w", "X", span.text)
        if operator == "redact":
            return f"[{LABELS.get(language, LABELS['fr']).get(span.category, span.category)}]"
        if operator == "encrypt":
            assert self.key is not None  # checked in __init__
            return encrypt_token(self.key, span.text, category=span.category)
        return span.text

    def mapping(
        self, replacements: list[dict[str, Any]], intervals: list[tuple[float, float]] | None = None
    ) -> PseudonymizationMapping:
        """The correspondence table of everything replaced so far."""
        return PseudonymizationMapping(
            policy=self.policy.name,
            entries=tuple(e.to_public() for e in self.registry.entries()),
            replacements=tuple(replacements),
            intervals=tuple(_merge_intervals(intervals or [])),
            counts=dict(self._counts),
            key_id=key_fingerprint(self.key) if self.key is not None else None,
        )


def pseudonymize_text(
    text: str,
    policy: Policy,
    *,
    language: str = "fr",
    analyzer: Analyzer | None = None,
    key: bytes | None = None,
    hide: Sequence[str] = (),
) -> tuple[PseudonymizedText, PseudonymizationMapping]:
    """Pseudonymise one text (``hide``: names always hidden, see :class:`Pseudonymizer`).

    Returns:
        The replaced text with its spans, and the correspondence table.
    """
    engine = Pseudonymizer(policy, analyzer=analyzer, key=key, hide=hide)
    result = engine.pseudonymize(text, language=language)
    rows = [_row("text", 0, r) for r in result.replacements]
    return result, engine.mapping(rows)


def _row(where: str, index: int, r: Replacement) -> dict[str, Any]:
    return {
        "where": where,
        "index": index,
        "start": r.start,
        "end": r.end,
        "category": r.category,
        "operator": r.operator,
        "original": r.original,
        "replacement": r.replacement,
    }


def _merge_intervals(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def split_spans(spans: list[Span], bounds: list[tuple[int, int]]) -> list[list[Span]]:
    """Spans of a text made by :func:`join_texts`, re-based onto each piece (cut at piece boundaries)."""
    out: list[list[Span]] = [[] for _ in bounds]
    for span in spans:
        for i, (start, end) in enumerate(bounds):
            lo, hi = max(span.start, start), min(span.end, end)
            if lo < hi:
                piece = replace(
                    span, start=lo - start, end=hi - start, text=span.text[lo - span.start : hi - span.start]
                )
                if piece.text.strip():
                    out[i].append(piece)
    return out


def join_texts(texts: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Texts joined by newlines (analysed together), and each one's (start, end) in the result."""
    bounds = []
    cursor = 0
    for text in texts:
        bounds.append((cursor, cursor + len(text)))
        cursor += len(text) + 1
    return "\n".join(texts), bounds


def _locate_words(text: str, words: tuple[Word, ...]) -> list[tuple[int, int] | None]:
    """Character offsets of each word in its segment's text (None when it cannot be found)."""
    located: list[tuple[int, int] | None] = []
    cursor = 0
    for word in words:
        needle = word.text.strip()
        at = text.find(needle, cursor) if needle else -1
        if at < 0:
            located.append(None)
            continue
        located.append((at, at + len(needle)))
        cursor = at + len(needle)
    return located


def _replace_words(
    segment: Segment, result: PseudonymizedText
) -> tuple[tuple[Word, ...], list[tuple[float, float]]]:
    """The segment's words after replacement, and the times of the replaced ones."""
    if not result.replacements:
        return segment.words, []
    if not segment.words:
        # No word timestamps: the whole segment is covered in the audio release.
        return (), [(segment.start, segment.end)]
    located = _locate_words(segment.text, segment.words)
    words = list(segment.words)
    intervals: list[tuple[float, float]] = []
    new_words: list[Word] = []
    i = 0
    replacements = sorted(result.replacements, key=lambda r: r.start)
    consumed: set[int] = set()
    for r in replacements:
        hit = [k for k, loc in enumerate(located) if loc is not None and loc[0] < r.end and r.start < loc[1]]
        if not hit:
            # The text and its words disagree: cover the segment rather than risk leaving the word audible.
            intervals.append((segment.start, segment.end))
            continue
        first, last = hit[0], hit[-1]
        intervals.append((words[first].start, words[last].end))
        consumed.update(range(first, last + 1))
    for k, word in enumerate(words):
        if k in consumed:
            continue
        new_words.append(word)
    # One word per replacement, at the place of the words it replaces, keeping the text around the span.
    for r in replacements:
        hit = [k for k, loc in enumerate(located) if loc is not None and loc[0] < r.end and r.start < loc[1]]
        if not hit:
            continue
        first, last = hit[0], hit[-1]
        loc_first, loc_last = located[first], located[last]
        assert loc_first is not None and loc_last is not None
        prefix = segment.text[loc_first[0] : r.start] if r.start > loc_first[0] else ""
        suffix = segment.text[r.end : loc_last[1]] if r.end < loc_last[1] else ""
        leading = words[first].text[: len(words[first].text) - len(words[first].text.lstrip())]
        new_words.append(
            replace(
                words[first],
                end=words[last].end,
                text=leading + prefix + r.replacement + suffix,
                probability=min(w.probability for w in words[first : last + 1]),
            )
        )
        i += 1
    new_words.sort(key=lambda w: (w.start, w.end))
    return tuple(new_words), intervals


_LOGIN_LIKE = re.compile(r"[^\W_]+(?:[._\-][^\W_]+)*\d*")


def _speaker_spans(engine: Pseudonymizer, name: str, language: str) -> list[Span]:
    """A speaker name's spans: none for a role or a speaker id; else its names, or the whole name."""
    if not name.strip() or is_structure_label(name):
        return []
    found = engine.analyze(name, language=language, known=engine.known)
    if any(s.category == "PER" and s.professional for s in found):
        return found  # "Maître Durand": a professional named in their role, as in the text
    # A name typed for a speaker is a person's, whole, even when no recognizer knows it ("Zyx Abc"); a
    # login or handle ("jdupont42") gets one alias for the whole of it.
    stripped = name.strip()
    start = name.index(stripped)
    if not any(c.isalpha() for c in stripped):
        return found
    login = _LOGIN_LIKE.fullmatch(stripped) is not None and (
        any(c.isdigit() for c in stripped) or stripped.islower()
    )
    return [Span(start, start + len(stripped), "PER", 1.0, stripped, "speaker" if login else "speaker_name")]


def pseudonymize_transcript(
    transcript: Transcript,
    policy: Policy,
    *,
    analyzer: Analyzer | None = None,
    key: bytes | None = None,
    hide: Sequence[str] = (),
    marks: Sequence[HandMark] = (),
) -> tuple[Transcript, PseudonymizationMapping]:
    """A pseudonymised copy of a transcript, its translation and its speaker names, and the table.

    One set of people per transcript: speaker names and the hide list are analysed first, then the segments
    together with the names they gave (names found in one segment are found in all), then the translation
    with every name, place and organisation of the original (misspellings included), so the same person has
    the same alias everywhere. A speaker name that is a role or a speaker id ("Enquêteur", "SPEAKER_01")
    stays; any other is a person's (a login such as "jdupont42" included). The input is not modified.

    Args:
        transcript: the original transcript.
        policy: what to replace and how.
        analyzer: the detector (default: the built-in one with spaCy's French model).
        key: AES key, for policies that encrypt.
        hide: names the case already knows, hidden in the text, the translation, the speaker names and
            (through the replaced words' times) the released recording.
        marks: spans marked or unmarked by hand on the transcript page, in the order they were made (a later
            one over the same words wins). A marked span is replaced and its text hidden everywhere; an
            unmarked one is left in clear in its segment and that segment's translation.

    Returns:
        The pseudonymised transcript (file name removed) and its correspondence table, whose ``intervals``
        are the times of the replaced words.
    """
    hand = _hand_ranges(transcript, marks)
    marked_texts = [text for ranges in hand.values() for _, _, text, marked in ranges if marked]
    engine = Pseudonymizer(policy, analyzer=analyzer, key=key, hide=hide)
    engine.hide_whole(marked_texts)
    language = transcript.language or "fr"
    speaker_spans = {
        speaker_id: _speaker_spans(engine, name, language) for speaker_id, name in transcript.speakers.items()
    }
    for found in speaker_spans.values():
        engine.learn(found)
    segments = transcript.segments
    joined, bounds = join_texts([s.text for s in segments])
    spans = engine.analyze(joined, language=language, known=engine.known)
    engine.learn(spans)

    translations = [getattr(s, "translation", None) for s in segments]
    tr_language = next((t.language for t in translations if t is not None), None)
    tr_spans_by_segment: list[list[Span]] = [[] for _ in segments]
    if tr_language is not None:
        tr_joined, tr_bounds = join_texts([t.text if t is not None else "" for t in translations])
        tr_spans = engine.analyze(tr_joined, language=tr_language, known=engine.known)
        engine.learn(tr_spans)
        tr_spans_by_segment = split_spans(tr_spans, tr_bounds)

    rows: list[dict[str, Any]] = []
    intervals: list[tuple[float, float]] = []
    new_segments = []
    for index, (segment, seg_spans) in enumerate(zip(segments, split_spans(spans, bounds), strict=True)):
        ranges = hand.get(segment.id, [])
        seg_spans = _by_hand(seg_spans, ranges)
        result = engine.replace_spans(segment.text, seg_spans, language=language)
        rows.extend(_row("segment", segment.id, r) for r in result.replacements)
        words, covered = _replace_words(segment, result)
        intervals.extend(covered)
        changes: dict[str, Any] = {"text": result.text, "words": words}
        translation = translations[index]
        if translation is not None and tr_language is not None:
            # What was left in clear by hand stays in clear in this segment's translation too.
            unmarked = {fold(text) for _, _, text, marked in ranges if not marked}
            tr_spans = [s for s in tr_spans_by_segment[index] if fold(s.text) not in unmarked]
            tr_result = engine.replace_spans(translation.text, tr_spans, language=tr_language)
            rows.extend(_row("translation", segment.id, r) for r in tr_result.replacements)
            changes["translation"] = replace(translation, text=tr_result.text)
        new_segments.append(replace(segment, **changes))

    speakers = {}
    for speaker_id, name in transcript.speakers.items():
        result = engine.replace_spans(name, speaker_spans[speaker_id], language=language)
        rows.extend({**_row("speaker", 0, r), "speaker": speaker_id} for r in result.replacements)
        speakers[speaker_id] = result.text
    copy = replace(transcript, segments=tuple(new_segments), speakers=speakers, filename="")
    return copy, engine.mapping(rows, intervals)


HandRange = tuple[int, int, str, bool]  # (start, end, text, marked) in a segment's text


def _hand_ranges(transcript: Transcript, marks: Sequence[HandMark]) -> dict[int, list[HandRange]]:
    """Each segment's hand-marked character ranges; a later mark over the same words replaces an earlier."""
    latest: dict[tuple[int, int, int], bool] = {}
    for mark in marks:
        where = (mark.segment_id, mark.word_index, mark.word_count)
        latest.pop(where, None)
        latest[where] = mark.marked
    by_id = {segment.id: segment for segment in transcript.segments}
    out: dict[int, list[HandRange]] = {}
    for (segment_id, first, count), marked in latest.items():
        segment = by_id.get(segment_id)
        if segment is None or count < 1:
            continue
        located = _locate_words(segment.text, segment.words)[first : first + count]
        if len(located) != count or any(loc is None for loc in located):
            continue  # the words no longer line up with the text: nothing to place
        start, end = located[0][0], located[-1][1]  # type: ignore[index]
        text = segment.text[start:end]
        if text.strip():
            out.setdefault(segment_id, []).append((start, end, text, marked))
    return out


def _by_hand(spans: list[Span], ranges: Sequence[HandRange]) -> list[Span]:
    """A segment's spans with the hand marks applied in order: unmarked ranges cleared, marked ones added."""
    out = list(spans)
    for start, end, text, marked in ranges:
        out = [s for s in out if not (s.start < end and start < s.end)]
        if marked:
            out.append(Span(start, end, "PER", 1.0, text, "hand"))
    return sorted(out, key=lambda s: s.start)
