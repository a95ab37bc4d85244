"""The web pages in a real headless Chromium against a real server: sign in, upload a two-speaker clip,
follow it, rename a speaker, correct a word, play from a clicked word, export DOCX and SRT, search, and check
that another unit's user sees nothing of it. No JavaScript error is tolerated on any page."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import DATA
from tests.web.conftest import Server, Watched

pytestmark = [pytest.mark.models]

# Two read utterances, one speaker per channel (MIT, tests/data/ATTRIBUTION.md): split, it gives S1 and S2.
CLIP = DATA / "stereo_diarization.wav"
# A read French sentence (Apache-2.0, tests/data/ATTRIBUTION.md): "Sous le consulat il devient ...".
FRENCH = DATA / "picovoice_test_fr.wav"
NAME = "Julie"
NEW_NAME = "Enquêteur"
CORRECTION = "Zanzibar"


def sign_in(watched: Watched, token: str, path: str = "/web/") -> None:
    page = watched.page
    page.goto(path)
    page.get_by_label("Jeton d'accès").fill(token)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_selector("#jobs:not([hidden])")


def open_job(watched: Watched, token: str, job_id: str) -> Any:
    """Sign in, then open a job's page once it is ready; the page."""
    sign_in(watched, token)
    watched.page.goto(f"/web/jobs/{job_id}")
    watched.page.wait_for_selector("body[data-ready=true]")
    return watched.page


