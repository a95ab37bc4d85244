"""The registry of recognizers: an object built explicitly, as Presidio's ``RecognizerRegistry`` is.

Nothing registers itself when imported: :func:`builtin_registry` lists the built-in recognizers, and a
caller (a plugin, a test) adds its own to a registry it holds.
"""

from __future__ import annotations

from collections.abc import Mapping

from verbatim.anonymize.recognizers import Recognizer, RecognizerFactory

__all__ = ["RecognizerRegistry", "builtin_registry", "create_recognizer"]


class RecognizerRegistry:
    """Recognizer factories by name.

    Args:
        factories: name -> factory to start with.
    """

    def __init__(self, factories: Mapping[str, RecognizerFactory] | None = None) -> None:
        self._factories: dict[str, RecognizerFactory] = dict(factories or {})

    def add(self, name: str, factory: RecognizerFactory) -> None:
        """Make a recognizer available by name (replacing one of the same name)."""
        self._factories[name] = factory

    def names(self) -> tuple[str, ...]:
        """The registered names, in the order they were added."""
        return tuple(self._factories)

    def create(self, name: str) -> Recognizer:
        """A new recognizer by its registered name.

        Raises:
            ValueError: no recognizer of that name.
        """
        try:
            factory = self._factories[name]
        except KeyError:
            known = ", ".join(sorted(self._factories))
            raise ValueError(f"unknown recognizer {name!r}: choose from {known}") from None
        return factory()


def builtin_registry() -> RecognizerRegistry:
    """A registry of every built-in recognizer: rules, names and spaCy's NER (loaded on first analysis)."""
    from verbatim.anonymize.names import NAME_RECOGNIZERS
    from verbatim.anonymize.ner import ENGLISH_MODEL, SpacyRecognizer
    from verbatim.anonymize.people import PEOPLE_RECOGNIZERS
    from verbatim.anonymize.rules import RULE_RECOGNIZERS
    from verbatim.anonymize.wordnames import WORD_NAME_RECOGNIZERS

    registry = RecognizerRegistry()
    for recognizer in (*RULE_RECOGNIZERS, *NAME_RECOGNIZERS, *PEOPLE_RECOGNIZERS, *WORD_NAME_RECOGNIZERS):
        registry.add(recognizer.name, recognizer)
    registry.add("spacy", SpacyRecognizer)
    registry.add("spacy_en", lambda: SpacyRecognizer(ENGLISH_MODEL, language="en", name="spacy_en"))
    return registry


def create_recognizer(name: str) -> Recognizer:
    """A new built-in recognizer by name.

    Raises:
        ValueError: no recognizer of that name.
    """
    return builtin_registry().create(name)
