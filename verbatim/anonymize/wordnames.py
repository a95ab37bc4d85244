"""First names that are also ordinary French words ("claire", "marine", "rose", "pierre"), told by context.

A word on the list of first names given in France that is also a French word is left alone by the other
recognizers when it is written in lower case (as ASR output writes names) or opens a sentence: "la pierre
est claire" must stay as it is. French gives a common noun a determiner and an adjective a noun or a
copula; a bare word in the place of a person is a name. :class:`WordNameRecognizer` takes such a word only
where a person's name fits:

- after a relative or a title: "ma fille claire", "son frère marc", "madame rose", "tonton pierre";
- after a verb that introduces a name: "je m'appelle claire", "elle s'appelle marine";
- after "chez" ("chez marc": a bare common noun never follows "chez"), in "c'est X qui";
- as the one addressed: "claire, est-ce que tu...", "merci marine."; asked alone: "ton nom ? Pierre ?";
- as the subject of a speech or action verb, bare, at the start of a clause: "claire m'a dit",
  "marc il m'a frappé", "et pierre est venu".

:func:`bare_name_position` is the weaker test used for a name the same document already gives as a person
(the one-set-of-people rule): no determiner, copula or degree word before it.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from typing import Final

from verbatim.anonymize.normalize import fold
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.spans import Span

__all__ = ["WORD_NAME_RECOGNIZERS", "WordNameRecognizer", "bare_name_position", "word_first_names"]

_FRENCH_LOCALES: Final = ("fr_FR", "fr_CA", "fr_CH", "fr_BE")
# Words of the first-name lists that are never a person's name in running French text.
_NEVER: Final = frozenset({"france", "paris", "avril", "mai", "juin", "mars", "lundi", "dimanche"})
# Verb forms of the lists, compared before folding ("ma fille aime..." but "c'est Aimé qui...").
_VERB_FORMS: Final = frozenset({"aime", "honore", "desire", "modeste"})
# First names given in France that are words and on none of Faker's French lists.
_EXTRA: Final = (
    "rose", "pierre", "marin", "grace", "constance", "clement", "victoire", "olive", "prudence", "aime",
    "desire", "bienvenu", "fortune", "blanche", "celeste", "colombe", "ange", "patience", "perle", "reine",
    "violette", "claire", "max", "marine", "florence", "adrienne", "lorraine", "madeleine", "fleur", "iris",
    "jade", "ambre", "capucine", "lilas", "olivier", "aurore", "pascal", "pascale", "romain", "romaine",
    "germain", "germaine", "honore", "felicite", "benoit", "regis", "fernand", "sauveur", "laure", "oceane",
)  # fmt: skip


def faker_names(locales: tuple[str, ...]) -> set[str]:
    """Every folded first name of Faker's ``locales`` (MIT), as listed (words and short names included)."""
    names: set[str] = set()
    for locale in locales:
        try:
            provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        except (ImportError, AttributeError):
            continue
        for attr in ("first_names", "first_names_male", "first_names_female"):
            values = getattr(provider, attr, ())
            names.update(fold(v) for v in (values.keys() if isinstance(values, dict) else values))
    return names


@lru_cache(maxsize=1)
def word_first_names() -> frozenset[str]:
    """Folded first names given in France (Faker's French-speaking lists), ordinary words included."""
    names = faker_names(_FRENCH_LOCALES)
    names.update(_EXTRA)
    return frozenset(n for n in names if len(n) >= 3 and n.isascii() and n not in _NEVER)


_APOS = "['’]"
_WORD = re.compile(r"(?<![\w'’\-])([^\W\d_][a-zà-öø-ÿ]{2,}(?:-[^\W\d_][a-zà-öø-ÿ]+)?)(?![\w'’\-])")