@pytest.fixture(scope="module")
def flow(server: Server, browser: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole investigator's flow, once; the tests below check what it produced."""
    from tests.web.conftest import watch

    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": 1366, "height": 768},
        accept_downloads=True,
        locale="fr-FR",
    )
    context.set_default_timeout(20_000)
    watched = watch(context.new_page())
    page = watched.page
    out: dict[str, Any] = {"watched": watched}
    downloads = tmp_path_factory.mktemp("downloads")

    page.goto("/web/")
    page.wait_for_selector("#signin:not([hidden])")
    watched.shot("01-sign-in")
    sign_in(watched, server.tokens["enqueteur-a"])

    # Upload through the page: file input, options, the real upload progress, then the job's progress.
    page.get_by_role("link", name="Nouvelle transcription").first.click()
    page.wait_for_url("**/web/upload")
    page.set_input_files("#file", str(CLIP))
    page.get_by_label("Langue", exact=True).select_option("en")
    page.get_by_label("Canaux").select_option("split")
    watched.shot("02-upload-form")
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_selector("#open-job:not([hidden])", timeout=180_000)
    out["upload_progress"] = page.eval_on_selector("#upload-progress", "e => e.value")
    out["job_progress"] = page.eval_on_selector("#job-progress", "e => e.value")
    out["job_id"] = page.eval_on_selector("#follow", "e => e.dataset.job")
    watched.shot("03-upload-done")

    # The transcript page.
    page.get_by_role("link", name="Ouvrir la transcription").click()
    page.wait_for_selector("body[data-ready=true]")
    watched.shot("04-transcript")

    # Rename S1 everywhere.
    page.get_by_label("Nom de S1").fill(NEW_NAME)
    page.get_by_role("button", name="Enregistrer les noms").click()
    page.wait_for_selector(f"#history-table >> text={NEW_NAME}")
    out["turn_names"] = page.eval_on_selector_all(
        ".speaker[data-speaker=S1]", "es => es.map(e => e.textContent)"
    )

    # Correct the second word of the first segment inline (double-click, type, Enter).
    word = page.locator('.w[data-s="0"][data-i="1"]')
    out["before"] = word.inner_text()
    word.dblclick()
    field = page.get_by_role("textbox", name=f"Corriger le mot « {out['before']} »")
    field.fill(CORRECTION)
    field.press("Enter")
    page.wait_for_selector(f"#history-table >> text={CORRECTION}")
    out["word_after"] = word.inner_text()
    out["word_classes"] = word.get_attribute("class")

    # Play from a clicked word: the position jumps to its start, then the recording really plays.
    target = page.locator(".w").filter(has_not_text=CORRECTION).nth(4)
    out["clicked_start"] = float(target.get_attribute("data-start") or "nan")
    target.click()
    out["time_after_click"] = page.evaluate("document.getElementById('audio').currentTime")
    page.wait_for_function(
        "t => document.getElementById('audio').currentTime > t",
        arg=out["clicked_start"] + 0.3,
        timeout=15_000,
    )
    out["highlighted"] = page.locator(".w.current").count()
    # Keyboard: K pauses, J goes back 5 s.
    page.locator("#transcript").focus()
    page.keyboard.press("k")
    page.wait_for_function("() => document.getElementById('audio').paused")
    before_j = page.evaluate("document.getElementById('audio').currentTime")
    page.keyboard.press("j")
    out["skip_back"] = (before_j, page.evaluate("document.getElementById('audio').currentTime"))

    # Custody manifest shown, with the original transcript and the corrected revision.
    page.locator("#custody-details summary").click()
    out["custody_kinds"] = page.eval_on_selector_all(
        "#custody-artifacts tbody tr", "rs => rs.map(r => r.dataset.kind)"
    )
    page.locator("#custody-details").scroll_into_view_if_needed()
    watched.shot("05-transcript-edited")

    # Exports.
    for fmt in ("docx", "srt", "pdf"):
        page.get_by_label("Format").select_option(fmt)
        with page.expect_download() as info:
            page.get_by_role("button", name="Télécharger").click()
        path = downloads / f"export.{fmt}"
        info.value.save_as(path)
        out[fmt] = path
        out[f"{fmt}_name"] = info.value.suggested_filename

    # The pseudonymised view, read-only.
    page.get_by_label("Version").select_option("pseudonymized")
    page.wait_for_function(
        "() => document.getElementById('view').value === 'original'"
        " || !document.getElementById('mode-note').hidden"
    )
    out["pseudo_view"] = page.eval_on_selector("#view", "e => e.value")
    # Read only: no name field nor save button, and no correction shortcut said.
    out["pseudo_read_only"] = (
        page.locator("#speakers-form input").count() == 0
        and page.get_by_role("button", name="Enregistrer les noms").count() == 0
        and "F2" not in page.locator("#shortcuts").inner_text()
    )

    # Search over the unit's transcripts from the list.
    page.goto("/web/")
    page.wait_for_selector("#job-table tbody tr")
    page.get_by_label("Rechercher dans les transcriptions").fill(CORRECTION.lower())
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_selector("#count >> text=1 transcription")
    out["found"] = page.eval_on_selector_all("#job-table tbody tr", "rs => rs.map(r => r.dataset.job)")
    watched.shot("06-job-list-search")
    page.get_by_label("Rechercher dans les transcriptions").fill("motquinexistepas")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_selector("#count >> text=Aucune transcription ne correspond.")
    out["not_found"] = page.locator("#job-table tbody tr").count()
    watched.check()
    context.close()
    return out


def test_upload_shows_real_progress_until_the_job_succeeds(flow: dict[str, Any]) -> None:
    assert flow["upload_progress"] == 100
    assert flow["job_progress"] == 100
    assert flow["job_id"]


def test_a_renamed_speaker_and_a_corrected_word_show_on_the_page(flow: dict[str, Any]) -> None:
    assert flow["turn_names"] and set(flow["turn_names"]) == {NEW_NAME}
    assert flow["word_after"] == CORRECTION and "edited" in flow["word_classes"]
    assert flow["before"] != CORRECTION


def test_clicking_a_word_plays_from_it(flow: dict[str, Any]) -> None:
    assert flow["clicked_start"] > 0
    assert abs(flow["time_after_click"] - flow["clicked_start"]) < 0.25
    assert flow["highlighted"] == 1
    before, after = flow["skip_back"]
    assert after == pytest.approx(max(0.0, before - 5.0), abs=0.05)


