"""The analyzer: runs the recognizers of a language over a text and resolves what they found.

Order: the detection text (:mod:`~verbatim.anonymize.layout`: NFC, invisible characters removed, speaker
labels blanked) -> every recognizer -> overlaps merged -> names, places and organisations found again across
the whole text -> professionals marked -> surname particles taken in -> spans cut out of labels -> offsets
mapped back onto the original.
The result is a list of non-overlapping :class:`~verbatim.anonymize.spans.Span` in text order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Final

from verbatim.anonymize.layout import detection_text
from verbatim.anonymize.names import mark_professionals, propagate
from verbatim.anonymize.people import with_particles
from verbatim.anonymize.recognizers import AnalysisContext, Recognizer
from verbatim.anonymize.registry import RecognizerRegistry, builtin_registry
from verbatim.anonymize.spans import Span, merge_spans

__all__ = ["DEFAULT_RECOGNIZERS", "Analyzer", "analyzer_from", "default_analyzer"]

RULES: Final = (
    "phone", "email", "nir", "iban", "company_id", "plate", "case_number", "date", "age", "address",
)  # fmt: skip
NAMES: Final = (
    "title", "context_name", "first_name", "lower_name", "capitals_name", "word_name", "spelled", "known",
)  # fmt: skip
DEFAULT_RECOGNIZERS: Final = (*RULES, *NAMES, "spacy", "spacy_en")
"""Recognizers of the default analyzer, by registered name."""


class Analyzer:
    """Finds identifying spans in texts with a fixed set of recognizers.

    Args:
        recognizers: the recognizers to run (each only on the languages it declares).
        propagate_names: find names, places and organisations again across the text.
        min_score: spans below this score are dropped.

    Raises:
        ValueError: no recognizer at all (a misconfigured analyzer would find nothing and say nothing).
    """

    def __init__(
        self, recognizers: Sequence[Recognizer], *, propagate_names: bool = True, min_score: float = 0.5
    ) -> None:
        if not recognizers:
            raise ValueError("Misconfigured analyzer: no recognizer given")
        self.recognizers = tuple(recognizers)
        self.propagate_names = propagate_names
        self.min_score = min_score

    def analyze(self, text: str, *, language: str = "fr", known: dict[str, str] | None = None) -> list[Span]:
        """Identifying spans of ``text``.

        Args:
            text: the text (a transcript's segments joined by newlines, a document...).
            language: ISO 639-1 code; recognizers that do not declare it are skipped.
            known: folded mention -> category (``PER/professional`` for a professional) of entities found in
                a related text (the French source of a translation), found again here.

        Returns:
            Non-overlapping spans in text order, professionals marked.
        """
        if not text.strip():
            return []
        # Recognizers see the detection text (NFC, no invisible characters, speaker labels blanked).
        detection = detection_text(text)
        context = AnalysisContext(detection.text, language, dict(known or {}))
        found: list[Span] = []
        for recognizer in self.recognizers:
            if language in recognizer.languages or "*" in recognizer.languages:
                found.extend(recognizer.analyze(context))
        spans = merge_spans(s for s in found if s.score >= self.min_score)
        if self.propagate_names:
            spans = merge_spans(propagate(spans, detection.text, lower_case=language == "fr"))
        spans = with_particles(mark_professionals(spans, detection.text), detection.text)
        spans = _outside_labels(spans, detection.labels)
        if detection.identity:
            return spans
        out = []
        for span in spans:
            start, end = detection.original_span(span.start, span.end)
            out.append(replace(span, start=start, end=end, text=text[start:end]))
        return out


@lru_cache(maxsize=8)
def default_analyzer(*, ner: bool = True, propagate_names: bool = True) -> Analyzer:
    """The analyzer with every built-in recognizer (spaCy's NER models load on first use of a language)."""
    return analyzer_from(builtin_registry(), ner=ner, propagate_names=propagate_names)


def analyzer_from(
    registry: RecognizerRegistry,
    names: Sequence[str] = DEFAULT_RECOGNIZERS,
    *,
    ner: bool = True,
    propagate_names: bool = True,
) -> Analyzer:
    """An analyzer running the recognizers ``names`` of ``registry`` (``ner=False`` leaves spaCy out)."""
    chosen = names if ner else tuple(n for n in names if not n.startswith("spacy"))
    return Analyzer([registry.create(n) for n in chosen], propagate_names=propagate_names)


def _outside_labels(spans: list[Span], labels: Sequence[tuple[int, int]]) -> list[Span]:
    """Spans cut to what lies outside the speaker labels, without whitespace at their ends."""
    out: list[Span] = []
    for span in spans:
        pieces = [(span.start, span.end)]
        for l_start, l_end in labels:
            if l_start >= span.end or l_end <= span.start:
                continue
            next_pieces = []
            for start, end in pieces:
                if start < l_start:
                    next_pieces.append((start, min(end, l_start)))
                if end > l_end:
                    next_pieces.append((max(start, l_end), end))
            pieces = next_pieces
        for start, end in pieces:
            text = span.text[start - span.start : end - span.start]
            lead = len(text) - len(text.lstrip())
            trail = len(text) - len(text.rstrip())
            if not any(c.isalnum() for c in text):
                continue
            if (start, end) == (span.start, span.end) and not lead and not trail:
                out.append(span)
            else:
                out.append(
                    replace(span, start=start + lead, end=end - trail, text=text[lead : len(text) - trail])
                )
    return out
