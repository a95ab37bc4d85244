"""One set of people per transcript: names known from anywhere, found again everywhere.

- :class:`KnownMentionRecognizer`: names, places and organisations found elsewhere in the same document
  (another segment, a speaker name, the French text a translation comes from) and the case's hide list,
  found again: capitalised, in lower case where a transcript lost its capitals (when the word is no common
  French word), and misspelt ("Dupon" for "Dupont": edit distance on folded text).
- :class:`LowerCaseNameRecognizer`: first names written in lower case, as ASR output often has them
  ("c'est karim qui..."), when the word is a first name and no French word.
- :class:`CapitalsNameRecognizer`: a full name written in capitals ("Je suis ANTOINETTE DURAND"), which the
  NER model misses or takes for a place.
- :func:`with_particles`: a private person's span takes in the capitalised particle right before it, when
  the name was found again without it ("famille Le Gall", "? Le Gall ?").

Hide-list entries are flagged ``PER/hide`` in the ``known`` mapping: found in any case, at the highest score,
never taken for a professional.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from functools import lru_cache
from typing import Final

from verbatim.anonymize.lexicon import common_word as _common_word
from verbatim.anonymize.names import _AMBIGUOUS_FIRST_NAMES as _AMBIGUOUS
from verbatim.anonymize.names import faker_first_names, name_tokens
from verbatim.anonymize.normalize import fold
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.spans import Span
from verbatim.anonymize.wordnames import bare_name_position

__all__ = [
    "HIDE",
    "PEOPLE_RECOGNIZERS",
    "CapitalsNameRecognizer",
    "KnownMentionRecognizer",
    "LowerCaseNameRecognizer",
    "hide_known",
    "near_misses",
    "with_particles",
]

HIDE: Final = "PER/hide"
"""The ``known`` category of a hide-list name."""

_WORD = re.compile(r"(?<![\w'’\-])[^\W\d_]{3,}(?:-[^\W\d_]{2,})?(?![\w'’])")


def hide_known(names: Iterable[str]) -> dict[str, str]:
    """The ``known`` entries of a hide list: each name whole and each of its words, flagged :data:`HIDE`."""
    known: dict[str, str] = {}
    for name in names:
        whole = " ".join(fold(name).split())
        if len(whole) >= 2:
            known[whole] = HIDE
        for token in name_tokens(name):
            if len(token) >= 2:
                known[token] = HIDE
    return known


def near_misses(word: str, candidates: Iterable[str]) -> str | None:
    """The known name that ``word`` misspells (folded; one edit under 8 letters, two from 8), if any.

    Both must have 5 letters or more and begin with the same letter: shorter names have too many
    neighbours among ordinary words.
    """
    from rapidfuzz.distance import Levenshtein

    folded = fold(word)
    if len(folded) < 5:
        return None
    for candidate in candidates:
        if len(candidate) < 5 or candidate[0] != folded[0] or candidate == folded:
            continue
        limit = 1 if len(candidate) < 8 else 2
        if abs(len(candidate) - len(folded)) <= limit and Levenshtein.distance(folded, candidate) <= limit:
            return candidate
    return None


class KnownMentionRecognizer:
    """Mentions known from elsewhere (the same document, its speaker names, the case's hide list)."""

    name = "known"
    languages = frozenset({"*"})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        if not context.known:
            return []
        text = context.text
        folded_text = _fold_keep_length(text)
        french = context.language == "fr"
        spans: list[Span] = []
        taken: list[tuple[int, int]] = []
        for mention in sorted(context.known, key=len, reverse=True):
            if len(mention) < 2:
                continue
            category, _, flag = context.known[mention].partition("/")
            hide = flag == "hide"
            pattern = re.compile(rf"(?<![\w'’\-]){re.escape(mention)}(?![\w'’])")
            for m in pattern.finditer(folded_text):
                if any(m.start() < e and s < m.end() for s, e in taken):
                    continue
                capital = text[m.start()].isupper()
                # Lower case: a hidden name always; a known person when the word is no French word.
                lower_ok = hide or (
                    category == "PER"
                    and len(mention) >= 3
                    and (
                        any(c.isdigit() for c in mention)
                        or (french and not _common_word(mention) and mention not in _AMBIGUOUS)
                    )
                )
                # A known person's name that is also a word ("claire"): where a name fits, not a noun.
                if not capital and not lower_ok and category == "PER" and french and " " not in mention:
                    lower_ok = bare_name_position(text, m.start(), m.end())
                if not capital and not lower_ok:
                    continue
                taken.append((m.start(), m.end()))
                spans.append(
                    Span(
                        m.start(), m.end(), category, 1.0 if hide else 0.9 if capital else 0.8,
                        text[m.start() : m.end()], "hide" if hide else self.name,
                        professional=flag == "professional",
                    )
                )  # fmt: skip
        spans.extend(self._misspelt(context, taken))
        return spans

    def _misspelt(self, context: AnalysisContext, taken: list[tuple[int, int]]) -> list[Span]:
        people = {m: c for m, c in context.known.items() if c.startswith("PER") and " " not in m}
        if not people:
            return []
        spans = []
        for m in _WORD.finditer(context.text):
            word = m.group()
            if not word[0].isupper() or any(m.start() < e and s < m.end() for s, e in taken):
                continue
            if context.language == "fr" and (_common_word(word) or fold(word) in _AMBIGUOUS):
                continue
            target = near_misses(word, people)
            if target is None:
                continue
            hide = people[target] == HIDE
            spans.append(
                Span(m.start(), m.end(), "PER", 0.95 if hide else 0.8, word, "near_miss", key=target)
            )
        return spans


class LowerCaseNameRecognizer:
    """A first name in lower case ("c'est karim qui m'a dit"): on the first-name list, no French word."""

    name = "lower_name"
    languages = frozenset({"fr"})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        names = french_first_names()
        spans = []
        for m in _WORD.finditer(context.text):
            word = m.group()
            if not word.islower():
                continue
            folded = fold(word)
            if folded not in names or _common_word(word) or folded in _AMBIGUOUS:
                continue
            spans.append(Span(m.start(), m.end(), "PER", 0.6, word, self.name))
        return spans


_CAPS_WORD = re.compile(r"(?<![\w'’\-])[^\W\d_]{2,}(?:-[^\W\d_]{2,})?(?![\w'’\-])")


class CapitalsNameRecognizer:
    """A full name in capitals ("Je suis ANTOINETTE DURAND", "LÉA MARTIN-DUBOIS").

    Two to four words in capitals on one line, separated by blanks, at least one a first name given in France
    (not an ambiguous one, no common word): the first name and the capitalised words next to it that are
    no common French words, or the one word right after it (a surname may be a word: "MARTIN", "BLANC").
    A lone word in capitals (an acronym, a shouted word) is never taken.
    """

    name = "capitals_name"
    languages = frozenset({"fr"})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        names = french_first_names()
        text = context.text
        words = [m for m in _CAPS_WORD.finditer(text) if m.group().isupper()]
        spans: list[Span] = []
        i = 0
        while i < len(words):
            folded = fold(words[i].group())
            if folded not in names or folded in _AMBIGUOUS or _common_word(words[i].group()):
                i += 1
                continue
            start, end = i, i
            while start > 0 and _adjacent(text, words[start - 1], words[start]) and i - start < 3:
                if _common_word(words[start - 1].group()):
                    break
                start -= 1
            while end + 1 < len(words) and _adjacent(text, words[end], words[end + 1]) and end - start < 3:
                if end > i and _common_word(words[end + 1].group()):
                    break
                end += 1
            if end > start:
                s, e = words[start].start(), words[end].end()
                spans.append(Span(s, e, "PER", 0.9, text[s:e], self.name))
            i = end + 1
        return spans


def _adjacent(text: str, left: re.Match[str], right: re.Match[str]) -> bool:
    gap = text[left.end() : right.start()]
    return bool(gap) and not gap.strip(" \t")


_PARTICLE_BEFORE: Final = re.compile(r"(?<![\w'’\-])(?:Le|La|Du|Des|De|Van|Von|Di|Da|Del|Ben)[ \t]+$")


def with_particles(spans: list[Span], text: str) -> list[Span]:
    """Private person spans extended to a capitalised particle right before them ("Le" of "Le Gall").

    The particle is part of the surname: left before the alias ("famille Le Durand") it tells the name
    was "Le ...". Professionals and other categories are left as they are.
    """
    out: list[Span] = []
    previous_end = 0
    for span in spans:
        if span.category == "PER" and not span.professional:
            m = _PARTICLE_BEFORE.search(text, previous_end, span.start)
            if m is not None:
                span = replace(span, start=m.start(), text=text[m.start() : span.end])
        out.append(span)
        previous_end = span.end
    return out


_FRENCH_LOCALES: Final = ("fr_FR", "fr_CA", "fr_CH", "fr_BE", "ar_AA")


@lru_cache(maxsize=1)
def french_first_names() -> frozenset[str]:
    """Folded first names given in France (Faker's French-speaking and Arabic lists).

    Narrower than :func:`~verbatim.anonymize.names.first_names`: a word in lower case is taken for a name
    on this list alone ("cas", a Dutch first name, is a French word first).
    """
    return faker_first_names(_FRENCH_LOCALES)


def _fold_keep_length(text: str) -> str:
    # fold() may change the length (decomposition); fold character by character to keep offsets.
    return "".join(fold(c)[:1] or c for c in text)


PEOPLE_RECOGNIZERS: Final = (KnownMentionRecognizer, LowerCaseNameRecognizer, CapitalsNameRecognizer)
"""Registered by :func:`verbatim.anonymize.registry.builtin_registry`."""