_RELATIVE_NOUNS = (
    r"beau-père|belle-mère|beau-frère|belle-s[œo]e?ur|demi-frère|demi-s[œo]e?ur|grand-père|grand-mère|"
    r"père|mère|frère|s[œo]e?ur|fils|fille|oncle|tante|cousin|cousine|neveu|nièce|copain|copine|ami|amie|"
    r"mari|femme|épouse|époux|compagnon|compagne|conjoint|conjointe|voisin|voisine|parrain|marraine|"
    r"petit\s+ami|petite\s+amie|petit\s+frère|petite\s+s[œo]e?ur|grand\s+frère|grande\s+s[œo]e?ur|"
    r"copain|pote|collègue|camarade|nounou|éducatrice|éducateur|belle-fille|beau-fils|cadet|cadette|aîné|aînée"
)
# Strong contexts just before the word (the whole match must end right before it).
_BEFORE_STRONG = re.compile(
    rf"(?:\b(?:mon|ma|son|sa|ton|ta|notre|votre|leur|m{_APOS}|s{_APOS}|t{_APOS})\s*(?:{_RELATIVE_NOUNS})"
    r"|\b(?:tonton|tata|tatie|tantine|papi|papy|mamie|mamy|pépé|mémé|madame|monsieur|mademoiselle|mme|mlle|m\.)"
    rf"|\b(?:je\s+m{_APOS}appelle|s{_APOS}appel(?:le|lent|ait|aient)|prénommée?s?|surnommée?s?|appelée?s?)"
    r"|\bchez)\s+$",
    re.IGNORECASE,
)
# "c'est X qui": a bare noun after "c'est" and before a relative pronoun is a name.
_CEST_BEFORE = re.compile(rf"\bc{_APOS}est\s+$", re.IGNORECASE)
_QUI_AFTER = re.compile(r"^\s+qui\b", re.IGNORECASE)
# The one addressed: at the start of a sentence before a comma and a question or a request.
_START = re.compile(
    r"(?:^\s*|[.!?:;…\n]\s*|\b(?:et|mais|alors|bon|bien|oui|non|euh|ben|bah|dis|écoute)\s*,?\s*)$"
)
_VOCATIVE_AFTER = re.compile(
    rf"^\s*,\s*(?:est-ce|tu\b|t{_APOS}|vous\b|dis-moi|dites-moi|raconte|racontez|explique|expliquez|"
    r"écoute|écoutez|viens|venez|regarde|regardez|assieds|asseyez|on\s+va|je\s+(?:vais|voudrais|veux)|"
    r"qu['’]est-ce|quel|quelle|pourquoi|comment|où|quand|est-ce\s+que|merci)",
    re.IGNORECASE,
)
_SENTENCE_BEFORE = re.compile(r"(?:^|[.!?…\n])\s*$")
_ALONE_AFTER = re.compile(r"^\s*[?!]")
_GREETING_BEFORE = re.compile(r"\b(?:bonjour|bonsoir|merci|salut|au\s+revoir)\s*,?\s+$", re.IGNORECASE)
_GREETING_AFTER = re.compile(r"^\s*(?:[.!?,…]|$)")
# The subject of a speech or action verb: a bare word at a clause start, then an object pronoun, a
# dislocated subject pronoun, or a verb of what people do and say.
_CLAUSE_START = re.compile(
    r"(?:^\s*|[.!?:;,…\n]\s*|\b(?:et|mais|alors|puis|donc|parce\s+que|parce\s+qu['’]|que|qu['’]|quand|si|"
    r"comme|euh|ben|bah|oui|non|voilà|après|ensuite|avec)\s+)$",
    re.IGNORECASE,
)
_VERB_AFTER = re.compile(
    rf"^\s+(?:(?:il|elle)\s+(?:m{_APOS}|t{_APOS}|l{_APOS}|nous\b|vous\b|lui\b|me\b|te\b|a\b|est\b|était\b|"
    r"avait\b|m['’]a\b|disait\b|faisait\b|venait\b|voulait\b|ne\b|n['’])"
    rf"|m{_APOS}(?:a|avait|as|disait|dit|appelle|appelait|frappe|frappait|touche|touchait)\b"
    rf"|t{_APOS}(?:a|avait)\b|nous\s+a\b|lui\s+a\b|leur\s+a\b"
    r"|a\s+(?:dit|fait|vu|appelé|frappé|menti|crié|répondu|raconté|expliqué|demandé|téléphoné|écrit|"
    r"envoyé|touché|pris|voulu|commencé|pleuré|insulté|menacé|poussé|tapé)\b"
    r"|est\s+(?:venue?|partie?|arrivée?|rentrée?|sortie?|allée?|restée?|passée?|montée?|descendue?)\b"
    r"|(?:dit|disait|raconte|racontait|pense|pensait|voulait|savait)\s+que\b)",
    re.IGNORECASE,
)
# Before a name already given as a person's: never after a determiner, a copula or a degree word.
_NOT_BEFORE_NAME = re.compile(
    rf"(?:\b(?:le|la|les|l{_APOS}|un|une|des|du|de|d{_APOS}|au|aux|ce|cet|cette|ces|mon|ma|mes|ton|ta|tes|son|"
    r"sa|ses|notre|nos|votre|vos|leur|leurs|quel|quelle|en|est|était|sont|étaient|être|été|devient|"
    r"très|trop|plus|moins|si|assez|bien|pas|tout|toute|vraiment|eau|bleu|vin|voix|peau|couleur|vue)"
    r"|[\d])\s+$",
    re.IGNORECASE,
)


