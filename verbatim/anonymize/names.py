"""Recognizers of persons beyond the NER model, and the document-level passes on names.

- a title before a name ("Mme Martin", "Maître Lefèvre", "M. E. Palm"),
- a context that announces a name ("je m'appelle Julie", "mon beau-père Kévin", "my name is..."),
- a first name from a list of first names (French and other languages, from the MIT-licensed Faker data),
- a name spelled out letter by letter ("M-A-R-T-I-N", "M, A, R, T, I, N"),
- professionals: a judge, a clerk, a lawyer or an investigator named in their role stays recognisable as
  such, so that a policy may keep their name.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import replace
from functools import lru_cache
from typing import Final

from verbatim.anonymize.lexicon import common_word
from verbatim.anonymize.normalize import fold
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.spans import Span
from verbatim.anonymize.wordnames import bare_name_position, faker_names

__all__ = [
    "ContextNameRecognizer",
    "FirstNameRecognizer",
    "SpelledNameRecognizer",
    "TitleRecognizer",
    "faker_first_names",
    "first_names",
    "mark_professionals",
    "name_tokens",
    "propagate",
]

_ALL: Final = frozenset({"*"})  # French and English patterns; harmless elsewhere
_CAP = r"[A-ZÀ-ÖØ-ÝŁŞÇĞİÅÄÖ][\w'’\-]*[\w]|[A-ZÀ-ÖØ-Ý]"
_PARTICLE = (
    r"(?:de|De|du|Du|des|d['’]|D['’]|van|Van|von|Von|der|Der|le|Le|la|La|el|El|al|Al|ben|Ben|ibn|bin|da|Da|"
    r"di|Di|dos)"
)
# One name: capitalised words, possibly with particles ("Dutheillet de Lamothe") and initials ("E. Palm").
_NAME = rf"(?:[A-Z]\s?\.\s?)*(?:{_CAP})(?:[\s\-](?:{_PARTICLE}\s)?(?:{_CAP}))*"
_NAME_RE = re.compile(_NAME)

TITLES: Final = (
    "monsieur", "madame", "mademoiselle", "m.", "mme", "mmes", "mlle", "mm.", "me", "maître", "maitre",
    "dr", "docteur", "pr", "professeur", "mr", "mrs", "ms", "miss", "sir", "lord", "dame", "m", "mm",
)  # fmt: skip
_TITLE = re.compile(
    r"(?<![\w])(?:Monsieur|Madame|Mademoiselle|Mmes|Mme|Mlle|MM\s?\.|M\s?\.|Me|Ma[iî]tre|Dr\.?|Docteur|Pr\.?|"
    r"Professeur|Mr\.?|Mrs\.?|Ms\.?|Miss|Sir|Lord)\s+(?:(?:le|la)\s+(?:juge|président|présidente|procureur|"
    r"procureure|commissaire|capitaine|lieutenant|brigadier|docteur)\s+)?"
    rf"({_NAME})"
)
_LAWYER_TITLES: Final = frozenset({"me", "maître", "maitre"})

_INTRODUCERS = (
    r"je\s+m['’]appelle|il\s+s['’]appelle|elle\s+s['’]appelle|ils?\s+s['’]appellent|s['’]appelait|"
    r"s['’]appelle|mon\s+nom\s+(?:c['’]est|est)|mon\s+prénom\s+(?:c['’]est|est)|prénommée?s?|dénommée?s?|"
    r"nommée?s?|surnommée?s?|my\s+name\s+is|(?:he|she)\s+is\s+called|named|called"
)
_RELATIVES = (
    r"(?:mon|ma|son|sa|notre|leur|votre|ton|ta|my|his|her|their|your)\s+(?:beau-père|belle-mère|beau-frère|"
    r"belle-sœur|belle-soeur|demi-frère|demi-sœur|demi-soeur|grand-père|grand-mère|arrière-grand-mère|père|"
    r"mère|frère|sœur|soeur|fils|fille|oncle|tante|cousin|cousine|neveu|nièce|copain|copine|ami|amie|mari|"
    r"femme|épouse|époux|compagnon|compagne|conjoint|conjointe|concubin|concubine|voisin|voisine|papi|papy|"
    r"mamie|mamy|parrain|marraine|ex|petit\s+ami|petite\s+amie|nounou|camarade|stepfather|stepmother|father|"
    r"mother|brother|sister|son|daughter|uncle|aunt|cousin|friend|boyfriend|girlfriend|husband|wife|partner|"
    r"neighbour|neighbor)"
)
_CONTEXT = re.compile(
    rf"(?<![\w])(?i:{_INTRODUCERS}|{_RELATIVES}),?\s+({_NAME}|[a-zà-ÿ][\w\-]{{2,}})(?![\w])"
)
# After an introducer a lower-case word is a name only in a transcript that lost its capitals; never these.
_NOT_NAMES: Final = frozenset(
    {
        "le", "la", "les", "un", "une", "des", "du", "de", "qui", "que", "quoi", "comme", "pas", "plus",
        "aussi", "il", "elle", "on", "lui", "moi", "toi", "nous", "vous", "eux", "et", "ou", "mais", "donc",
        "alors", "euh", "ben", "bah", "hein", "était", "est", "a", "avait", "ça", "ce", "cet", "cette",
        "mon", "ma", "mes", "son", "sa", "ses", "the", "an", "is", "was", "and", "who", "this", "that",
        "at", "in", "to", "je", "tu", "y", "en", "dans", "avec", "chez", "pour", "par", "sur", "quand",
        "parce", "actuel", "actuelle",
    }
)  # fmt: skip


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    """French and English stop words (spaCy's lists, imported on first use: importing spaCy is slow)."""
    words: set[str] = set()
    for language in ("fr", "en"):
        words.update(fold(w) for w in importlib.import_module(f"spacy.lang.{language}.stop_words").STOP_WORDS)
    return frozenset(words)


_NOT_NAMES_FOLDED: Final = frozenset(fold(w) for w in _NOT_NAMES)

_PROFESSIONAL_BEFORE = re.compile(
    r"(?:ma[iî]tre|(?-i:\bMe)|juges?|président(?:e)?|vice-président(?:e)?|greffi[eè]re?s?|enqu[eê]t(?:eur|rice)s?|"
    r"brigadier(?:-chef)?|capitaine|lieutenant|commandant|adjudant(?:-chef)?|gendarme|major|"
    r"gardien de la paix|officier(?: de police judiciaire)?|opj|apj|commissaire|procureure?|substitut|"
    r"avocate?s?|conseill(?:er|ère)|"
    r"magistrate?|rapporteure?|agent|expert(?:e)?|interprète|judge|officer|detective|counsel|lawyer|clerk|"
    r"prosecutor|investigator|lord(?:\s+justice)?|justice|composée?\s+de|(?:les|des)\s+juges|à\s+savoir|"
    r"membres|représentée?s?\s+par(?:\s+(?:son|sa|leur|ses)\s+(?:agents?|conseils?|avocate?s?))?|"
    r"assistée?s?\s+(?:de|par)|ont\s+comparu|en\s+présence\s+d[eu]|pour\s+le\s+gouvernement)"
    r"(?:\s+(?:de\s+la\s+\w+|du\s+\w+|des\s+\w+|principal|principale|adjointe?|général|générale|publique?))?"
    r"[\s,:]*(?:(?:monsieur|madame|m\.|mme|m|mr|mrs|ms)\s*\.?\s*)?$",
    re.IGNORECASE,
)
_ROLES = (
    r"(?:(?:premier|première|vice|greffier|greffière)[\s\-])?(?:juges?|président(?:e)?|greffi[eè]re?s?|"
    r"rapporteure?(?:\s+public)?|avocate?s?|agente?s?|conseils?|conseill(?:er|ère)s?|juristes?|délégué(?:e)?s?|"
    r"directeur|directrice|substitut|procureure?|commissaire|enqu[eê]t(?:eur|rice)|brigadier|capitaine|"
    r"lieutenant|solicitors?|barristers?|QC|magistrate?|experte?|interprète|traduct(?:eur|rice)|assistante?|"
    r"secrétaire|chef|adjointe?|judge|clerk|counsel|agent|officer|investigator)"
)
_PROFESSIONAL_AFTER = re.compile(rf"^(?:\s*,\s*{_ROLES}\b|\s+QC\b)", re.IGNORECASE)
# A sentence ends at a full stop, but not at the dot of a title or an initial ("M. R. Ryssdal").
_SENTENCE_END = re.compile(r"(?<![A-Z])(?<!\b[A-Z]\s)[.!?]\s|[;\n]")
# Words that name a party, a witness or a victim just before their name.
_PARTY_BEFORE = re.compile(
    r"(?:requérante?s?|requerante?s?|plaignante?s?|victimes?|témoins?|temoins?|prévenue?s?|accusée?s?|"
    r"mise?\s+en\s+(?:cause|examen)|partie\s+civile|mineure?s?|enfants?|défendeur|défenderesse|demandeur|"
    r"demanderesse|intéressée?|applicants?|witness|victim|defendant|claimant|minor|child|famille|"
    r"époux|epoux|consorts|family)"
    r"[\s,:]*(?:(?:monsieur|madame|mademoiselle|m\.|mme|mlle|m|mr|mrs|ms)\s*\.?\s*)?$",
    re.IGNORECASE,
)
# "avocat de M. X": X is the client, a party.
_CLIENT_BEFORE = re.compile(
    r"(?:avocate?s?|conseils?|représentante?|mandataire|counsel|lawyer)\s+(?:de|du|d['’]|for|of)\s+"
    r"(?:(?:M|Mme|Mlle|Monsieur|Madame|Mr|Mrs|Ms)\s*\.?\s*)?$",
    re.IGNORECASE,
)
# Between two names of one enumeration ("M. R. Ryssdal, président, M. J. De Meyer, M. A. N. Loizou et..."):
# commas, "et", titles and role words only.
_LIST_GAP = re.compile(
    rf"^\s*(?:,\s*{_ROLES}(?:\s+(?!de\b|du\b|des\b|d['’])[a-zé]+){{0,3}}\s*)?(?:[,;]\s*)?(?:(?:et|and)\s+)?"
    r"(?:(?:M|MM|Mme|Mmes|Mlle|Me|Sir|Lord|Dame|Mr|Mrs|Ms)\s*\.?\s*)?$",
    re.IGNORECASE,
)


class TitleRecognizer:
    """A name after a civil or professional title ("Mme Martin", "Maître Lefèvre", "M. E. Palm")."""

    name = "title"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        spans = []
        for m in _TITLE.finditer(context.text):
            title = fold(m.group().split()[0]).rstrip(".")
            start, end = m.start(1), m.end(1)
            spans.append(
                Span(start, end, "PER", 0.9, m.group(1), self.name, professional=title in _LAWYER_TITLES)
            )
        return spans


class ContextNameRecognizer:
    """A name announced by its context: "je m'appelle Julie", "mon beau-père Kévin", "my name is Sam"."""

    name = "context_name"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        spans = []
        for m in _CONTEXT.finditer(context.text):
            found = m.group(1)
            if fold(found) in _NOT_NAMES_FOLDED or fold(found.split()[0]) in _NOT_NAMES_FOLDED:
                continue
            # "son fils cadet", "son fils était": a lower-case word after a relative is a name only when it
            # is no French word.
            if found.islower() and context.language == "fr" and common_word(found):
                continue
            spans.append(Span(m.start(1), m.end(1), "PER", 0.9, found, self.name))
        return spans


# First names that are also common French words, month names or titles: found only in other ways.
_AMBIGUOUS_FIRST_NAMES: Final = frozenset(
    {
        "rose", "pierre", "avril", "marin", "france", "grace", "constance", "clement", "victoire", "olive",
        "prudence", "aime", "desire", "modeste", "bienvenu", "fortune", "blanche", "celeste", "colombe",
        "ange", "noel", "patience", "perle", "reine", "violette", "claire", "juste", "max", "mai", "may",
        "mars", "juin", "will", "mark", "bill", "grant", "chase", "hope", "faith", "art", "don", "ray",
        "rich", "marine", "sage", "justice", "page", "rue", "avenue", "roi", "loi", "dieu", "lundi",
        "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "august", "june", "april", "grande",
        "petit", "petite", "long", "leger", "cour", "etat", "bon", "belle", "beau", "vivant", "rapide",
        "nord", "sud", "est", "ouest", "paris", "lorraine", "florence", "valence", "adrienne", "loire",
        "savoie", "normandie", "bretagne", "champagne", "vienne", "orange", "lourdes", "nancy", "vichy",
        "cannes", "nice", "sedan", "mans", "lens", "cher", "gironde", "charente", "seine", "madeleine",
        "commission", "convention", "christian", "sainte", "saint", "aid", "legal", "board", "service",
        "court", "royaume", "uni", "union", "europe", "stat", "code", "article", "affaire", "affaires",
        "police", "gendarmerie", "tribunal", "conseil", "jean-loup", "ma", "mo", "al", "el", "le", "la",
        "de", "du", "an", "ann", "in", "is", "ali", "ella", "eva", "lou", "sam", "tom", "noe", "ugo", "bo",
        "jo", "li", "lee", "guy", "gay", "bea", "fleur", "iris", "jade", "ambre", "capucine", "lilas",
        "olivier", "laurier", "alpha", "oumar", "amen", "aurore", "printemps", "ete", "automne", "hiver",
        "soleil", "lune", "fete", "pascal", "pascale", "romain", "romaine", "germain", "germaine",
        "francais", "francaise", "anglais", "allemand", "espagnol", "italien", "europeen", "sauveur",
        "innocent", "honore", "felicite", "fidele", "loyal", "parfait", "benoit", "regis", "fernand",
    }
)  # fmt: skip
_FAKER_LOCALES: Final = (
    "fr_FR", "fr_CA", "fr_CH", "fr_BE", "en_US", "en_GB", "es_ES", "it_IT", "de_DE", "pt_PT", "tr_TR",
    "pl_PL", "nl_NL", "ro_RO", "ar_AA",
)  # fmt: skip


def faker_first_names(locales: tuple[str, ...]) -> frozenset[str]:
    """Folded first names of Faker's ``locales`` (MIT), 3 letters or more, minus common words."""
    names = faker_names(locales)
    return frozenset(n for n in names if len(n) >= 3 and n.isascii() and n not in _AMBIGUOUS_FIRST_NAMES)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    """Folded first names of several languages (Faker's data, MIT), minus those that are common words."""
    return faker_first_names(_FAKER_LOCALES)


@lru_cache(maxsize=1)
def surnames() -> frozenset[str]:
    """Folded French surnames (Faker's fr_FR data), used to build pseudonyms and to extend first names."""
    provider = importlib.import_module("faker.providers.person.fr_FR").Provider
    return frozenset(fold(v) for v in provider.last_names)


_AFTER_ARTICLE = re.compile(r"(?i:\b(?:la|le|les|l['’]|du|des|au|aux))\s*$")
_CAP_WORD = re.compile(r"(?<![\w'’\-])[A-ZÀ-ÖØ-Ý][a-zà-öø-ÿ]+(?:-[A-ZÀ-ÖØ-Ý][a-zà-öø-ÿ]+)?(?![\w'’])")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;«»\"\n]\s*|\s[-–—]\s*)$")


