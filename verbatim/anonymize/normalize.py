"""Text normalisation for detection: accent and case folding, and spoken French numbers turned into digits.

A transcript says "zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit" where a document writes
"06 12 34 56 78". :func:`normalize_numbers` rewrites runs of French number words as digits and keeps a map
from every character of the rewritten text back to the original, so the rule recognizers run once, on
digits, and their spans are mapped back onto the words that were spoken.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

__all__ = [
    "NormalizedText",
    "fold",
    "french_number",
    "normalize_numbers",
]


def fold(text: str) -> str:
    """Lower case without accents and with apostrophes, hyphens and dots unified (for comparisons)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    bare = bare.replace("’", "'").replace("‐", "-").replace("–", "-")
    return bare.casefold()


_UNITS: Final = {
    "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
    "seize": 16,
}  # fmt: skip
_TENS: Final = {"vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60}
_NUMBER_WORDS: Final = frozenset(_UNITS) | frozenset(_TENS) | {"cent", "cents", "mille", "et"}
# Words that are numbers only beside other numbers ("un enfant", "une voiture neuve" stay words).
_AMBIGUOUS_ALONE: Final = frozenset({"un", "une", "neuf", "et", "cent", "mille"})

_WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿ]+")
# Between two number words of one spoken run: spaces, hyphens, commas (a speaker's pauses).
_JOINER = re.compile(r"[\s,\-]*")


@dataclass(frozen=True)
class NormalizedText:
    """Text with spoken numbers written as digits, and the way back.

    Attributes:
        text: the rewritten text.
        starts / ends: for each character of ``text``, the original span it comes from.
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original offsets of ``text[start:end]``."""
        return self.starts[start], self.ends[end - 1]


def _parse_group(words: list[str], i: int, joined: list[bool]) -> tuple[int, int] | None:
    """Parse one number below 10 000 starting at ``words[i]``: (value, next index), or None.

    ``joined[k]`` says that word k is hyphenated to word k - 1: tens and units are one number only when
    hyphenated ("soixante-douze" is 72, "soixante douze" is 60 then 12, as phone numbers are said).
    """

    def below_100(j: int) -> tuple[int, int] | None:
        if j >= len(words):
            return None
        w = words[j]
        if w == "dix" and j + 1 < len(words) and words[j + 1] in ("sept", "huit", "neuf") and joined[j + 1]:
            return 10 + _UNITS[words[j + 1]], j + 2
        if w in _UNITS:
            return _UNITS[w], j + 1
        if w in _TENS:
            value, k = _TENS[w], j + 1
            # quatre-vingt(s) is handled by the caller; here "soixante-dix", "trente et un", "vingt-deux".
            if (
                k < len(words)
                and words[k] == "et"
                and k + 1 < len(words)
                and words[k + 1] in ("un", "une", "onze")
            ):
                return value + _UNITS[words[k + 1]], k + 2
            if value == 60 and k < len(words) and joined[k]:
                sub = below_100_teen(k)
                if sub is not None:
                    return 60 + sub[0], sub[1]
            if k < len(words) and words[k] in _UNITS and 1 <= _UNITS[words[k]] <= 9 and joined[k]:
                return value + _UNITS[words[k]], k + 1
            return value, k
        return None

    def below_100_teen(k: int) -> tuple[int, int] | None:
        # 10..19 after soixante / quatre-vingt: dix, onze..seize, dix-sept..dix-neuf.
        w = words[k]
        if w == "dix":
            if k + 1 < len(words) and words[k + 1] in ("sept", "huit", "neuf") and joined[k + 1]:
                return 10 + _UNITS[words[k + 1]], k + 2
            return 10, k + 1
        if w in _UNITS and 11 <= _UNITS[w] <= 16:
            return _UNITS[w], k + 1
        return None

    def tens_and_units(j: int) -> tuple[int, int] | None:
        if (
            j + 1 < len(words)
            and words[j] == "quatre"
            and words[j + 1] in ("vingt", "vingts")
            and joined[j + 1]
        ):
            k = j + 2
            if k < len(words) and joined[k]:
                teen = below_100_teen(k)
                if teen is not None:
                    return 80 + teen[0], teen[1]
                if words[k] in _UNITS and 1 <= _UNITS[words[k]] <= 9:
                    return 81 + _UNITS[words[k]] - 1, k + 1
            return 80, k
        return below_100(j)

    def below_1000(j: int) -> tuple[int, int] | None:
        if j < len(words) and words[j] in ("cent", "cents"):
            hundreds, k = 1, j + 1
        elif (
            j + 1 < len(words)
            and words[j] in _UNITS
            and 2 <= _UNITS[words[j]] <= 9
            and words[j + 1]
            in (
                "cent",
                "cents",
            )
        ):
            hundreds, k = _UNITS[words[j]], j + 2
        else:
            return tens_and_units(j)
        rest = tens_and_units(k) if k < len(words) else None
        # "cent douze": one number; but "cent, zéro" would be two: a zero never follows cent.
        if rest is not None and rest[0] > 0:
            return hundreds * 100 + rest[0], rest[1]
        return hundreds * 100, k

    if i >= len(words):
        return None
    if words[i] == "mille":
        thousands, k = 1, i + 1
    else:
        head = below_1000(i)
        if head is None:
            return None
        if head[1] < len(words) and words[head[1]] == "mille":
            thousands, k = head[0], head[1] + 1
        else:
            return head
    rest = below_1000(k) if k < len(words) else None
    if rest is not None and rest[0] > 0:
        return thousands * 1000 + rest[0], rest[1]
    return thousands * 1000, k


