"""Rule recognizers: numbers with a structure or a checksum, and patterns with a context.

Phone numbers, e-mail addresses, NIR (with its key), IBAN (with its checksum), licence plates, case and
procedure numbers, dates of birth and ages, dates, postal addresses. Each runs on the text with spoken numbers
written as digits, so "zéro six, douze, trente-quatre..." is found like "06 12 34...".
"""

from __future__ import annotations

import re
from typing import Final

from verbatim.anonymize.normalize import fold
from verbatim.anonymize.recognizers import AnalysisContext, boost
from verbatim.anonymize.spans import Span

__all__ = [
    "AddressRecognizer",
    "AgeRecognizer",
    "CaseNumberRecognizer",
    "DateRecognizer",
    "EmailRecognizer",
    "IbanRecognizer",
    "NirRecognizer",
    "PhoneRecognizer",
    "PlateRecognizer",
    "iban_is_valid",
    "nir_is_valid",
    "nir_key",
]

_ALL: Final = frozenset({"*"})  # numbers and patterns: any language
_FR: Final = frozenset({"fr"})


# --- phone numbers --------------------------------------------------------------------------------

_PHONE_FR = re.compile(
    r"(?<![\w+])(?<!\d[ .\-])(?:(?:\+|plus\s|00\s?)33\s?(?:\(0\)\s?)?|0(?:,\s?|[ .\-])?)[1-9]"
    r"(?:(?:,\s?|[ .\-])?\d){8}(?![\d])",
    re.IGNORECASE,
)
_PHONE_INTL = re.compile(r"(?<![\w+])(?<!\d[ .\-])(?:\+|00)\s?[1-9]\d{0,2}(?:[ .\-]?\(?\d\)?){6,12}(?!\d)")
# A mobile number said without its leading zero ("six, douze, trente-quatre...") needs its context.
_PHONE_NO_ZERO = re.compile(r"(?<![\w])(?<!\d[ .\-])[67](?:(?:,\s?|[ .\-])?\d){8}(?!\d)")
_PHONE_CONTEXT: Final = (
    "numéro", "numero", "téléphone", "telephone", "portable", "tél", "tel", "appel", "joindre", "mobile",
    "fixe", "phone", "number", "call",
)  # fmt: skip


def _phone_key(number: str) -> str:
    """The national form of a French number, whatever the writing ("+33 (0)6..." -> "06...")."""
    digits = re.sub(r"\D", "", number)
    if number.lstrip().startswith(("+", "00", "plus")) and digits.removeprefix("00").startswith("33"):
        digits = digits.removeprefix("00")[2:]
    return digits if digits.startswith("0") else "0" + digits


def _valid_international(number: str) -> bool:
    import phonenumbers

    try:
        parsed = phonenumbers.parse(re.sub(r"^00\s?", "+", number.strip()), None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.is_valid_number(parsed))


class PhoneRecognizer:
    """French phone numbers (written or spoken, +33 or 0) and international ones (+CC...)."""

    name = "phone"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        taken: list[tuple[int, int]] = []
        for pattern, score in ((_PHONE_FR, 0.9), (_PHONE_INTL, 0.75), (_PHONE_NO_ZERO, 0.3)):
            for m in pattern.finditer(norm):
                if any(m.start() < e and s < m.end() for s, e in taken):
                    continue
                if pattern is _PHONE_INTL and not _valid_international(m.group()):
                    continue  # "+" and digits that no numbering plan gives (phonenumbers' metadata)
                digits = _phone_key(m.group())
                span = context.span_from_normalized(m.start(), m.end(), "PHONE", score, self.name, digits)
                if span is not None:
                    spans.append(span)
                    taken.append((m.start(), m.end()))
        return [s for s in boost(spans, context.text, _PHONE_CONTEXT, amount=0.5) if s.score >= 0.5]


# --- e-mail addresses -----------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_SPOKEN_PART = r"[\w.\-]+(?:\s+(?:point|tiret(?:\s+bas)?|underscore|dot|dash)\s+[\w.\-]+)*"
_EMAIL_SPOKEN = re.compile(
    rf"(?<![\w])({_SPOKEN_PART})\s+(?:arobase|arrobase|arobas|at)\s+([\w\-]+(?:\s+(?:point|dot)\s+[\w\-]+)+)",
    re.IGNORECASE,
)
_SPOKEN_JOINERS: Final = (
    (re.compile(r"\s+tiret\s+bas\s+", re.I), "_"), (re.compile(r"\s+underscore\s+", re.I), "_"),
    (re.compile(r"\s+(?:tiret|dash)\s+", re.I), "-"), (re.compile(r"\s+(?:point|dot)\s+", re.I), "."),
)  # fmt: skip
# Words that end a spoken local part's search backwards ("c'est julie point martin arobase...").
_LOCAL_STOP: Final = frozenset({"est", "c'est", "mail", "e-mail", "adresse", "courriel", "is", "email"})