def test_exports_carry_the_names_and_corrections(flow: dict[str, Any]) -> None:
    from docx import Document

    docx_path: Path = flow["docx"]
    text = "\n".join(p.text for p in Document(io.BytesIO(docx_path.read_bytes())).paragraphs)
    assert NEW_NAME in text and CORRECTION in text
    srt = flow["srt"].read_text(encoding="utf-8")
    assert NEW_NAME in srt and CORRECTION in srt and "-->" in srt
    from pypdf import PdfReader

    pdf = " ".join(page.extract_text() or "" for page in PdfReader(str(flow["pdf"])).pages)
    assert NEW_NAME in pdf and CORRECTION in pdf and "page 1 / " in pdf


def test_downloads_are_named_after_the_recording_and_date(flow: dict[str, Any]) -> None:
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date().isoformat()
    for fmt in ("docx", "srt", "pdf"):
        assert flow[f"{fmt}_name"] == f"{CLIP.stem}_{today}.{fmt}"
        assert flow["job_id"] not in flow[f"{fmt}_name"]


def test_a_correction_is_kept_when_the_field_loses_focus_and_cancelled_by_escape(
    flow: dict[str, Any], server: Server, new_page: Any
) -> None:
    watched: Watched = new_page()
    page = open_job(watched, server.tokens["enqueteur-a"], flow["job_id"])
    words = page.locator("#transcript .w:not(.edited)")
    # Typed, then a click elsewhere: saved (in the text and in the history), not silently dropped.
    first = words.nth(3)
    key = (first.get_attribute("data-s"), first.get_attribute("data-i"))
    original = first.inner_text()
    first.dblclick()
    page.locator(".word-input").fill("Tombouctou")
    page.locator("#text-title").click()
    saved = page.locator(f'#transcript .w[data-s="{key[0]}"][data-i="{key[1]}"]')
    page.wait_for_function(
        "([s, i]) => document.querySelector(`#transcript .w[data-s='${s}'][data-i='${i}']`)"
        ".textContent === 'Tombouctou'",
        arg=list(key),
    )
    assert "edited" in (saved.get_attribute("class") or "")
    page.wait_for_selector("#history >> text=Tombouctou")
    # Typed, then Escape: the original word back, and the page says the correction was cancelled.
    other = page.locator("#transcript .w:not(.edited)").nth(5)
    before = other.inner_text()
    other.dblclick()
    page.locator(".word-input").fill("Kinshasa")
    page.keyboard.press("Escape")
    page.wait_for_selector("#notice >> text=Correction annulée")
    assert other.inner_text() == before and page.locator(".word-input").count() == 0
    assert "Kinshasa" not in page.locator("#history").inner_text()
    watched.shot("07-correction-on-blur")
    # Revert from the history: the word as it was, by one more correction row (the reverted row stays).
    rows_before = page.locator("#history-table li").count()
    page.get_by_role("button", name=f"Rétablir « {original} » (segment {key[0]}, mot {key[1]})").first.click()
    page.wait_for_selector(f"#notice >> text=« {original} » rétabli")
    from playwright.sync_api import expect

    # the notice may show before the transcript is drawn again: wait on the word itself
    expect(saved).to_have_text(original, timeout=20_000)
    page.wait_for_function(
        f"() => document.querySelectorAll('#history-table li').length === {rows_before + 1}"
    )
    newest = page.locator("#history-table li").first.inner_text()
    assert "Tombouctou" in newest and original in newest
    watched.shot("07b-correction-reverted")
    watched.check()


