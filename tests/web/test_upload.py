"""The upload page on par with the API, in a real headless Chromium against a real server: the speaker
range, the pseudonymisation policy and the case fields go with every file, and several files chosen at once
make one job each, each followed to its own link."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DATA
from tests.web.conftest import Server
from tests.web.test_pages import sign_in
from verbatim.anonymize.policy import POLICIES

pytestmark = [pytest.mark.models]

# Two short read sentences (Apache-2.0, tests/data/ATTRIBUTION.md).
FILES = [DATA / "picovoice_test_en.wav", DATA / "picovoice_test_fr.wav"]
CASE = "2026/00456"
PERSONS = "Mme Durand (greffière), M. Martin (témoin)"


def test_two_files_at_once_make_two_jobs_with_the_options_set(server: Server, new_page: Any) -> None:
    watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["enqueteur-a"])
    page.goto("/web/upload")
    page.wait_for_selector("#send")
    page.set_input_files("#file", [str(path) for path in FILES])
    assert "2 fichiers" in page.locator("#chosen").inner_text()
    page.get_by_label("Langue", exact=True).select_option("")
    page.get_by_label("Au moins (locuteurs)").fill("1")
    page.get_by_label("Au plus (locuteurs)").fill("2")
    page.get_by_label("Politique de pseudonymisation").select_option("open-data")
    page.get_by_label("Numéro de procédure").fill(CASE)
    page.get_by_label("Lieu de l'audition").fill("Commissariat de Lyon")
    page.get_by_label("Date de l'audition").fill("2026-11-29")
    page.get_by_label("Heure de l'audition").fill("14:30")
    page.get_by_label("Personnes présentes").fill(PERSONS)
    page.get_by_label("Numéroter les lignes du procès-verbal").check()
    watched.shot("20-upload-several")
    page.get_by_role("button", name="Envoyer").click()

    # Each file has its own progress and, once its job succeeded, its own link.
    for path in FILES:
        link = page.get_by_role("link", name=f"Ouvrir la transcription de {path.name}")
        link.wait_for(state="visible", timeout=300_000)
    ids = page.eval_on_selector("#follow", "e => e.dataset.jobs").split()
    assert len(ids) == 2 and ids[0] != ids[1]
    assert page.locator("#single-follow").is_hidden()
    assert page.locator("#upload-progress-0").evaluate("e => e.value") == 100
    assert page.locator("#upload-progress-1").evaluate("e => e.value") == 100
    watched.shot("21-upload-several-done")
    links = [
        page.get_by_role("link", name=f"Ouvrir la transcription de {path.name}").get_attribute("href")
        for path in FILES
    ]
    assert links == [f"/web/jobs/{job_id}" for job_id in ids]

    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        for job_id, path in zip(ids, FILES, strict=True):
            job = client.get(f"/v1/jobs/{job_id}").json()
            options = job["options"]
            assert job["filename"] == path.name and job["status"] == "succeeded"
            assert options["pseudonymization_policy"] == "open-data"
            assert (options["min_speakers"], options["max_speakers"]) == (1, 2)
            assert options["num_speakers"] is None
            assert options["case_number"] == CASE
            assert options["hearing_place"] == "Commissariat de Lyon"
            assert options["hearing_date"] == "2026-11-29T14:30"
            assert options["persons_present"] == ["Mme Durand (greffière)", "M. Martin (témoin)"]
            assert options["language"] == "auto" and options["line_numbers"] is True
    watched.check()


def test_the_new_fields_are_labelled_and_described(server: Server, new_page: Any) -> None:
    watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["enqueteur-a"])
    page.goto("/web/upload")
    page.wait_for_selector("#send")
    assert page.locator("#file").get_attribute("multiple") is not None
    for label, help_id in (
        ("Au moins (locuteurs)", "range-help"),
        ("Au plus (locuteurs)", "range-help"),
        ("Politique de pseudonymisation", "policy-help"),
        ("Numéro de procédure", "case-help"),
        ("Personnes présentes", "persons-help"),
    ):
        field = page.get_by_label(label)
        assert help_id in (field.get_attribute("aria-describedby") or "").split()
        assert page.locator(f"#{help_id}").inner_text().strip()
    # The policy offers the API's built-in policies, the service's default first.
    values = page.locator("#opt-policy option").evaluate_all("os => os.map(o => o.value)")
    assert values == ["", *POLICIES]
    watched.check()
