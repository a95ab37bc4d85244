"""Consistent pseudonyms: the same person, place or number gets the same alias everywhere.

Persons are handled word by word: each first name and each surname (folded: no accents, no case) gets its
own alias, so "Julie", "Julie Martin", "Mme Martin", "MARTIN Julie" and "M-A-R-T-I-N" all become the same
"Camille", "Camille Durand", "Mme Durand", "DURAND Camille" and "D-U-R-A-N-D" (or "[A] [B]" in the letter
style of the Cour de cassation); a relative sharing the surname shares its alias, as in a published decision.
Other categories are numbered per category ("[Lieu 1]", "[Téléphone 2]"), keyed by their normalised value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from verbatim.anonymize.layout import strip_invisible
from verbatim.anonymize.names import TITLES, first_names
from verbatim.anonymize.normalize import fold
from verbatim.anonymize.people import near_misses
from verbatim.anonymize.spans import Span

__all__ = ["LABELS", "AliasRegistry", "MappingEntry"]

LABELS: Final = {
    "fr": {
        "PER": "Personne", "LOC": "Lieu", "ORG": "Organisation", "ADDRESS": "Adresse", "PHONE": "Téléphone",
        "EMAIL": "Courriel", "NIR": "NIR", "IBAN": "IBAN", "PLATE": "Immatriculation",
        "COMPANY_ID": "SIREN/SIRET",
        "CASE_NUMBER": "Numéro de procédure", "BIRTHDATE": "Date de naissance", "AGE": "Âge", "DATE": "Date",
    },
    "en": {
        "PER": "Person", "LOC": "Place", "ORG": "Organisation", "ADDRESS": "Address", "PHONE": "Phone",
        "EMAIL": "E-mail", "NIR": "Social security number", "IBAN": "IBAN", "PLATE": "Licence plate",
        "COMPANY_ID": "Company number",
        "CASE_NUMBER": "Case number", "BIRTHDATE": "Date of birth", "AGE": "Age", "DATE": "Date",
    },
}  # fmt: skip
"""Category labels of the redacted and numbered forms, per language of the text."""

# Invented names for the "names" style: epicene first names (the alias must not hint at a gender that the
# original may not have) and common surnames. Aliases are never one of the names of the document itself.
_ALIAS_FIRST: Final = (
    "Camille", "Dominique", "Claude", "Alix", "Sacha", "Charlie", "Maxime", "Morgan", "Lou", "Eden", "Noa",
    "Andrea", "Ange", "Céleste", "Gaël", "Jordan", "Loïc", "Marion", "Maël", "Yannick", "Stéphane",
    "Frédéric", "Pascal", "Ariel", "Élie", "Hélie", "Swann", "Kim", "Lenny", "Louison", "Sasha", "Tony",
    "Valéry", "Amaury",
)  # fmt: skip
_ALIAS_LAST: Final = (
    "Durand", "Lefort", "Mercier", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry",
    "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez",
    "Fontaine", "Chevalier", "Robin", "Masson", "Sanchez", "Denis", "Lemaire", "Duval", "Joly", "Gautier",
    "Roger", "Roche", "Roy", "Noël", "Meyer", "Lucas", "Meunier", "Jean", "Perez", "Marchand", "Dufour",
    "Blanchard",
)  # fmt: skip

_NAME_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_SURNAME_PARTICLE: Final = re.compile(
    r"(?<![\w'’\-])(?:Le|La|Les|Du|Des|De|Van|Von|Der|Den|Di|Da|Del|Ben|LE|LA|DU|DE|VAN|VON|DI|DA|BEN)[ \t]+"
    r"(?=[A-ZÀ-ÖØ-Ý])"
)
"""A capitalised particle before a capitalised word of a person's name: part of the surname."""
_PARTICLES: Final = frozenset(
    {"de", "du", "des", "d", "van", "von", "der", "le", "la", "el", "al", "ben", "ibn", "bin", "da"}
)


@dataclass
class MappingEntry:
    """One line of the correspondence table: an alias and every original form it stands for."""

    alias: str
    category: str
    originals: set[str] = field(default_factory=set)

    def to_public(self) -> dict[str, object]:
        return {"alias": self.alias, "category": self.category, "originals": sorted(self.originals)}


def _letters(n: int) -> str:
    # 0 -> A, 25 -> Z, 26 -> AA ...
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _spelled_like(template: str, word: str) -> str:
    """``word`` spelled with the separators of ``template`` ("M, A, R" -> "D, U, R, A, N, D")."""
    separator = re.search(r"[^\W\d_]([\W_]+)[^\W\d_]", template)
    sep = separator.group(1) if separator else "-"
    letters = [c for c in fold(word).upper() if c.isalpha()]
    return sep.join(letters)


def _spelled_key(span: Span) -> str:
    """The letters of a name spelled out ("L-É-A" -> "lea"), found by any recognizer; "" when not spelled."""
    if span.source in ("spelled", "near_miss") and span.key:
        return span.key  # the letters spelled, or the known name a misspelling stands for
    words = _NAME_WORD.findall(strip_invisible(span.text))
    if len(words) >= 3 and all(len(w) == 1 for w in words):
        return fold("".join(words))
    return ""


def _cased_like(template: str, alias: str) -> str:
    if template.isupper() and len(template) > 1:
        return alias.upper()
    if template.islower():
        return alias.lower()
    return alias