class FirstNameRecognizer:
    """A capitalised first name from the list ("hier, Julie est venue"); at a sentence start, only when it is
    no common French word."""

    name = "first_name"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        names = first_names()
        text = context.text
        spans = []
        for m in _CAP_WORD.finditer(text):
            if fold(m.group()) not in names:
                continue
            # At a sentence start a capital says nothing: a first name then only when it is no French word
            # ("Julie est venue" yes, "Olivier" the tree no).
            if _SENTENCE_START.search(text[max(0, m.start() - 3) : m.start()]) and (
                context.language != "fr" or common_word(m.group())
            ):
                continue
            # "le ministère de la Santé": a common word with a capital after an article is no first name.
            if _AFTER_ARTICLE.search(text[max(0, m.start() - 8) : m.start()]) and common_word(m.group()):
                continue
            end = m.end()
            # "Julie Martin": the capitalised word after a first name is its surname.
            follow = _CAP_WORD.match(text, end + 1) if text[end : end + 1] == " " else None
            score = 0.6
            # ... also a word or a first name that is a French surname ("Julie Pierre", "Léa Blanc").
            if follow is not None and (
                fold(follow.group()) not in _AMBIGUOUS_FIRST_NAMES or fold(follow.group()) in surnames()
            ):
                end, score = follow.end(), 0.8
            spans.append(Span(m.start(), end, "PER", score, text[m.start() : end], self.name))
        return spans