_NAME_SLOT_BEFORE = re.compile(
    r"\b(?:à|avec|chez|pour|par|contre|sans|vers|entre|et|ou|ni|voir|vu|connais|connaissez|connaît|connait|"
    r"appelé|appelle|appelez|dit\s+à|parlé\s+à|parle\s+à|demandé\s+à)\s+$",
    re.IGNORECASE,
)


def bare_name_position(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` stands where a name can, not where a noun or an adjective does.

    For a word the same document already gives as a person's: at a clause start or after a preposition or
    a verb that takes a person, and never after a determiner, a copula or a degree word.
    """
    before = text[max(0, start - 40) : start]
    if _NOT_BEFORE_NAME.search(before[-24:]):
        return False
    return bool(
        _CLAUSE_START.search(before) or _NAME_SLOT_BEFORE.search(before) or _in_name_context(text, start, end)
    )


def _in_name_context(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    after = text[end : end + 40]
    if text[start:end] in _VERB_FORMS:
        # "ma fille aime...", "il honore...": only where no verb can stand.
        return bool(_CEST_BEFORE.search(before) and _QUI_AFTER.match(after))
    if _BEFORE_STRONG.search(before):
        return True
    if _CEST_BEFORE.search(before) and _QUI_AFTER.match(after):
        return True
    if _START.search(before) and _VOCATIVE_AFTER.match(after):
        return True
    if _GREETING_BEFORE.search(before) and _GREETING_AFTER.match(after):
        return True
    # A sentence of this one word, asked or called ("Tu peux épeler ton nom ? Pierre ?"): a bare noun is no
    # sentence of its own.
    if _SENTENCE_BEFORE.search(before) and _ALONE_AFTER.match(after):
        return True
    return bool(_CLAUSE_START.search(before) and _VERB_AFTER.match(after))


class WordNameRecognizer:
    """A first name that is also a French word, in a context where a person's name fits (module doc)."""

    name = "word_name"
    languages = frozenset({"fr"})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        names = word_first_names()
        text = context.text
        spans = []
        for m in _WORD.finditer(text):
            word = m.group(1)
            if not word[1:].islower() or fold(word) not in names:
                continue
            if _in_name_context(text, m.start(), m.end()):
                spans.append(Span(m.start(), m.end(), "PER", 0.85, word, self.name))
        return spans


WORD_NAME_RECOGNIZERS: Final = (WordNameRecognizer,)
"""Registered by :func:`verbatim.anonymize.registry.builtin_registry`."""
