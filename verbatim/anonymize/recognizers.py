"""The recognizer protocol and the analysis context they share (the registry that names them is
:class:`verbatim.anonymize.registry.RecognizerRegistry`).

A recognizer looks at one text and returns :class:`~verbatim.anonymize.spans.Span` values. Rule
recognizers work on the text with spoken numbers written as digits
(:func:`~verbatim.anonymize.normalize.normalize_numbers`) and map their matches back; the spaCy
recognizer works on the text itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from verbatim.anonymize.normalize import NormalizedText, fold, normalize_numbers
from verbatim.anonymize.spans import Span

__all__ = ["AnalysisContext", "Recognizer", "RecognizerFactory", "boost"]


@dataclass
class AnalysisContext:
    """What recognizers receive: the text, its digit-normalised form, the language.

    Attributes:
        text: the analysed text.
        language: ISO 639-1 code of the text (``fr``, ``en``).
        known: folded mention -> category of entities already found elsewhere (a transcript's French text,
            when its English translation is analysed), so that the same names are found again.
    """

    text: str
    language: str = "fr"
    known: dict[str, str] = field(default_factory=dict)
    _normalized: NormalizedText | None = None

    @property
    def normalized(self) -> NormalizedText:
        if self._normalized is None:
            self._normalized = normalize_numbers(self.text)
        return self._normalized

    def span_from_normalized(
        self, start: int, end: int, category: str, score: float, source: str, key: str = ""
    ) -> Span | None:
        """A span over the original text from offsets in :attr:`normalized` (None if it maps to nothing)."""
        o_start, o_end = self.normalized.original_span(start, end)
        if o_end <= o_start:
            return None
        return Span(o_start, o_end, category, score, self.text[o_start:o_end], source, key=key)


@runtime_checkable
class Recognizer(Protocol):
    """Finds identifying spans of some categories in a text."""

    name: str
    languages: frozenset[str]

    def analyze(self, context: AnalysisContext) -> list[Span]:
        """Spans found in ``context.text`` (offsets into it)."""
        ...


RecognizerFactory = Callable[[], Recognizer]
"""Makes a recognizer (a recognizer class itself, usually)."""


_WORD = re.compile(r"[\w'’\-]+")


def boost(
    spans: Iterable[Span],
    text: str,
    words: Iterable[str],
    *,
    amount: float = 0.35,
    window: int = 60,
    after: bool = False,
) -> list[Span]:
    """Raise the score of spans that have one of ``words`` (folded) in the ``window`` characters before
    them (and after them when ``after``): "mon numéro", "je m'appelle", "immatriculée".
    """
    folded_words = tuple(fold(w) for w in words)
    out = []
    for span in spans:
        before = fold(text[max(0, span.start - window) : span.start])
        around = before + " " + fold(text[span.end : span.end + window]) if after else before
        if any(w in around for w in folded_words):
            span = Span(
                span.start, span.end, span.category, min(1.0, span.score + amount), span.text, span.source,
                span.professional, span.key,
            )  # fmt: skip
        out.append(span)
    return out