_UPPER = "A-ZÀ-ÖØ-Ý"
_LOWER = "a-zà-öø-ÿ"
_SPELLED = re.compile(
    # Letters on one line only ([ \t], never \s): the next line's label is no letter of the name.
    rf"(?<![\w\-])(?:[{_UPPER}](?:[ \t]*-[ \t]*|[ \t]*,[ \t]*|[ \t]+|[ \t]*\.[ \t]*)){{2,}}[{_UPPER}](?![\w])"
    rf"|(?<![\w\-])(?:[{_LOWER}](?:-|,[ \t]*)){{2,}}[{_LOWER}](?![\w])"
)
_SPELLED_CONTEXT = (
    "ecrit", "epel", "lettre", "spell", "nom", "prenom", "appel", "name", "orthograph",
)  # fmt: skip


class SpelledNameRecognizer:
    """A name spelled letter by letter ("M-A-R-T-I-N", "M, A, R, T, I, N", "M A R T I N")."""

    name = "spelled"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        text = context.text
        spans = []
        for m in _SPELLED.finditer(text):
            letters = fold("".join(c for c in m.group() if c.isalpha()))
            if len(letters) < 3:
                continue
            # Lower-case letters joined by hyphens are a name only in context or when they spell one.
            lower = m.group()[0].islower()
            before = fold(text[max(0, m.start() - 60) : m.start()])
            in_context = any(w in before for w in _SPELLED_CONTEXT)
            # "D E C I D E": letters spaced for a heading; hyphens and commas are how a name is spelled.
            marked = bool(re.search(r"[-,]", m.group()))
            a_name = letters in first_names() or letters in surnames()
            if letters in context.known:
                score = 0.95  # a name the document or the case already knows, spelled out
            elif in_context or (marked and (a_name or len(letters) >= 4) and not lower):
                score = 0.9
            elif marked and (a_name or not lower):
                score = 0.6
            else:
                score = 0.4
            spans.append(Span(m.start(), m.end(), "PER", score, m.group(), self.name, key=letters))
        return spans