class AliasRegistry:
    """Aliases of one document (a transcript with its translation and every export of it).

    Args:
        style: ``names`` (invented names) or ``letters`` ("[A]").
        reserved: folded words that must never be used as an alias (the document's own names).
    """

    def __init__(
        self, style: Literal["names", "letters"] = "names", reserved: set[str] | None = None
    ) -> None:
        self.style = style
        self._reserved = set(reserved or ())
        self._roles: dict[str, str] = {}  # folded name word -> "first" | "last"
        self._people: dict[str, MappingEntry] = {}  # folded name word -> entry
        self._others: dict[tuple[str, str], MappingEntry] = {}  # (category, key) -> entry
        self._counters: dict[str, int] = {}
        self._next_first = 0
        self._next_last = 0
        self._next_letter = 0

    # --- persons ----------------------------------------------------------------------------------

    def learn_people(self, spans: list[Span]) -> None:
        """Decide, from every mention of the document, which name words are first names and which surnames.

        A word before another name word in a mention is a first name ("Julie Martin"), unless written in
        capitals ("MARTIN Julie"); a word alone is a first name when it is a known first name.
        """
        known_first = first_names()
        mentions = [self._words(s) for s in spans if s.category == "PER"]
        # Full names first: they say which word is which; a word alone only fills in what they left open.
        mentions.sort(key=len, reverse=True)
        for words in mentions:
            self._reserved.update(w for w, _ in words)
            for i, (word, original) in enumerate(words):
                if self._roles.get(word) == "first":
                    continue
                capitals = original.isupper() and len(original) > 1
                if len(words) > 1 and capitals:
                    role = "last"  # "MARTIN Julie", "Julie MARTIN"
                elif any(o.isupper() and len(o) > 1 for _, o in words[:i]):
                    role = "first"  # after a surname in capitals
                elif i < len(words) - 1:
                    role = "first"
                elif word in self._roles:
                    continue
                elif len(words) == 1 and word in known_first:
                    role = "first"
                else:
                    role = self._roles.get(word, "last")
                self._roles[word] = role

    def _words(self, span: Span) -> list[tuple[str, str]]:
        if span.source == "speaker":
            return [(fold(strip_invisible(span.text)), span.text)]
        key = _spelled_key(span)
        if key:
            return [(key, key)]
        return [
            (fold(w), w)
            for w in _NAME_WORD.findall(strip_invisible(span.text))
            if fold(w) not in _PARTICLES and fold(w).rstrip(".") not in TITLES and len(w) >= 2
        ]

    def _person_alias(self, word: str, original: str) -> MappingEntry:
        entry = self._people.get(word)
        if entry is None:
            role = self._roles.get(word, "last")
            if self.style == "letters":
                alias = f"[{_letters(self._next_letter)}]"
                self._next_letter += 1
            elif role == "first":
                alias = self._pick(_ALIAS_FIRST, "first")
            else:
                alias = self._pick(_ALIAS_LAST, "last")
            entry = MappingEntry(alias=alias, category="PER")
            self._people[word] = entry
        entry.originals.add(original)
        return entry

    def _pick(self, pool: tuple[str, ...], kind: str) -> str:
        index = self._next_first if kind == "first" else self._next_last
        while True:
            base = pool[index % len(pool)]
            alias = base if index < len(pool) else f"{base}-{_letters(index // len(pool) - 1)}"
            index += 1
            if fold(alias) not in self._reserved:
                break
        if kind == "first":
            self._next_first = index
        else:
            self._next_last = index
        return alias

    def person(self, span: Span) -> str:
        """The pseudonymised text of a person mention (titles, particles and punctuation kept)."""
        whole = fold(strip_invisible(span.text))
        # A speaker's login or handle ("jdupont42"), wherever it appears: one alias, digits too.
        if span.source == "speaker" or (whole in self._roles and any(c.isdigit() for c in whole)):
            return self._person_alias(whole, span.text).alias
        key = _spelled_key(span)
        if key:
            entry = self._person_alias(key, span.text)
            if self.style == "letters":
                return entry.alias
            return _cased_like(span.text, _spelled_like(span.text, entry.alias))

        def swap(m: re.Match[str]) -> str:
            word = m.group()
            folded = fold(word)
            if folded in _PARTICLES or folded.rstrip(".") in TITLES or len(word) < 2:
                return word
            if span.key and folded != span.key and near_misses(folded, (span.key,)):
                folded = span.key  # "Dupon" in a translation: the "Dupont" of the original
            alias = self._person_alias(folded, word).alias
            return alias if self.style == "letters" else _cased_like(word, alias)

        # Invisible characters inside a name ("Ju\u200blie") go with it: the alias is one clean word. A
        # capitalised particle inside a surname ("Julie Le Gall") is part of it and goes too: kept, it says
        # the name was "Le ...".
        return _NAME_WORD.sub(swap, _SURNAME_PARTICLE.sub("", strip_invisible(span.text)))

    # --- other categories -------------------------------------------------------------------------

    def numbered(self, span: Span, language: str) -> str:
        """``[Lieu 1]``-style alias of a non-person span, the same for the same (normalised) value."""
        key = span.key or re.sub(r"\s+", " ", fold(strip_invisible(span.text))).strip(" ,.")
        entry = self._others.get((span.category, key))
        if entry is None:
            count = self._counters.get(span.category, 0) + 1
            self._counters[span.category] = count
            entry = MappingEntry(alias=f"{span.category}#{count}", category=span.category)
            self._others[(span.category, key)] = entry
        entry.originals.add(span.text)
        label = LABELS.get(language, LABELS["fr"]).get(span.category, span.category)
        return f"[{label} {entry.alias.split('#')[1]}]"

    def entries(self) -> list[MappingEntry]:
        """Every alias given so far and what it stands for (the correspondence table)."""
        people: dict[str, MappingEntry] = {}
        for entry in self._people.values():
            people.setdefault(entry.alias, entry)
        return list(people.values()) + list(self._others.values())
