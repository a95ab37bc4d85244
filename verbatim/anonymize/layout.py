"""What a text looks like before detection: invisible characters, composed accents, speaker labels.

Detection runs on a *detection text*: the original in NFC, without zero-width and bidirectional control
characters (which split a name for a reader's eye and for a regular expression alike: "Ju\u200blie"), and
with the speaker labels and role words that open a line of a transcript ("L'enquêteur :", "Greffière :",
"Question :", "S2 :", "SPEAKER_01 :") blanked out. Labels are layout, not entities, and a role word in a label
qualifies nobody named after it. Every character of the detection text maps back to the original characters
it comes from, so a replacement covers the whole original span, invisible characters included.

:func:`refuse_invisible` is the check for what people type (corrections, speaker names): such characters
are refused with a message saying which and where, since a right-to-left override can make a court record
read differently from what it holds.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Final

from verbatim.errors import InvalidOptionError

__all__ = [
    "INVISIBLE",
    "DetectionText",
    "detection_text",
    "is_structure_label",
    "label_spans",
    "refuse_invisible",
    "strip_invisible",
]

INVISIBLE: Final = frozenset(
    "\u00ad\u061c\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff"
)
"""Zero-width characters, soft hyphen and bidirectional controls (marks, embeddings, overrides, isolates)."""

_INVISIBLE_RE: Final = re.compile("[" + "".join(sorted(INVISIBLE)) + "]")


def strip_invisible(text: str) -> str:
    """``text`` without :data:`INVISIBLE` characters, in NFC."""
    return unicodedata.normalize("NFC", _INVISIBLE_RE.sub("", text))


def refuse_invisible(text: str, *, what: str) -> str:
    """Check typed text (a correction, a speaker name): no invisible or bidirectional control character.

    Args:
        text: the text as typed.
        what: what it is, for the message ("correction", "speaker name").

    Returns:
        The text in NFC.

    Raises:
        InvalidOptionError: the text holds such a character (the message names it and its position).
    """
    m = _INVISIBLE_RE.search(text)
    if m is not None:
        name = unicodedata.name(m.group(), f"U+{ord(m.group()):04X}")
        raise InvalidOptionError(
            f"{what}: invisible or text-direction character U+{ord(m.group()):04X} ({name}) at position "
            f"{m.start()}; remove it (it can hide or reorder what the text says)"
        )
    return unicodedata.normalize("NFC", text)


# --- speaker labels -------------------------------------------------------------------------------------

_ROLE = (
    r"enqu[eê]t(?:eur|rice|eure)s?|greffi(?:er|ère|ere)s?|juges?(?:\s+des\s+enfants|\s+d['’]instruction)?|"
    r"président(?:e)?|presidente?|procureur(?:e)?|substitut|avocat(?:e)?s?|conseil|ma[iî]tre|"
    r"officier(?:\s+de\s+police(?:\s+judiciaire)?)?|opj|apj|policier|policière|gendarme|brigadier(?:-chef)?|"
    r"capitaine|lieutenant|commandant|adjudant(?:-chef)?|major|commissaire|interprète|interprete|"
    r"traduct(?:eur|rice)|expert(?:e)?|psychologue|éducat(?:eur|rice)|educat(?:eur|rice)|"
    r"administrat(?:eur|rice)\s+ad\s+hoc|assesseur|témoin|temoin|victime|plaignant(?:e)?|mineur(?:e)?|"
    r"enfant|mis(?:e)?\s+en\s+cause|prévenu(?:e)?|prevenu(?:e)?|partie\s+civile|requérant(?:e)?|"
    r"père|mère|maman|papa|question|réponse|reponse|demande|intervenant(?:e)?|locut(?:eur|rice)|orateur|"
    r"interlocut(?:eur|rice)|auditionné(?:e)?|investigator|interviewer|officer|clerk|judge|witness|child|"
    r"interpreter|lawyer|counsel|prosecutor|speaker|question|answer|inconnu(?:e)?|unknown"
)
_QUALIFIER = (
    r"(?:\s+(?:de\s+la\s+défense|de\s+la\s+partie\s+civile|du\s+mineur|de\s+la\s+mineure|de\s+l['’]enfant|"
    r"adjoint(?:e)?|principal(?:e)?|en\s+chef|\d{1,2}|[A-Z]\b))?"
)
_ARTICLE = r"(?:(?:l['’]|le\s+|la\s+|les\s+|the\s+)|(?:m\.|mme|madame|monsieur)\s+(?:le\s+|la\s+|l['’])?)?"
_SPEAKER_ID = (
    r"SPEAKER[_ ]?\d{1,3}|S\d{1,3}|L\d{1,2}|[QRD]|Locut(?:eur|rice)\s*\d{1,3}|Intervenant(?:e)?\s*\d{1,3}|"
    r"Speaker\s*\d{1,3}|Orateur\s*\d{1,3}|Personne\s*\d{1,3}|Voix\s*\d{1,3}"
)
_LABEL_BODY = rf"(?:{_SPEAKER_ID}|(?i:{_ARTICLE}(?:{_ROLE}){_QUALIFIER}))"
# A time stamp may open the line ("[00:01:02] Enquêteur :"); a label ends at its colon (or a dash).
_TIMESTAMP = r"(?:\[?\(?\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?\)?\]?\s*(?:-->\s*\S+\s*)?)?"
_LABEL_RE: Final = re.compile(rf"({_LABEL_BODY})\s*(?::|—|–|-(?=\s))(?=\s|$)")
_LINE_START: Final = re.compile(rf"(?m)^[ \t]*{_TIMESTAMP}")
_WHOLE_LABEL: Final = re.compile(rf"\s*{_LABEL_BODY}\s*")


def is_structure_label(name: str) -> bool:
    """Whether a speaker name is a role or a speaker id ("Enquêteur", "S2", "SPEAKER_01"), not a person."""
    return bool(_WHOLE_LABEL.fullmatch(strip_invisible(name)))


def label_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the speaker labels that open the lines of ``text``, colon included.

    Several labels may follow one another ("Greffière : Question : ..."); a label is only a role word or a
    speaker id, never a name ("Mme Martin :" is not one: her name is found as any other).
    """
    spans: list[tuple[int, int]] = []
    for line in _LINE_START.finditer(text):
        cursor = line.end()
        while True:
            m = _LABEL_RE.match(text, cursor)
            if m is None:
                break
            spans.append((m.start(), m.end()))
            cursor = m.end()
            while cursor < len(text) and text[cursor] in " \t":
                cursor += 1
    return spans