def test_a_turn_is_given_to_the_other_speaker_and_back(
    flow: dict[str, Any], server: Server, new_page: Any
) -> None:
    watched: Watched = new_page()
    page = open_job(watched, server.tokens["enqueteur-a"], flow["job_id"])
    first = page.locator("#transcript .turn").first
    text = first.locator(".seg").first.inner_text()
    mine = first.locator(".speaker").inner_text()
    menu = first.get_by_role("combobox", name=f"Attribuer le tour de {mine}")
    other = [o for o in menu.locator("option").all_inner_texts() if o != "Attribuer à…"]
    assert len(other) == 1 and other[0] != mine
    menu.select_option(label=other[0])
    page.wait_for_selector(f"#notice >> text=Tour attribué à {other[0]}")
    first = page.locator("#transcript .turn").first
    from playwright.sync_api import expect

    expect(first.locator(".speaker")).to_have_text(other[0], timeout=20_000)
    assert first.inner_text().count(text.split()[0]) >= 1  # the words stay, only the speaker changed
    page.wait_for_selector("#history >> text=locuteur")
    watched.shot("07c-turn-reassigned")
    # Back from the history: the segment's own row reverted (a turn merged with its neighbour stays apart).
    page.locator("#history-table li", has_text="locuteur").first.get_by_role("button").click()
    page.wait_for_selector("#notice >> text=rétabli")
    # The notice may show before the transcript is drawn again: wait for the page, never a fixed time.
    from playwright.sync_api import expect

    expect(page.locator("#transcript .turn").first.locator(".speaker")).to_have_text(mine, timeout=20_000)
    expect(page.locator("#transcript .turn").first.locator(".seg").first).to_have_text(text, timeout=20_000)
    _no_horizontal_scroll(page)
    watched.check()


def test_the_custody_manifest_lists_original_and_revision(flow: dict[str, Any]) -> None:
    assert {"transcript", "transcript_revision"} <= set(flow["custody_kinds"])


def test_the_owner_can_switch_to_the_pseudonymised_view(flow: dict[str, Any]) -> None:
    # Made on demand from the corrected revision (the job was not submitted with pseudonymize=true).
    assert flow["pseudo_view"] == "pseudonymized"
    assert flow["pseudo_read_only"]


def test_search_finds_the_corrected_word(flow: dict[str, Any]) -> None:
    assert flow["found"] == [flow["job_id"]]
    assert flow["not_found"] == 0


def test_another_units_user_sees_nothing_of_the_job(
    flow: dict[str, Any], server: Server, new_page: Any
) -> None:
    watched: Watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["greffier-b"])
    page.wait_for_selector("#count:not(:empty)")
    assert page.locator(f'tr[data-job="{flow["job_id"]}"]').count() == 0
    assert page.locator("#count").inner_text() == "Aucune transcription."
    # The job's own page answers "not found", the same as a job that does not exist.
    watched.allowed.append("404")
    page.goto(f"/web/jobs/{flow['job_id']}")
    page.wait_for_selector("#notice.error")
    assert "introuvable" in page.locator("#notice").inner_text()
    assert page.locator("#workspace").is_hidden()
    watched.shot("07-other-unit")
    # The English switch, kept for the next pages.
    page.get_by_role("button", name="Switch to English").click()
    page.goto("/web/")
    page.wait_for_selector("#jobs:not([hidden])")
    assert page.get_by_role("heading", level=1).inner_text() == "Your unit's transcripts"
    watched.check()