def _find_mentions(
    text: str, known: dict[str, str], *, score: float, source: str, lower_case: bool = False
) -> list[Span]:
    """Capitalised occurrences of known mentions (folded text -> category), longest first; with
    ``lower_case``, a person's word of 4 letters or more in lower case too ("Augustin" then "augustin")."""
    spans: list[Span] = []
    taken: list[tuple[int, int]] = []
    for mention in sorted(known, key=len, reverse=True):
        if len(mention) < 2:
            continue
        pattern = re.compile(rf"(?<![\w'’\-]){re.escape(mention)}(?![\w'’])", re.IGNORECASE)
        person_word = lower_case and known[mention] == "PER" and len(mention) >= 4 and " " not in mention
        for m in pattern.finditer(_fold_keep_length(text)):
            # A name of this very document in lower case is hidden even when it is also a word ("benoit",
            # "claire"): hiding a word is a lesser harm than leaving a person's name.
            if not text[m.start()].isupper() and not (person_word and mention not in _stop_words()):
                continue
            # ... but only where a name fits when the word is also a French word ("la mer marine").
            if (
                not text[m.start()].isupper()
                and (mention in _AMBIGUOUS_FIRST_NAMES or common_word(mention))
                and not bare_name_position(text, m.start(), m.end())
            ):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append((m.start(), m.end()))
            category, _, flag = known[mention].partition("/")
            spans.append(
                Span(
                    m.start(), m.end(), category, score, text[m.start() : m.end()], source,
                    professional=flag == "professional",
                )
            )  # fmt: skip
    return spans