@dataclass(frozen=True)
class DetectionText:
    """The text recognizers see, and the way back to the original.

    Attributes:
        text: NFC, invisible characters removed, speaker labels blanked (spaces, same length).
        starts / ends: for each character of ``text``, the original characters it comes from.
        labels: (start, end) of the speaker labels, in ``text``'s offsets.
        identity: ``text`` is the original, character for character (no mapping needed).
    """

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    labels: tuple[tuple[int, int], ...]
    identity: bool

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original offsets of ``text[start:end]``."""
        if self.identity:
            return start, end
        return self.starts[start], self.ends[end - 1]


def detection_text(text: str) -> DetectionText:
    """The detection text of ``text`` (see the module's docstring).

    Args:
        text: the text as stored.

    Returns:
        The detection text with its map back to ``text``.
    """
    clean = text
    starts: list[int] = []
    ends: list[int] = []
    identity = not _INVISIBLE_RE.search(text) and unicodedata.is_normalized("NFC", text)
    if not identity:
        out: list[str] = []
        i, n = 0, len(text)
        while i < n:
            if text[i] in INVISIBLE:
                i += 1
                continue
            # A base character with its combining marks (and invisible characters between them) composes.
            j = i + 1
            while j < n and (unicodedata.combining(text[j]) or text[j] in INVISIBLE):
                j += 1
            cluster = unicodedata.normalize("NFC", "".join(c for c in text[i:j] if c not in INVISIBLE))
            for c in cluster:
                out.append(c)
                starts.append(i)
                ends.append(j)
            i = j
        clean = "".join(out)
    labels = label_spans(clean)
    if labels:
        chars = list(clean)
        for start, end in labels:
            chars[start:end] = " " * (end - start)
        clean = "".join(chars)
    return DetectionText(clean, tuple(starts), tuple(ends), tuple(labels), identity)