def normalize_numbers(text: str) -> NormalizedText:
    """Rewrite runs of French number words as digits ("zéro six, douze" -> "0 6 12").

    Each number of a run becomes its digits, numbers of one run are separated by one space, and a run's
    separators (commas, hyphens) disappear into it. Lone "un", "une", "neuf"... stay words.

    Args:
        text: any French text.

    Returns:
        The rewritten text with its map back to ``text``.
    """
    tokens = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    i = 0
    while i < len(tokens):
        if tokens[i][2] not in _NUMBER_WORDS or tokens[i][2] == "et":
            i += 1
            continue
        # Collect a run of number words joined only by spaces, hyphens and commas.
        j = i + 1
        while (
            j < len(tokens)
            and tokens[j][2] in _NUMBER_WORDS
            and _JOINER.fullmatch(text[tokens[j - 1][1] : tokens[j][0]])
        ):
            j += 1
        run = tokens[i:j]
        while run and run[-1][2] == "et":
            run = run[:-1]
        words = [t[2] for t in run]
        followed_by_years = j < len(tokens) and tokens[j][2] in ("an", "ans")
        if len(words) == 1 and words[0] in _AMBIGUOUS_ALONE and not followed_by_years:
            i = j
            continue
        groups: list[tuple[str, int, int]] = []
        ok = True
        # A comma is a pause between two numbers: "quatre-vingt-dix-neuf, mille" is 99 then 1000.
        pieces: list[list[int]] = [[]]
        for n, _token in enumerate(run):
            if n and "," in text[run[n - 1][1] : run[n][0]]:
                pieces.append([])
            pieces[-1].append(n)
        for piece in pieces:
            sub = [words[n] for n in piece]
            hyphens = [n > 0 and "-" in text[run[n - 1][1] : run[n][0]] for n in piece]
            said = [text[run[n][0] : run[n][1]].lower() for n in piece]
            found = _piece_numbers(sub, hyphens, said)
            if found is None:
                ok = False
                break
            for digits, k, nxt in found:
                groups.append((digits, run[piece[k]][0], run[piece[nxt - 1]][1]))
        if not ok or not groups:
            i = j
            continue
        # Copy the text before the run, then the digits of each group mapped onto its words.
        run_start = run[0][0]
        for c in range(pos, run_start):
            out.append(text[c])
            starts.append(c)
            ends.append(c + 1)
        for g, (digits, g_start, g_end) in enumerate(groups):
            if g:
                out.append(" ")
                starts.append(g_start)
                ends.append(g_start)
            for d in digits:
                out.append(d)
                starts.append(g_start)
                ends.append(g_end)
        pos = run[-1][1]
        i = j
    for c in range(pos, len(text)):
        out.append(text[c])
        starts.append(c)
        ends.append(c + 1)
    return NormalizedText("".join(out), tuple(starts), tuple(ends))


def _piece_numbers(
    words: list[str], hyphens: list[bool], said: list[str]
) -> list[tuple[str, int, int]] | None:
    """The numbers of one pause-free piece of a run of number words (``words`` folded, ``said`` as written,
    in lower case): (digits, first word, end word)."""
    if USE_TEXT2NUM:
        found = _text2num_numbers(words, hyphens, said)
        if found is not None:
            return found
    out = []
    k = 0
    while k < len(words):
        if words[k] == "et":  # "trente-quatre et cinquante": a word between two numbers
            k += 1
            continue
        parsed = _parse_group(words, k, hyphens)
        if parsed is None:
            return None
        value, nxt = parsed
        out.append((str(value), k, nxt))
        k = nxt
    return out