def _spoken_to_address(text: str) -> str:
    for pattern, joiner in _SPOKEN_JOINERS:
        text = pattern.sub(joiner, text)
    return text.replace(" ", "").lower()


class EmailRecognizer:
    """E-mail addresses, written ("julie.martin@exemple.fr") or spoken ("julie point martin arobase...")."""

    name = "email"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        text = context.text
        spans = [
            Span(m.start(), m.end(), "EMAIL", 1.0, m.group(), self.name, key=m.group().lower())
            for m in _EMAIL.finditer(text)
        ]
        for m in _EMAIL_SPOKEN.finditer(text):
            local = m.group(1)
            # The local part's regex is greedy to the left only through joiners; drop a leading filler word.
            words = local.split()
            while len(words) > 1 and fold(words[0]) in _LOCAL_STOP:
                words = words[1:]
            start = m.start(1) + local.find(words[0])
            address = _spoken_to_address(" ".join(words)) + "@" + _spoken_to_address(m.group(2))
            spans.append(Span(start, m.end(), "EMAIL", 0.95, text[start : m.end()], self.name, key=address))
        return spans


# --- NIR (numéro d'inscription au répertoire, social security number) -----------------------------

_SEP = r"(?:,\s?|[ .])?"  # written groups, or a speaker's pauses (commas) between spoken groups
_NIR_CANDIDATE = re.compile(rf"(?<![\w])[1-478](?:{_SEP}[\dAB]){{12,14}}(?![\w])", re.I)
_NIR_STRUCTURE = re.compile(r"([1-478])(\d{2})(\d{2})(\d{2}|2[AB])(\d{3})(\d{3})(\d{2})?", re.I)
_NIR_CONTEXT: Final = (
    "sécurité sociale",
    "securite sociale",
    "sécu",
    "secu",
    "nir",
    "insee",
    "social security",
)


def nir_key(nir13: str) -> int:
    """The key of a 13-character NIR: 97 - (n mod 97), Corsica's 2A and 2B counted as 19 and 18.

    Raises:
        ValueError: not 13 characters of a NIR.
    """
    body = nir13.upper()
    if len(body) != 13:
        raise ValueError("a NIR without its key has 13 characters")
    body = body.replace("2A", "19", 1) if body[5:7] == "2A" else body
    body = body.replace("2B", "18", 1) if body[5:7] == "2B" else body
    if not body.isdigit():
        raise ValueError("a NIR has digits only (2A/2B for Corsica)")
    return 97 - int(body) % 97


def nir_is_valid(nir: str) -> bool:
    """Whether a 15-character NIR (separators allowed) has the right structure and key."""
    compact = re.sub(r"[\s.]", "", nir).upper()
    m = _NIR_STRUCTURE.fullmatch(compact)
    if m is None or m.group(7) is None:
        return False
    month = int(m.group(3))
    if not (1 <= month <= 12 or 20 <= month <= 42 or 50 <= month <= 99):
        return False
    from stdnum.fr import nir as stdnum_nir  # the key, Corsica's 2A/2B included

    return bool(stdnum_nir.is_valid(compact))


class NirRecognizer:
    """French social security numbers: 15 characters with a valid key (13 without, given its context)."""

    name = "nir"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for m in _NIR_CANDIDATE.finditer(norm):
            # Keep the positions of the kept characters, to cut a candidate that runs on.
            positions = [i for i in range(m.start(), m.end()) if norm[i] not in " .,"]
            compact = "".join(norm[i] for i in positions).upper()
            if len(compact) >= 15 and nir_is_valid(compact[:15]):
                end = positions[14] + 1
                span = context.span_from_normalized(m.start(), end, "NIR", 1.0, self.name, compact[:15])
            elif len(compact) == 13 and _NIR_STRUCTURE.fullmatch(compact):
                span = context.span_from_normalized(m.start(), m.end(), "NIR", 0.3, self.name, compact)
            else:
                continue
            if span is not None:
                spans.append(span)
        return [s for s in boost(spans, context.text, _NIR_CONTEXT, amount=0.5, window=80) if s.score >= 0.5]


# --- IBAN -----------------------------------------------------------------------------------------

