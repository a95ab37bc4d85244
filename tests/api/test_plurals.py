"""Plural forms in the message catalogue: babel's CLDR rules pick the form on the server, the pages get the
same catalogue from /web/messages.json (and pick with the browser's Intl.PluralRules, checked against babel
in tests/web/test_editor.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Service
from verbatim.api.messages import PLURALS, plural, plural_category


def test_french_and_english_plurals_follow_cldr() -> None:
    assert [plural("corrections_count", n) for n in (0, 1, 2, 3)] == [
        "0 correction",
        "1 correction",
        "2 corrections",
        "3 corrections",
    ]
    assert [plural("corrections_count", n, "en") for n in (0, 1, 3)] == [
        "0 corrections",
        "1 correction",
        "3 corrections",
    ]
    assert plural("words_selected", 2) == "2 mots sélectionnés"
    assert (
        plural_category(1, "fr") == plural_category(0, "fr") == "one" and plural_category(0, "en") == "other"
    )


def test_every_plural_has_both_languages_and_the_forms_of_their_rules() -> None:
    for key, languages in PLURALS.items():
        assert set(languages) == {"fr", "en"}, key
        for forms in languages.values():
            assert {"one", "other"} <= set(forms) and all("{n}" in text for text in forms.values()), key


def test_the_pages_get_the_plurals(service: Service) -> None:
    client: TestClient = service.client
    body = client.get("/web/messages.json").json()
    assert body["plurals"]["corrections_count"]["fr"]["one"] == "{n} correction"
