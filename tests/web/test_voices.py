"""The known-voices page and the upload page's voices switch, in a real headless Chromium against a real
server: a clerk enrols a voice from a committed clip and sees it go from pending to ready (the embedded
worker makes the print with the real CAM++ model), is refused a second voice of that name in French, uploads
a recording with the switch unticked (the job's request says ``voices=false``), then removes the voice after
a confirmation; a recording without speech ends ``failed`` with its French message; a diplomat sees neither
the link nor the page's content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import DATA, write_audio
from tests.web.conftest import Server, Watched
from tests.web.test_pages import _no_horizontal_scroll, sign_in
from verbatim.ops.accounts import create_user

pytestmark = [pytest.mark.models]

# President Kennedy, 11 s of read speech (public domain, tests/data/ATTRIBUTION.md): enough for a print.
VOICE = DATA / "jfk.flac"
# Two read utterances, 5 s (MIT, tests/data/ATTRIBUTION.md): the recording uploaded with the switch off.
CLIP = DATA / "stereo_diarization.wav"


@pytest.fixture(scope="module")
def clerk(server: Server) -> str:
    """A clerk of a unit of its own (no other web test sees its voices or its jobs); their token."""
    with server.state.sessions() as session:
        return create_user(session, name="greffiere-v", role="clerk", unit="tribunal-v")[1]


def api_get(server: Server, token: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{server.base_url}{path}", headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def open_voices(watched: Watched, token: str) -> Any:
    """Sign in, follow the header's link to the voices page; the page, once it has loaded."""
    page = watched.page
    sign_in(watched, token)
    page.get_by_role("link", name="Voix connues").click()
    page.wait_for_url("**/web/voices")
    page.wait_for_selector("body[data-ready=true]")
    return page


def enrol(page: Any, name: str, recording: Path, role: str | None = None) -> None:
    page.get_by_label("Nom", exact=True).fill(name)
    if role is not None:
        page.get_by_label("Fonction (facultatif)").fill(role)
    page.get_by_label("Enregistrements de la voix (1 à 5)").set_input_files(str(recording))
    page.get_by_label("La personne a donné son accord", exact=False).check()
    page.get_by_role("button", name="Enregistrer la voix").click()


def test_a_clerk_enrols_a_voice_uses_it_on_upload_and_removes_it(
    server: Server, clerk: str, new_page: Any
) -> None:
    watched = new_page()
    page = open_voices(watched, clerk)
    assert page.locator("#voices-empty").inner_text() == "Aucune voix enregistrée pour l'unité."
    privacy = page.locator("#enrol-privacy").inner_text()
    assert "uniquement à calculer l'empreinte vocale" in privacy and "supprimés" in privacy
    assert "accord" in privacy
    watched.shot("40-voices-empty")

    enrol(page, "Dupont", VOICE, role="Greffière")
    row = page.locator("#voice-table tbody tr")
    assert row.locator("th").inner_text() == "Dupont"  # shown at once, pending, before the worker is done
    assert "reçue" in page.locator("#notice").inner_text()
    page.wait_for_selector('#voice-table tr[data-status="ready"]', timeout=300_000)
    assert row.count() == 1
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == "Greffière" and cells[1].strip() == "Prête"
    assert float(cells[2].removesuffix(" s").replace(",", ".")) >= 6
    assert "Voix de Greffière Dupont prête" in page.locator("#notice").inner_text()
    voice_id = row.get_attribute("data-voice")
    watched.shot("41-voice-ready")

    # The same shown name again (any case): the API's 409, in French, under the form.
    watched.allowed.append("409")
    enrol(page, "dupont", VOICE, role="greffière")
    error = page.locator("#enrol-error")
    error.wait_for(state="visible")
    assert "déjà enregistré une voix sous ce nom" in error.inner_text()
    assert page.locator("#voice-table tbody tr").count() == 1

    # The upload page now offers the switch, ticked (the API's default); unticked, the job says so.
    page.get_by_role("link", name="Nouvelle transcription").first.click()
    page.wait_for_url("**/web/upload")
    switch = page.get_by_label("Nommer les voix connues de l'unité")
    switch.wait_for(state="visible")
    assert switch.is_checked()
    assert page.locator("#voices-help").inner_text().strip()
    watched.shot("44-upload-voices-switch")
    switch.uncheck()
    page.set_input_files("#file", str(CLIP))
    page.get_by_label("Langue", exact=True).select_option("en")
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_function("() => document.getElementById('follow').dataset.job")
    job_id = page.eval_on_selector("#follow", "e => e.dataset.job")
    assert api_get(server, clerk, f"/v1/jobs/{job_id}")["options"]["voices"] is False

    # Removal asks first: cancelled, the voice stays; confirmed, it is gone from the page and the API.
    page.get_by_role("link", name="Voix connues").click()
    page.wait_for_selector("body[data-ready=true]")
    delete = page.get_by_role("button", name="Supprimer la voix de Greffière Dupont")
    page.once("dialog", lambda dialog: dialog.dismiss())
    delete.click()
    assert page.locator("#voice-table tbody tr").count() == 1
    messages: list[str] = []

    def accept(dialog: Any) -> None:
        messages.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    delete.click()
    page.wait_for_selector(f'tr[data-voice="{voice_id}"]', state="detached")
    assert messages and "Supprimer la voix de Greffière Dupont ?" in messages[0]
    assert page.locator("#voices-empty").is_visible()
    assert "Voix de Greffière Dupont supprimée." in page.locator("#notice").inner_text()
    assert api_get(server, clerk, "/v1/voices") == {"voices": []}
    watched.check()


def test_a_recording_without_speech_ends_failed_with_its_french_message(
    server: Server, clerk: str, new_page: Any, tmp_path: Path
) -> None:
    silence = write_audio(tmp_path / "silence.wav", np.zeros(16000 * 3, dtype=np.float32))
    watched = new_page()
    page = open_voices(watched, clerk)
    enrol(page, "Martin", silence)
    failed = page.locator('#voice-table tr[data-status="failed"]')
    failed.wait_for(timeout=300_000)
    assert failed.locator(".badge").inner_text() == "Échec"
    assert "pas assez de parole" in failed.locator("p.error").inner_text()
    assert "n'a pas pu être enregistrée" in page.locator("#notice").inner_text()
    watched.shot("42-voice-failed")
    # On a phone the table scrolls in its own box: the page itself is no wider than the screen.
    page.set_viewport_size({"width": 390, "height": 800})
    _no_horizontal_scroll(page)
    watched.shot("43-voice-failed-390")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Supprimer la voix de Martin").click()
    page.wait_for_selector("#voices-empty:not([hidden])")
    watched.check()


def test_a_diplomat_sees_neither_the_link_nor_the_voices(server: Server, new_page: Any) -> None:
    watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["agent-x"])
    page.goto("/web/upload")
    page.wait_for_selector("#send")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name="Voix connues").count() == 0
    assert page.locator("#voices-option").is_hidden()  # the unit has no voice: no switch either
    page.goto("/web/voices")
    page.wait_for_selector("body[data-ready=true]")
    assert "ne permet pas" in page.locator("#voices-forbidden").inner_text()
    assert page.locator("#voices-content").is_hidden()
    assert page.locator("#enrol-form").is_hidden() and page.locator("#voice-table").is_hidden()
    watched.check()