def _fold_keep_length(text: str) -> str:
    # fold() may change the length (decomposition); fold character by character to keep offsets.
    return "".join(fold(c)[:1] or c for c in text)


def name_tokens(text: str) -> list[str]:
    """Folded words of a person's name that identify them (no titles, particles or initials)."""
    tokens = re.findall(r"[\w]+", text)
    particles = {
        "de",
        "du",
        "des",
        "d",
        "van",
        "von",
        "der",
        "le",
        "la",
        "el",
        "al",
        "ben",
        "ibn",
        "bin",
        "da",
    }
    return [
        fold(t)
        for t in tokens
        if len(t) >= 2 and fold(t) not in particles and fold(t) not in TITLES and not t.isdigit()
    ]


def mark_professionals(spans: list[Span], text: str) -> list[Span]:
    """Mark person spans named in a professional role, then every other mention of those persons.

    A mention is professional when a role comes just before it ("le juge", "Maître", "l'enquêteur") or
    just after it (", greffière", ", avocat"). Another mention of the same surname without a role follows
    the role mentions, unless the surname also belongs to a person named without a role.
    """
    out: list[Span] = []
    parties: set[int] = set()
    for span in spans:
        if span.category == "PER" and not span.professional and span.source not in ("spelled", "hide"):
            before = text[max(0, span.start - 60) : span.start]
            sentence_before = _SENTENCE_END.split(before)[-1]
            after = text[span.end : span.end + 40]
            if _PARTY_BEFORE.search(sentence_before) or _CLIENT_BEFORE.search(before[-40:]):
                parties.add(len(out))
            elif _PROFESSIONAL_BEFORE.search(sentence_before) or _PROFESSIONAL_AFTER.match(after):
                span = replace(span, professional=True)
        out.append(span)
    out = _mark_enumerations(out, text, parties)
    # Other mentions of a professional (same surname, no other first name) follow; a person introduced as
    # a party ("je m'appelle...", "mon beau-père...") never does.
    professional_last: set[str] = set()
    professional_all: set[str] = set()
    party_last: set[str] = set()
    party_ids = {id(out[i]) for i in parties}
    private_full: list[list[str]] = []
    for span in out:
        if span.category != "PER" or span.source == "spelled":
            continue
        tokens = name_tokens(span.text)
        if span.professional:
            professional_last.update(tokens[-1:])
            professional_all.update(tokens)
        elif span.source == "context_name" or id(span) in party_ids:
            party_last.update(tokens[-1:])
        elif len(tokens) >= 2:
            private_full.append(tokens)
    # "Clovis Aliker" named without a role, with a first name no professional has: the surname is a party's.
    party_last.update(t[-1] for t in private_full if any(w not in professional_all for w in t))
    result = []
    for span in out:
        if (
            span.category == "PER"
            and not span.professional
            and span.source not in ("spelled", "context_name")
        ):
            tokens = name_tokens(span.text)
            if (
                tokens
                and tokens[-1] in professional_last
                and tokens[-1] not in party_last
                and all(t in professional_all for t in tokens)
            ):
                span = replace(span, professional=True)
        result.append(span)
    return result


