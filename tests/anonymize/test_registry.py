"""The recognizer registry is an object filled explicitly: nothing registers itself on import."""

from __future__ import annotations

import pytest

from verbatim.anonymize.analyzer import DEFAULT_RECOGNIZERS, analyzer_from
from verbatim.anonymize.recognizers import AnalysisContext
from verbatim.anonymize.registry import RecognizerRegistry, builtin_registry
from verbatim.anonymize.spans import Span


class BadgeRecognizer:
    """A plugin recognizer: service badge numbers ("badge 4711")."""

    name = "badge"
    languages = frozenset({"fr"})

    def analyze(self, context: AnalysisContext) -> list[Span]:
        start = context.text.find("4711")
        return [] if start < 0 else [Span(start, start + 4, "CASE_NUMBER", 0.9, "4711", self.name)]


def test_the_builtin_registry_names_every_default_recognizer() -> None:
    assert set(DEFAULT_RECOGNIZERS) <= set(builtin_registry().names())


def test_a_registry_holds_only_what_was_added_to_it() -> None:
    registry = RecognizerRegistry()
    assert registry.names() == ()
    with pytest.raises(ValueError, match="unknown recognizer 'phone'"):
        registry.create("phone")
    registry.add("badge", BadgeRecognizer)
    analyzer = analyzer_from(registry, ["badge"], propagate_names=False)
    spans = analyzer.analyze("Il montre son badge 4711 au guichet.")
    assert [(s.text, s.source) for s in spans] == [("4711", "badge")]
    assert "badge" not in builtin_registry().names()  # another registry is not affected