_IBAN_SEP = r"(?:,\s?| )?"
_IBAN_CANDIDATE = re.compile(
    rf"(?<![\w])[A-Z]{_IBAN_SEP}[A-Z]{_IBAN_SEP}\d{_IBAN_SEP}\d(?:{_IBAN_SEP}[A-Z0-9]){{11,30}}(?![\w])"
)


def iban_is_valid(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) passes its country's format and the ISO 13616 mod-97 check
    (python-stdnum)."""
    from stdnum import iban as stdnum_iban

    compact = iban.replace(" ", "").upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    return bool(stdnum_iban.is_valid(compact))


class IbanRecognizer:
    """IBANs with a valid checksum, written in blocks or spoken (letters spelled, digits in words)."""

    name = "iban"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for m in _IBAN_CANDIDATE.finditer(norm):
            positions = [i for i in range(m.start(), m.end()) if norm[i] not in " ,"]
            compact = "".join(norm[i] for i in positions)
            # The candidate may run into the next word or number: try the longest valid prefix.
            for length in range(min(len(compact), 34), 14, -1):
                if iban_is_valid(compact[:length]):
                    span = context.span_from_normalized(
                        m.start(), positions[length - 1] + 1, "IBAN", 1.0, self.name, compact[:length]
                    )
                    if span is not None:
                        spans.append(span)
                    break
        return spans


# --- SIREN / SIRET -------------------------------------------------------------------------------

# 9 digits (SIREN, "123 456 789") or 14 (SIRET: the SIREN and a 5-digit establishment number), in groups.
_COMPANY_CANDIDATE = re.compile(r"(?<![\w.,])\d{3}[ .]?\d{3}[ .]?\d{3}(?:[ .]?\d{5})?(?![\w]|[.,]\d)")
_COMPANY_CONTEXT: Final = (
    "siren", "siret", "rcs", "société", "societe", "entreprise", "auto-entrepreneur", "micro-entreprise",
    "établissement", "etablissement", "immatriculée", "immatriculee", "kbis", "employeur", "sarl", "sas",
)  # fmt: skip


def company_id_is_valid(number: str) -> bool:
    """Whether ``number`` (spaces and dots allowed) is a SIREN (9 digits) or a SIRET (14) with a valid Luhn
    check digit (python-stdnum)."""
    from stdnum.fr import siren, siret

    compact = re.sub(r"[ .]", "", number)
    if len(compact) == 9:
        return bool(siren.is_valid(compact))
    return len(compact) == 14 and bool(siret.is_valid(compact))


class CompanyIdRecognizer:
    """SIREN and SIRET numbers of a business (a sole trader's identifies a person), checksum-validated.

    The Luhn check passes one random number in ten: a number is taken only near a word that announces a
    business ("SIRET", "société", "RCS", "employeur"...), or written as a SIRET in its 3-3-3-5 groups.
    """

    name = "company_id"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for m in _COMPANY_CANDIDATE.finditer(norm):
            if not company_id_is_valid(m.group()):
                continue
            grouped_siret = re.fullmatch(r"\d{3} \d{3} \d{3} \d{5}", m.group()) is not None
            score = 0.6 if grouped_siret else 0.3
            compact = re.sub(r"[ .]", "", m.group())
            span = context.span_from_normalized(m.start(), m.end(), "COMPANY_ID", score, self.name, compact)
            if span is not None:
                spans.append(span)
        boosted = boost(spans, context.text, _COMPANY_CONTEXT, amount=0.5, window=80)
        return [s for s in boosted if s.score >= 0.5]


# --- licence plates -------------------------------------------------------------------------------

_PLATE_SIV = re.compile(
    r"(?<![\w\-])[A-HJ-NP-TV-Z][ ]?[A-HJ-NP-TV-Z][- ]?\d[ ]?\d[ ]?\d[- ]?"
    r"[A-HJ-NP-TV-Z][ ]?[A-HJ-NP-TV-Z](?![\w\-])"
)
_PLATE_FNI = re.compile(r"(?<![\w\-])\d{1,4}[ \-]?[A-Z]{1,3}[ \-]?(?:\d{2}|2[AB]|97[1-6])(?![\w\-])")
_PLATE_CONTEXT: Final = (
    "immatricul", "plaque", "véhicule", "vehicule", "voiture", "scooter", "moto", "camion", "fourgon",
    "licence plate", "registration",
)  # fmt: skip


class PlateRecognizer:
    """Licence plates: SIV (AB-123-CD, since 2009) and, in context, the older FNI form (1234 AB 75)."""

    name = "plate"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for pattern, score in ((_PLATE_SIV, 0.7), (_PLATE_FNI, 0.3)):
            for m in pattern.finditer(norm):
                key = re.sub(r"[\s\-]", "", m.group())
                span = context.span_from_normalized(m.start(), m.end(), "PLATE", score, self.name, key)
                if span is not None:
                    spans.append(span)
        return [
            s for s in boost(spans, context.text, _PLATE_CONTEXT, amount=0.4, window=80) if s.score >= 0.5
        ]


# --- case and procedure numbers -------------------------------------------------------------------

# Parts joined by "/" or "-" (spaces around allowed, never a line break) or by a dot with no space: a case
# number never runs into the next sentence ("Dossier 2026/123. Le témoin...").
_CASE_NUMBER = r"((?-i:\d[\dA-Z]*(?:[ \t]?[/\-][ \t]?[\dA-Z]+|\.[\dA-Z]*\d[\dA-Z]*)*))"
_CASE_LABELLED = re.compile(
    r"\b(?:PV|P\.V\.|procès-verbal|proces-verbal|R\.?G\.?|parquet|procédure|procedure|dossier|affaire|"
    r"requêtes?|requetes?|pourvoi|ordonnance|jugement|arrêt|arret|plainte|instruction|main courante|"
    r"case|application)"
    r"(?:\s+(?:du\s+)?(?:parquet|RG))?\s*(?:n\s?[°ºo]\.?|numéro|numero|no\.?|#)?\s*:?\s*" + _CASE_NUMBER,
    re.IGNORECASE,
)
_CASE_BARE = re.compile(r"\b(?:n\s?[°º]|no|n°)\s*(\d+(?:\s?[/\-]\s?\d+)+|\d{5,})(?![\w])", re.IGNORECASE)
# Numbers of laws and regulations are public and identify nobody.
_NOT_A_CASE = re.compile(
    r"\b(?:loi|décret|decret|arrêté|arrete|article|articles|directive|règlement|reglement|circulaire|"
    r"protocole|code|convention)s?\b[^.;]{0,12}$",
    re.IGNORECASE,
)


class CaseNumberRecognizer:
    """Case, procedure, PV, RG and parquet numbers ("PV n° 2024/01234", "RG 23/04567", "no 20022/92")."""

    name = "case_number"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for pattern, score in ((_CASE_LABELLED, 0.85), (_CASE_BARE, 0.7)):
            for m in pattern.finditer(norm):
                if _NOT_A_CASE.search(norm[max(0, m.start() - 30) : m.start()]):
                    continue
                number = m.group(1)
                digits = re.sub(r"\D", "", number)
                # A labelled bare small number ("affaire 3") or a year is not a case number.
                short = len(digits) < 3 or (len(digits) == 4 and "/" not in number and "-" not in number)
                labelled = score == 0.85 and len(digits) >= 3 and not re.fullmatch(r"(19|20)\d\d", digits)
                if short and not labelled:
                    continue
                start = m.start(1)
                end = m.end(1)
                span = context.span_from_normalized(start, end, "CASE_NUMBER", score, self.name, number)
                if span is not None:
                    spans.append(span)
        return spans


# --- dates, dates of birth, ages ------------------------------------------------------------------

_MONTHS = (
    r"janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
    r"decembre|january|february|march|april|may|june|july|august|september|october|november|december"
)
_DATE = re.compile(
    rf"\b(?:(?:1er|premier|\d{{1,2}})\s+(?:{_MONTHS})(?:\s+\d{{4}})?|(?:{_MONTHS})\s+(?:1er\s+|\d{{1,2}},?\s+)?\d{{4}}"
    rf"|\d{{1,2}}[/.\-]\d{{1,2}}[/.\-](?:\d{{4}}|\d{{2}}))\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:en|depuis|in|since|année|year)\s+((?:1[89]|20)\d{2})\b", re.IGNORECASE)
_BIRTH = re.compile(r"\b(?:né|née|nés|nées|ne|nee|naissance|né\(e\)|born|birth)\b[^.;]{0,20}$", re.IGNORECASE)
_AGE = re.compile(
    r"(?:\bj['’]ai|\bil a|\belle a|\btu as|\bon a|\bavait|\baura|\bj['’]avais|\bâgée?s?\s+de|\bagée?s?\s+de|"
    r"\bâge\s+de|\b(?:fils|fille|enfant|frère|frere|sœur|soeur|garçon|garcon|gamin|gamine|bébé|bebe|petite?)\s+de"
    r"|\bI am|\bI'm|\bhe is|\bshe is|\baged|[,(])\s*(\d{1,3})\s*(?:ans|an|years?(?:\s+old)?)\b",
    re.IGNORECASE,
)


class DateRecognizer:
    """Calendar dates; those that follow "né le", "née en", "date de naissance" are dates of birth."""

    name = "date"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        matches = [(m.start(), m.end(), 0.85) for m in _DATE.finditer(norm)]
        matches += [(m.start(1), m.end(1), 0.6) for m in _YEAR.finditer(norm)]
        for start, end, score in matches:
            birth = _BIRTH.search(norm[max(0, start - 40) : start]) is not None
            category = "BIRTHDATE" if birth else "DATE"
            span = context.span_from_normalized(start, end, category, 0.9 if birth else score, self.name)
            if span is not None:
                spans.append(span)
        return spans


class AgeRecognizer:
    """Ages said in context: "j'ai 9 ans", "j'ai neuf ans", "âgée de 14 ans", "mon fils de 6 ans"."""

    name = "age"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans = []
        for m in _AGE.finditer(norm):
            span = context.span_from_normalized(m.start(1), m.end(), "AGE", 0.85, self.name)
            if span is not None:
                spans.append(span)
        return spans


# --- postal addresses -----------------------------------------------------------------------------

_NAME_WORD = r"[A-ZÀ-ÖØ-Ý][\w'’\-]*"
_LINK = r"(?:de\s+la|de\s+l['’]|du|des|de|d['’]|la|le|les|l['’]|aux|au|sur|sous|en|et|saint|sainte)"
_STREET = (
    r"(?i:rue|avenue|av\.|boulevard|bd|place|impasse|allée|allee|chemin|route|quai|cours|square|passage|"
    r"résidence|residence|lotissement|cité|cite|voie|sentier|rond-point|faubourg|hameau|lieu-dit|parvis|"
    r"esplanade|promenade|street|road|lane|drive)"
)
_POSTAL_TAIL = rf"(?:,?\s+(?:à\s+)?\d{{5}}\s+{_NAME_WORD}(?:[\s\-]{_NAME_WORD})*)?"
# With a number, the street's name may be in lower case (a transcript); without, it must be a name.
_ADDRESS_NUMBERED = re.compile(
    rf"\b\d{{1,4}}(?:\s?(?:bis|ter|quater|[A-D]))?,?\s+{_STREET}\s+(?:{_LINK}\s*)?"
    rf"[\w'’\-]+(?:\s+(?:{_LINK}\s*)?{_NAME_WORD})*{_POSTAL_TAIL}",
)
_ADDRESS_NAMED = re.compile(
    rf"\b{_STREET}\s+(?:{_LINK}\s*)?{_NAME_WORD}(?:\s+(?:{_LINK}\s*)?{_NAME_WORD})*{_POSTAL_TAIL}"
)
_POSTCODE = re.compile(rf"\b\d{{5}}\s+{_NAME_WORD}(?:[\s\-]+(?:{_LINK}[\s\-]*)?{_NAME_WORD})*")
_STREET_CONTEXT: Final = (
    "habite",
    "domicil",
    "demeur",
    "adresse",
    "vit ",
    "vivent",
    "réside",
    "reside",
    "lives",
)


class AddressRecognizer:
    """Postal addresses: "12 rue des Lilas", "12 bis, avenue de la République, 69003 Lyon", "75011 Paris"."""

    name = "address"
    languages = _ALL

    def analyze(self, context: AnalysisContext) -> list[Span]:
        norm = context.normalized.text
        spans: list[Span] = []
        for pattern, score in ((_ADDRESS_NUMBERED, 0.9), (_ADDRESS_NAMED, 0.55)):
            for m in pattern.finditer(norm):
                span = context.span_from_normalized(m.start(), m.end(), "ADDRESS", score, self.name)
                if span is not None:
                    spans.append(span)
        for m in _POSTCODE.finditer(norm):
            span = context.span_from_normalized(m.start(), m.end(), "ADDRESS", 0.7, self.name)
            if span is not None:
                spans.append(span)
        return boost(spans, context.text, _STREET_CONTEXT, amount=0.3)


RULE_RECOGNIZERS: Final = (
    PhoneRecognizer,
    EmailRecognizer,
    NirRecognizer,
    IbanRecognizer,
    CompanyIdRecognizer,
    PlateRecognizer,
    CaseNumberRecognizer,
    DateRecognizer,
    AgeRecognizer,
    AddressRecognizer,
)
"""The rule recognizers, registered by :func:`verbatim.anonymize.registry.builtin_registry`."""