def _mark_enumerations(spans: list[Span], text: str, parties: set[int]) -> list[Span]:
    """In an enumeration of names, those after one named in a professional role are professionals too
    ("M. R. Ryssdal, président, M. B. Walsh, M. J. De Meyer"), and all of them when a role closes it
    (", juges"). A person named as a party (``parties``: indices) never is.

    A place or organisation the NER model found inside an enumeration of persons is a person too
    ("MM. R. Bernhardt, L.-E. Pettiti, C. Russo": "Pettiti" is no town).
    """
    out = list(spans)
    for i in range(1, len(out) - 1):
        prev, cur, nxt = out[i - 1], out[i], out[i + 1]
        if (
            cur.category in ("LOC", "ORG")
            and cur.source == "spacy"
            and prev.category == "PER"
            and nxt.category == "PER"
            and _LIST_GAP.match(text[prev.end : cur.start])
            and _LIST_GAP.match(text[cur.end : nxt.start])
        ):
            out[i] = replace(cur, category="PER")
    people = [
        i for i, s in enumerate(out) if s.category == "PER" and s.source not in ("spelled", "context_name")
    ]
    chains: list[list[int]] = []
    for i in people:
        if chains and _LIST_GAP.match(text[out[chains[-1][-1]].end : out[i].start]):
            chains[-1].append(i)
        else:
            chains.append([i])
    for chain in chains:
        if len(chain) < 2:
            continue
        # A role after the last name closes the list ("X, Y et Z, juges"; "SCP X, Y, Z, avocat").
        closed = _PROFESSIONAL_AFTER.match(text[out[chain[-1]].end : out[chain[-1]].end + 40])
        started = False
        for i in chain:
            if i in parties:
                started = False
                continue
            started = started or out[i].professional
            if started or closed:
                out[i] = replace(out[i], professional=True)
    return out