def _transcribed(client: Any, filename: str, options: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """Upload the French clip through the API with ``options``; wait for success; (job id, transcript)."""
    import time

    with FRENCH.open("rb") as fh:
        r = client.post("/v1/jobs", files={"file": (filename, fh, "audio/wav")}, data=options)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 300
    while (job := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["status"] == "succeeded", job
    return job_id, client.get(f"/v1/jobs/{job_id}/transcript").json()


@pytest.fixture(scope="module")
def shared_job(server: Server) -> dict[str, Any]:
    """A French hearing transcribed, translated into English (Whisper's translate task) and pseudonymised by
    the real pipeline; the investigator then corrects "il" into a first name (the pseudonymised view is made
    from the corrected revision) and shares the job with the court's unit. Done through the API: the page's
    own upload and correction are the flow above."""
    import time

    import httpx

    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        job_id, doc = _transcribed(
            client,
            "audition de Julie.wav",
            {"language": "fr", "diarize": "false", "translate_to": "en", "pseudonymize": "true"},
        )
        words = [w["text"].strip() for w in doc["segments"][0]["words"]]
        index = words.index("il")
        edit = {"segment_id": 0, "word_index": index, "before": words[index], "after": NAME}
        assert client.post(f"/v1/jobs/{job_id}/edits", json={"edits": [edit]}).status_code == 200
        # the worker makes the pseudonymised copies again (409 "being made again" until it has)
        deadline = time.monotonic() + 300
        while (released := client.get(f"/v1/jobs/{job_id}/audio/pseudonymized")).status_code == 409:
            assert time.monotonic() < deadline, released.text
            time.sleep(0.5)
        assert released.status_code == 200, released.text
    return {"id": job_id, "translation": doc["segments"][0]["translation"]["text"]}


def _share_with_court(server: Server, job_id: str) -> None:
    """The share (idempotent), so that the shared unit's test does not depend on the owner's running first."""
    import httpx

    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    r = httpx.post(f"{server.base_url}/v1/jobs/{job_id}/shares", json={"unit": "court-b"}, headers=headers)
    assert r.status_code == 201, r.text


def test_translation_side_by_side_and_sharing_from_the_page(
    shared_job: dict[str, Any], server: Server, new_page: Any
) -> None:
    watched: Watched = new_page()
    page = open_job(watched, server.tokens["enqueteur-a"], shared_job["id"])
    assert page.locator(".seg.heads .orig").inner_text() == "Original (fr)"
    assert page.locator(".seg.heads .tr").inner_text() == "Traduction (en)"
    translation = page.locator(".turn .seg.two .tr").first
    english = translation.inner_text()
    assert english.startswith(shared_job["translation"]) and "under" in english.lower()
    assert NAME in page.locator(".turn .seg.two .orig").first.inner_text()  # the owner reads the original
    # The translation was made before "il" was corrected: kept, and said to be older than the correction.
    assert "outdated" in (translation.get_attribute("class") or "")
    assert "antérieure à une correction" in translation.locator(".note").inner_text()
    watched.shot("08-translation-side-by-side")

    # Share the pseudonymised copy with two units from the page, then take one share back.
    assert page.locator("#share-list").inner_text() == "Partagée avec aucune autre unité."
    for unit in ("court-b", "consulat-x"):
        page.get_by_label("Unité destinataire").fill(unit)
        page.get_by_role("button", name="Partager", exact=True).click()
        page.wait_for_selector(f'#share-list li[data-unit="{unit}"]')
    page.get_by_role("button", name="Retirer le partage avec consulat-x").click()
    page.wait_for_selector('#share-list li[data-unit="consulat-x"]', state="detached")
    assert page.eval_on_selector_all("#share-list li", "ls => ls.map(l => l.dataset.unit)") == ["court-b"]
    assert "Partage avec consulat-x retiré." in page.locator("#notice").inner_text()
    page.locator("#sharing").scroll_into_view_if_needed()
    watched.shot("09-sharing")
    watched.check()


def test_a_shared_unit_finds_the_job_and_reads_only_its_pseudonymised_copy(
    shared_job: dict[str, Any], server: Server, new_page: Any
) -> None:
    _share_with_court(server, shared_job["id"])
    watched: Watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["greffier-b"])
    # Not among the unit's own transcripts: in its own table, without the file name (it names a party).
    page.wait_for_selector("#shared:not([hidden])")
    assert page.locator(f'#job-table tr[data-job="{shared_job["id"]}"]').count() == 0
    row = page.locator(f'#shared-table tr[data-job="{shared_job["id"]}"]')
    assert "Julie" not in row.inner_text() and "brigade-a" in row.inner_text()
    watched.shot("10-shared-with-my-unit")
    row.get_by_role("link").click()
    page.wait_for_selector("body[data-ready=true]")
    text = page.locator("#transcript").inner_text()
    assert NAME not in text and "consulat" in text.lower()  # the name replaced, the rest kept
    assert page.eval_on_selector("#view", "e => e.value") == "pseudonymized"
    assert page.eval_on_selector("#view option[value=original]", "e => e.disabled")
    assert "limité à la version pseudonymisée" in page.locator("#notice").inner_text()
    # Read-only, no history of the original words, and the recording heard is the released one.
    page.locator(".w").first.dblclick()
    assert page.locator(".word-input").count() == 0, "the pseudonymised view cannot be corrected"
    assert page.locator("#transcript.read-only").count() == 1 and page.locator("#mode-note").is_visible()
    assert page.locator("#history-title").is_hidden()
    assert page.eval_on_selector("#audio", "e => e.dataset.released") == "true"
    assert "/audio/pseudonymized?ticket=" in page.eval_on_selector("#audio", "e => e.src")
    page.locator(".w").nth(2).click()
    page.wait_for_function("() => document.getElementById('audio').currentTime > 0.3", timeout=15_000)
    # Its export is the pseudonymised copy.
    page.get_by_label("Format").select_option("txt")
    with page.expect_download() as info:
        page.get_by_role("button", name="Télécharger").click()
    exported = Path(info.value.path()).read_text(encoding="utf-8")
    assert NAME not in exported and "consulat" in exported.lower()
    # named without the recording's name (it names a party): no case number given, so "transcription"
    assert re.fullmatch(r"transcription_\d{4}-\d\d-\d\d_pseudonymise\.txt", info.value.suggested_filename)
    assert page.locator("#sharing").is_hidden()  # sharing further is the owning unit's decision
    watched.shot("11-shared-pseudonymised-view")
    watched.check()


def test_french_words_stay_whole_on_the_page_and_in_every_export(server: Server, new_page: Any) -> None:
    """Words corrected into "d" + "'accord" and "États" + "-Unis" (tokens as Whisper gives them: the second
    continues the first) show whole on the page and in SRT, VTT, DOCX and TXT. Corrected through the API, so
    that the check does not depend on words the model may hesitate on."""

    import docx
    import httpx

    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        job_id, doc = _transcribed(client, "audition.wav", {"language": "fr", "diarize": "false"})
        segment = next(s for s in doc["segments"] if len(s["words"]) >= 4)
        words = [w["text"].strip() for w in segment["words"]]
        edits = [
            {"segment_id": segment["id"], "word_index": i, "before": words[i], "after": after}
            for i, after in enumerate(["d", "'accord", "États", "-Unis"])
        ]
        assert client.post(f"/v1/jobs/{job_id}/edits", json={"edits": edits}).status_code == 200
        exports = {
            fmt: client.get(f"/v1/jobs/{job_id}/transcript?format={fmt}").content
            for fmt in ("srt", "vtt", "txt", "docx")
        }
    for fmt in ("srt", "vtt", "txt"):
        text = exports[fmt].decode("utf-8")
        assert "d'accord" in text and "États-Unis" in text, (fmt, text)  # (a cue may wrap between them)
        assert not re.search(r"\bd\s+'accord|États\s+-Unis", text), (fmt, text)
    body = "\n".join(p.text for p in docx.Document(io.BytesIO(exports["docx"])).paragraphs)
    assert "d'accord États-Unis" in body

    watched: Watched = new_page()
    page = watched.page
    sign_in(watched, server.tokens["enqueteur-a"])
    page.goto(f"/web/jobs/{job_id}")
    page.wait_for_selector("body[data-ready=true]")
    shown = page.locator(f'.seg[data-s="{segment["id"]}"] .orig').inner_text()
    assert shown.startswith("d'accord États-Unis"), shown


# --- layout, empty states, messages ---------------------------------------------------------------------


def _no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"the page is {width} px wide in a {viewport} px window"


@pytest.mark.parametrize("width", [1366, 390])
def test_hidden_buttons_stay_hidden_and_nothing_overflows(
    server: Server, browser: Any, width: int, shared_job: dict[str, Any]
) -> None:
    from tests.web.conftest import watch

    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": width, "height": 800},
        locale="fr-FR",
        accept_downloads=True,
    )
    context.set_default_timeout(20_000)
    watched = watch(context.new_page())
    page = watched.page
    page.goto("/web/")
    page.wait_for_selector("#signin:not([hidden])")
    # "Se déconnecter" is marked hidden before sign-in: a button's own display must not show it.
    assert page.locator("#sign-out").is_hidden()
    _no_horizontal_scroll(page)
    watched.shot(f"11-sign-in-{width}")
    sign_in(watched, server.tokens["enqueteur-a"])
    assert page.locator("#sign-out").is_visible()
    page.wait_for_selector("#job-table tbody tr")
    _no_horizontal_scroll(page)
    watched.shot(f"12-job-list-{width}")

    page.goto(f"/web/jobs/{shared_job['id']}")
    page.wait_for_selector("body[data-ready=true]")
    _no_horizontal_scroll(page)
    original = page.locator(".turn .seg.two .orig").first.bounding_box()
    translation = page.locator(".turn .seg.two .tr").first.bounding_box()
    assert original and translation
    if width < 700:  # stacked: the translation under the original, as wide
        assert translation["y"] >= original["y"] + original["height"] - 1
        assert abs(translation["x"] - original["x"]) < 2
    else:  # side by side
        assert translation["x"] > original["x"] + original["width"] - 1
    watched.shot(f"13-transcript-{width}")

    # The upload page; an unreadable file answers the catalogue's French message, not the API's English.
    page.goto("/web/upload")
    page.wait_for_selector("#send")
    _no_horizontal_scroll(page)
    assert page.locator("#open-job").is_hidden() and page.locator("#another").is_hidden()
    page.set_input_files(
        "#file", files=[{"name": "note.wav", "mimeType": "audio/wav", "buffer": b"pas un son"}]
    )
    page.get_by_role("button", name="Envoyer").click()
    page.wait_for_selector("#follow-error:not([hidden])")
    message = page.locator("#follow-error").inner_text()
    assert "n'est pas un enregistrement audio ou vidéo lisible" in message and "FFmpeg" not in message
    watched.shot(f"14-upload-error-{width}")
    watched.allowed.append("415")  # the browser logs the refused upload itself
    watched.check()
    context.close()