USE_TEXT2NUM = True
"""Parse number words with text2num's ``find_numbers`` when it is installed (own parser otherwise)."""


_TEENS_AFTER_VINGT: Final = ("dix", "onze", "douze", "treize", "quatorze", "quinze", "seize")


class _Token:
    """A number word for text2num's ``find_numbers`` (its token protocol), with how it joins the previous."""

    def __init__(self, word: str, said: str, hyphenated: bool, next_word: str) -> None:
        self.word = word
        self.said = said
        self.hyphenated = hyphenated
        self.next_word = next_word  # the next word when hyphenated to this one, else ""

    def text(self) -> str:
        return self.said

    def text_lowercase(self) -> str:
        return self.said

    def nt_separated(self, previous: _Token) -> bool:
        # As numbers are dictated (a phone number in pairs): "soixante douze" is 60 then 12, "soixante-douze"
        # is 72; "quatre vingt-quatre" is 4 then 24 ("quatre vingt-dix" stays 90).
        if self.hyphenated:
            return False
        if previous.word in _TENS and self.word in _UNITS:
            return True
        teen = self.next_word in ("", *_TEENS_AFTER_VINGT)
        return self.word == "vingt" and previous.word in _UNITS and not teen

    def not_a_number_part(self) -> bool:
        return False


def _text2num_numbers(
    words: list[str], hyphens: list[bool], said: list[str]
) -> list[tuple[str, int, int]] | None:
    """:func:`_piece_numbers` by text2num: token indices of each number found, so that its digits map back
    onto the words they were said in (``alpha2digit`` gives a rewritten text and no way back). None when
    text2num is not installed or leaves a number word unread."""
    try:
        from text_to_num import find_numbers
    except ImportError:
        return None
    tokens = [
        _Token(w, s, h, words[k + 1] if k + 1 < len(words) and hyphens[k + 1] else "")
        for k, (w, s, h) in enumerate(zip(words, said, hyphens, strict=True))
    ]
    found = [(str(o.text), int(o.start), int(o.end)) for o in find_numbers(tokens, "fr", 0.0)]
    covered = {k for _, start, end in found for k in range(start, end)}
    if any(k not in covered and w != "et" for k, w in enumerate(words)):
        return None
    # One digit string per spoken group, as the own parser gives them ("zéro six": "0 6", not "06").
    out: list[tuple[str, int, int]] = []
    for digits, start, end in found:
        if digits.startswith("0") and len(digits) > 1 and end - start == len(digits):
            out.extend(("0" if d == "0" else d, start + n, start + n + 1) for n, d in enumerate(digits))
        else:
            out.append((digits, start, end))
    return out


_UNIT_WORDS: Final = (
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
    "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
)  # fmt: skip
_TENS_WORDS: Final = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante"}


def french_number(n: int) -> str:
    """A number below one million as French words (rectified spelling: hyphens throughout).

    Args:
        n: 0 <= n < 1_000_000.

    Returns:
        e.g. ``78`` -> ``"soixante-dix-huit"``, ``71`` -> ``"soixante-et-onze"``.
    """
    if not 0 <= n < 1_000_000:
        raise ValueError(f"{n} is out of range")
    if n < 20:
        return _UNIT_WORDS[n]
    if n < 100:
        tens, units = divmod(n, 10)
        if tens in (7, 9):
            base = "soixante" if tens == 7 else "quatre-vingt"
            return f"{base}-{'et-' if n == 71 else ''}{_UNIT_WORDS[10 + units]}"
        if tens == 8:
            return "quatre-vingts" if units == 0 else f"quatre-vingt-{_UNIT_WORDS[units]}"
        word = _TENS_WORDS[tens]
        if units == 0:
            return word
        return f"{word}-et-un" if units == 1 else f"{word}-{_UNIT_WORDS[units]}"
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = "cent" if hundreds == 1 else f"{_UNIT_WORDS[hundreds]} cent{'s' if rest == 0 else ''}"
        return head if rest == 0 else f"{head} {french_number(rest)}"
    thousands, rest = divmod(n, 1000)
    head = "mille" if thousands == 1 else f"{french_number(thousands)} mille"
    return head if rest == 0 else f"{head} {french_number(rest)}"