def propagate(spans: list[Span], text: str, *, lower_case: bool = False) -> list[Span]:
    """Find again, everywhere in the text, the names, places and organisations found once.

    "Julie Martin" found by the NER model makes every later capitalised "Julie" and "Martin" a person
    (and, with ``lower_case``, for a transcript that lost its capitals, "julie" too); a place or
    organisation of four letters or more is found again by its exact (folded) text.
    """
    known: dict[str, str] = {}
    for span in spans:
        if span.category == "PER" and span.key and len(span.key) >= 3 and span.key.isalpha():
            known.setdefault(span.key, "PER")  # "L-É-A" spelled: "Léa" said elsewhere is her too
        if span.category == "PER" and span.source != "spelled":
            tokens = name_tokens(span.text)
            # A first name that is also a word ("Claire", "Aimé") is found again only when it was seen
            # in a full name or announced as a name, not from one word the NER model took for a name.
            sure = len(tokens) >= 2 or span.source not in ("spacy", "first_name", "propagation")
            for token in tokens:
                if len(token) >= 3 and (sure or token not in _AMBIGUOUS_FIRST_NAMES):
                    known.setdefault(token, "PER")
        elif span.category in ("LOC", "ORG") and len(span.text) >= 4 and span.score >= 0.6:
            known.setdefault(fold(span.text), span.category)
    found = _find_mentions(text, known, score=0.8, source="propagation", lower_case=lower_case)
    covered = [(s.start, s.end) for s in spans]
    extra = [f for f in found if not any(f.start < e and s < f.end for s, e in covered)]
    return spans + extra


NAME_RECOGNIZERS: Final = (
    TitleRecognizer,
    ContextNameRecognizer,
    FirstNameRecognizer,
    SpelledNameRecognizer,
)
"""The name recognizers, registered by :func:`verbatim.anonymize.registry.builtin_registry`."""