def test_an_empty_unit_is_told_what_to_do_next(server: Server, new_page: Any) -> None:
    import httpx

    # A unit of its own, with no transcript.
    with server.state.sessions() as session:
        from verbatim.ops.accounts import create_user

        token = create_user(session, name="greffier-vide", role="clerk", unit="tribunal-vide")[1]
    watched: Watched = new_page()
    page = watched.page
    sign_in(watched, token)
    page.wait_for_selector("#empty:not([hidden])")
    assert page.locator("#job-table-wrap").is_hidden()  # no table header over nothing
    assert "Commencez par déposer un enregistrement" in page.locator("#empty").inner_text()
    link = page.get_by_role("link", name="Transcrire un enregistrement")
    assert link.is_visible() and link.get_attribute("href") == "/web/upload"
    assert page.locator("#empty-reset").is_hidden()
    watched.shot("15-empty-unit")
    page.get_by_label("Rechercher dans les transcriptions").fill("rien")
    page.get_by_role("button", name="Filtrer").click()
    page.wait_for_selector("#empty-reset:not([hidden])")
    assert "effacez les filtres" in page.locator("#empty").inner_text()
    assert link.is_hidden()
    # The API says it in English with a code; the catalogue the pages use has the French of every code.
    r = httpx.get(f"{server.base_url}/v1/jobs/nope", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404 and r.json()["code"] == "job_not_found"
    watched.check()


def test_custody_entries_are_labelled_in_french(
    shared_job: dict[str, Any], server: Server, new_page: Any
) -> None:
    watched: Watched = new_page()
    page = open_job(watched, server.tokens["enqueteur-a"], shared_job["id"])
    page.locator("#custody-details summary").click()
    page.wait_for_selector("#custody-artifacts tbody tr")
    text = page.locator("#custody").inner_text()
    assert "Reconnaissance de la parole : whisper-base" in text
    assert "Traduction automatique : " in text
    assert "copie pseudonymisée" in text and "table de correspondance (chiffrée)" in text
    for internal in ("pseudonymization_map", "speaker_embedding", "translation:", "transcript_pseudonymized"):
        assert internal not in text
    page.locator("#custody-details").scroll_into_view_if_needed()
    watched.shot("16-custody-french")
    watched.check()
