"""The one small type that joins detection and replacement: a detected span of identifying text.

Recognizers return :class:`Span` values (as Presidio's ``RecognizerResult``); policies filter them and
operators replace them. Offsets are Python string indices into the text that was analysed, ``end`` exclusive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Final

__all__ = [
    "CATEGORIES",
    "IDENTIFYING",
    "Span",
    "merge_spans",
]

CATEGORIES: Final = (
    "PER",  # a natural person: full name, first name or surname alone, spelled out
    "LOC",  # a place: town, region, country, building
    "ORG",  # an organisation: school, employer, association
    "ADDRESS",  # a postal address (number and street, postcode and town)
    "PHONE",
    "EMAIL",
    "NIR",  # French social security number
    "IBAN",
    "COMPANY_ID",  # SIREN or SIRET number of a business (a sole trader's names a person)
    "PLATE",  # vehicle licence plate
    "CASE_NUMBER",  # procedure, case, PV, RG, parquet numbers
    "BIRTHDATE",  # a date of birth (in context)
    "AGE",  # an age (in context)
    "DATE",  # any other calendar date
)
"""Every category a recognizer may return."""

IDENTIFYING: Final = frozenset(CATEGORIES) - {"DATE"}
"""Categories that identify someone on their own or nearly (a procedural date does not)."""


@dataclass(frozen=True)
class Span:
    """An identifying stretch of text found by a recognizer.

    Attributes:
        start: index of the first character in the analysed text.
        end: index after the last character.
        category: one of :data:`CATEGORIES`.
        score: confidence in [0, 1]; context words raise it.
        text: the covered text (``text == analysed[start:end]``).
        source: the recognizer that found it (``spacy``, ``phone``, ``nir``...).
        professional: for ``PER``, the person acts in a professional capacity (judge, clerk, lawyer,
            investigator); policies may keep such names.
        key: a normalised value of the span used to recognise the same entity again (digits of a phone
            number, letters of a spelled-out name); empty when the folded text will do.
    """

    start: int
    end: int
    category: str
    score: float
    text: str
    source: str
    professional: bool = False
    key: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"invalid span offsets {self.start}..{self.end}")

    def shifted(self, offset: int) -> Span:
        """The same span with its offsets moved by ``offset`` (for text analysed in pieces)."""
        return replace(self, start=self.start + offset, end=self.end + offset)

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def to_public(self) -> dict[str, object]:
        """The span as JSON types (``verbatim pseudonymize --spans``)."""
        return {
            "start": self.start,
            "end": self.end,
            "category": self.category,
            "text": self.text,
            "score": round(self.score, 3),
            "source": self.source,
            "professional": self.professional,
        }


# When two spans overlap, the more specific category wins at equal score: a phone number inside an address,
# an e-mail that spaCy called an organisation.
_PRIORITY: Final = {
    "EMAIL": 9,
    "IBAN": 9,
    "COMPANY_ID": 9,
    "NIR": 9,
    "PHONE": 8,
    "PLATE": 8,
    "CASE_NUMBER": 7,
    "BIRTHDATE": 7,
    "ADDRESS": 6,
    "AGE": 5,
    "PER": 4,
    "ORG": 3,
    "LOC": 3,
    "DATE": 2,
}


def _rank(span: Span) -> tuple[float, int, int]:
    return (span.score, _PRIORITY.get(span.category, 0), span.end - span.start)


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Resolve overlaps: one span per stretch of text, sorted by start.

    Overlapping spans of the same category are united (their best score kept, professional only when
    all say so). Otherwise the best-ranked span (score, then category specificity, then length) is kept and
    the others are dropped, unless they extend beyond it, in which case they are cut to the part outside.

    Args:
        spans: spans over the same text, any order.

    Returns:
        Non-overlapping spans in text order.
    """
    ordered = sorted(spans, key=lambda s: (s.start, -s.end))
    # First pass: unite overlapping spans of the same category.
    united: list[Span] = []
    by_category: dict[str, list[Span]] = {}
    for span in ordered:
        group = by_category.setdefault(span.category, [])
        if group and group[-1].end > span.start:
            last = group[-1]
            text = last.text + span.text[last.end - span.start :] if span.end > last.end else last.text
            group[-1] = replace(
                last,
                end=max(last.end, span.end),
                text=text,
                score=max(last.score, span.score),
                professional=last.professional and span.professional,  # one private part keeps it private
                key=last.key or span.key,
            )
        else:
            group.append(span)
    for group in by_category.values():
        united.extend(group)
    # Second pass: across categories, best first; lower-ranked spans keep only what is left uncovered.
    kept: list[Span] = []
    for span in sorted(united, key=_rank, reverse=True):
        pieces = [span]
        for other in kept:
            next_pieces: list[Span] = []
            for piece in pieces:
                if not piece.overlaps(other):
                    next_pieces.append(piece)
                    continue
                # A lower-ranked span that only overlaps is cut; what remains must still be a word.
                if piece.start < other.start:
                    next_pieces.append(_cut(piece, piece.start, other.start))
                if piece.end > other.end:
                    next_pieces.append(_cut(piece, other.end, piece.end))
            pieces = [p for p in next_pieces if p.text.strip() and any(c.isalnum() for c in p.text)]
        kept.extend(pieces)
    return sorted(kept, key=lambda s: s.start)


def _cut(span: Span, start: int, end: int) -> Span:
    text = span.text[start - span.start : end - span.start]
    stripped_left = len(text) - len(text.lstrip(" ,;:.-'’"))
    stripped_right = len(text) - len(text.rstrip(" ,;:.-'’"))
    new_start, new_end = start + stripped_left, end - stripped_right
    if new_end <= new_start:
        return replace(span, start=start, end=start + 1, text=" ")  # dropped by the caller (no alnum)
    return replace(span, start=new_start, end=new_end, text=text[stripped_left : len(text) - stripped_right])
