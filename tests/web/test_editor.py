"""The transcript editor in a real headless Chromium against a real server, keyboard first, at a laptop's
width (1366 px) and a phone's (390 px, no horizontal scroll): a span of words replaced, inserted and deleted,
typed text kept when the field loses focus and cancelled by Escape, a selection of words given to the other
speaker, a turn split and merged, times nudged by keyboard, undo and redo, a revert from the history, a
segment translated again, the playback speed. Each change is checked on the page and through the API (the
correction rows and the revision every export renders). Screenshots go to tests/.artifacts/web/."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import DATA
from tests.web.conftest import Server, Watched, watch
from tests.web.test_pages import _no_horizontal_scroll, _transcribed, sign_in

pytestmark = [pytest.mark.models]

CLIP = DATA / "stereo_diarization.wav"
WIDTHS = [1366, 390]


def _client(server: Server) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=120)


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def job(request: pytest.FixtureRequest, server: Server) -> dict[str, Any]:
    """A two-speaker clip (one speaker per channel) transcribed once per width: each width's tests edit
    their own job."""
    with _client(server) as client, CLIP.open("rb") as fh:
        r = client.post(
            "/v1/jobs",
            files={"file": (f"audition-{request.param}.wav", fh, "audio/wav")},
            data={"language": "en", "channels": "split"},
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        deadline = time.monotonic() + 300
        while (body := client.get(f"/v1/jobs/{job_id}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, body
            time.sleep(0.5)
        assert body["status"] == "succeeded", body
    return {"id": job_id, "width": request.param}


@pytest.fixture
def editor(browser: Any, server: Server, job: dict[str, Any]) -> Iterator[Watched]:
    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": job["width"], "height": 800},
        locale="fr-FR",
        accept_downloads=True,
    )
    context.set_default_timeout(60_000)  # deadlines: a correction waits for the replay on a loaded machine
    watched = watch(context.new_page())
    sign_in(watched, server.tokens["enqueteur-a"])
    watched.page.goto(f"/web/jobs/{job['id']}")
    watched.page.wait_for_selector("body[data-ready=true]")
    yield watched
    context.close()


def _doc(server: Server, job_id: str) -> dict[str, Any]:
    with _client(server) as client:
        body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}/transcript").json()
    return body


def _history(server: Server, job_id: str) -> list[dict[str, Any]]:
    with _client(server) as client:
        rows: list[dict[str, Any]] = client.get(f"/v1/jobs/{job_id}/edits").json()["edits"]
    return rows


def _words(segment: dict[str, Any]) -> list[str]:
    return [w["text"].strip() for w in segment["words"]]


def _wait(page: Any, expression: str, arg: Any = None) -> None:
    page.wait_for_function(expression, arg=arg)


def _word_is(page: Any, segment_id: int, index: int, text: str) -> None:
    """Wait until the page shows ``text`` as word ``index`` of segment ``segment_id``."""
    page.wait_for_function(
        "([s, i, w]) => document.querySelector(`#transcript .w[data-s='${s}'][data-i='${i}']`)"
        "?.textContent === w",
        arg=[segment_id, index, text],
    )


def _word(page: Any, segment_id: int, index: int) -> Any:
    return page.locator(f'#transcript .w[data-s="{segment_id}"][data-i="{index}"]')


def _done(watched: Watched, name: str, width: int) -> None:
    _no_horizontal_scroll(watched.page)
    watched.shot(f"20-editor-{name}-{width}")
    watched.check()


def test_a_span_is_replaced_inserted_deleted_and_escape_cancels(
    editor: Watched, server: Server, job: dict[str, Any]
) -> None:
    page = editor.page
    segment = _doc(server, job["id"])["segments"][0]
    words = _words(segment)
    sid = segment["id"]
    # select two words by keyboard, correct them into three; the field loses focus: saved, not lost
    _word(page, sid, 0).focus()
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_selector("#edit-status >> text=2 mots sélectionnés")
    assert page.locator("#transcript .w.sel").count() == 2
    page.keyboard.press("e")
    field = page.locator(".span-input")
    assert field.input_value() == " ".join(words[:2])
    field.fill("alpha beta gamma")
    page.locator("#text-title").click()  # blur
    _word_is(page, sid, 2, "gamma")
    assert _words(_doc(server, job["id"])["segments"][0])[:3] == ["alpha", "beta", "gamma"]
    page.wait_for_selector("#history-table li[data-kind=span] >> text=alpha beta gamma")
    # Escape cancels a typed span and says so; nothing recorded
    rows = len(_history(server, job["id"]))
    _word(page, sid, 0).focus()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("e")
    page.locator(".span-input").fill("never saved")
    page.keyboard.press("Escape")
    page.wait_for_selector("#notice >> text=Correction annulée")
    assert page.locator(".span-input").count() == 0 and len(_history(server, job["id"])) == rows
    assert _word(page, sid, 0).inner_text() == "alpha"
    # the words the field stood in for are shown again, and the keyboard is back on the last of them
    from playwright.sync_api import expect

    expect(_word(page, sid, 0)).to_be_visible()
    expect(_word(page, sid, 1)).to_be_visible()
    expect(_word(page, sid, 1)).to_be_focused()
    # insert after a word (I), then delete it (Suppr)
    _word(page, sid, 1).focus()
    page.keyboard.press("i")
    page.locator(".span-input").fill("inserted")
    page.keyboard.press("Enter")
    _word_is(page, sid, 2, "inserted")
    assert _words(_doc(server, job["id"])["segments"][0])[:4] == ["alpha", "beta", "inserted", "gamma"]
    _word(page, sid, 2).focus()
    page.keyboard.press("Delete")
    page.wait_for_selector("#notice >> text=1 mot supprimé")
    _word_is(page, sid, 2, "gamma")
    assert "inserted" not in _words(_doc(server, job["id"])["segments"][0])
    assert page.locator("#history-count").inner_text().endswith("corrections")
    _done(editor, "span", job["width"])


def test_a_selection_of_words_is_given_to_the_other_speaker(
    editor: Watched, server: Server, job: dict[str, Any]
) -> None:
    page = editor.page
    doc = _doc(server, job["id"])
    segment = doc["segments"][0]
    mine = segment["speaker"]
    other = next(s["speaker"] for s in doc["segments"] if s.get("speaker") and s["speaker"] != mine)
    count = len(doc["segments"])
    _word(page, segment["id"], 1).focus()
    page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("a")
    assert page.evaluate("document.activeElement.id") == "give-selection"
    page.locator("#give-selection").select_option(other)
    page.wait_for_selector("#notice >> text=Mots attribués à")
    now = _doc(server, job["id"])
    assert len(now["segments"]) == count + 2
    assert [s["speaker"] for s in now["segments"][:3]] == [mine, other, mine]
    assert _words(now["segments"][1]) == _words(segment)[1:3]
    # the page draws three turns where there was one
    _wait(page, "n => document.querySelectorAll('#transcript .seg[data-s]').length === n", count + 2)
    assert [r["kind"] for r in _history(server, job["id"])[-3:]] == ["split", "split", "segment_speaker"]
    _done(editor, "reassign-selection", job["width"])


def test_a_turn_is_split_and_merged_and_a_split_reverted_from_the_history(
    editor: Watched, server: Server, job: dict[str, Any]
) -> None:
    page = editor.page
    doc = _doc(server, job["id"])
    segment = max(doc["segments"], key=lambda s: len(s["words"]))
    count = len(doc["segments"])
    _word(page, segment["id"], 2).focus()
    page.keyboard.press("s")
    page.wait_for_selector("#notice >> text=Tour scindé")
    _wait(page, "n => document.querySelectorAll('#transcript .seg[data-s]').length === n", count + 1)
    editor.shot(f"21-editor-split-{job['width']}")
    # merge back: M on a word of the first part
    _word(page, segment["id"], 0).focus()
    page.keyboard.press("m")
    page.wait_for_selector("#notice >> text=Tour fusionné")
    _wait(page, "n => document.querySelectorAll('#transcript .seg[data-s]').length === n", count)
    merged = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == segment["id"])
    assert _words(merged) == _words(segment)
    # split again, then revert that split from the history: one more row, the split row marked reverted
    _word(page, segment["id"], 2).focus()
    page.keyboard.press("s")
    _wait(page, "n => document.querySelectorAll('#transcript .seg[data-s]').length === n", count + 1)
    # the history drawn again with the new split (drawn after the transcript): then its row is the first
    _wait(
        page,
        "n => document.querySelectorAll('#history-table li').length === n",
        len(_history(server, job["id"])),
    )
    page.locator("#history-table li[data-kind=split]").first.get_by_role("button").click()
    page.wait_for_selector("#notice >> text=Correction annulée")
    _wait(page, "n => document.querySelectorAll('#transcript .seg[data-s]').length === n", count)
    page.wait_for_selector("#history-table li[data-kind=split].reverted >> text=annulée")
    assert _history(server, job["id"])[-1]["kind"] == "revert"
    _done(editor, "split-merge-revert", job["width"])


def test_times_are_nudged_by_keyboard(editor: Watched, server: Server, job: dict[str, Any]) -> None:
    page = editor.page
    segment = max(_doc(server, job["id"])["segments"], key=lambda s: len(s["words"]))
    word = segment["words"][2]
    _word(page, segment["id"], 2).focus()
    page.keyboard.press("Alt+ArrowRight")  # the word's start, 0.1 s later
    page.wait_for_selector("#edit-status >> text=Mot :")
    now = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == segment["id"])
    expected = min(round(word["start"] + 0.1, 3), word["end"])
    assert now["words"][2]["start"] == pytest.approx(expected, abs=2e-3)
    assert page.evaluate("document.activeElement.dataset.i") == "2"  # the focus stays on the word
    # dragging: the focused word's end slider, dragged to the middle of the word
    other = segment["words"][1]
    _word(page, segment["id"], 1).focus()
    handle = page.locator("#word-end")
    low, high = float(handle.get_attribute("min") or 0), float(handle.get_attribute("max") or 0)
    box = handle.bounding_box()
    assert box and high > low
    target = round((other["start"] + other["end"]) / 2, 2)

    def x_of(value: float) -> float:
        return box["x"] + 8 + (value - low) / (high - low) * (box["width"] - 16)  # the thumb's travel

    rows = len(_history(server, job["id"]))
    page.mouse.move(x_of(other["end"]), box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(x_of(target), box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    # recorded and drawn again (the history has one more row)
    _wait(page, "n => document.querySelectorAll('#history-table li').length > n", rows)
    dragged = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == segment["id"])["words"][1]
    assert dragged["start"] == other["start"] and dragged["end"] < other["end"]
    assert dragged["end"] == pytest.approx(target, abs=(high - low) / box["width"] * 4 + 0.02)
    _word(page, segment["id"], 2).focus()
    # the start cannot pass the word's end: pressed again until refused, with the reason, nothing recorded
    for _ in range(60):
        shown = page.locator("#history-table li").count()
        page.keyboard.press("Alt+ArrowRight")
        # recorded and drawn again, the focus back on the word (where the next key goes), or refused
        _wait(
            page,
            "n => document.querySelector('#notice').classList.contains('error')"
            " || (document.querySelectorAll('#history-table li').length > n"
            " && document.activeElement && document.activeElement.dataset.i === '2')",
            shown,
        )
        if "error" in (page.locator("#notice").get_attribute("class") or ""):
            break
    assert "Valeur refusée pour « nouvelle valeur »" in page.locator("#notice").inner_text()
    after = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == segment["id"])["words"][2]
    assert after["start"] <= after["end"]
    # the turn's end, 0.1 s later, from its time button (Alt+Maj+→)
    turn = page.locator(f'#transcript .seg[data-s="{segment["id"]}"]').locator("xpath=ancestor::section[1]")
    last_id = int(turn.locator(".seg[data-s]").last.get_attribute("data-s") or "0")
    last = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == last_id)
    turn.locator(".time").focus()
    page.keyboard.press("Alt+Shift+ArrowRight")
    page.wait_for_selector("#edit-status >> text=Tour :")
    moved = next(s for s in _doc(server, job["id"])["segments"] if s["id"] == last_id)
    assert moved["end"] == pytest.approx(last["end"] + 0.1, abs=2e-3)
    editor.allowed.append("422")  # the browser logs the refused nudge itself
    _done(editor, "times", job["width"])


def test_undo_and_redo_with_the_keyboard(editor: Watched, server: Server, job: dict[str, Any]) -> None:
    page = editor.page
    segment = _doc(server, job["id"])["segments"][-1]
    before = _words(segment)[0]
    node = _word(page, segment["id"], 0)
    node.focus()
    page.keyboard.press("F2")
    page.locator(".word-input").fill("Ouagadougou")
    page.keyboard.press("Enter")
    page.wait_for_selector("#notice >> text=enregistrée")
    assert _words(_doc(server, job["id"])["segments"][-1])[0] == "Ouagadougou"
    page.keyboard.press("Control+z")
    page.wait_for_selector("#notice >> text=Modification annulée")
    assert _words(_doc(server, job["id"])["segments"][-1])[0] == before
    _word_is(page, segment["id"], 0, before)
    rows = _history(server, job["id"])
    assert rows[-1]["kind"] == "revert" and rows[-2]["reverted"]
    editor.shot(f"22-editor-undone-{job['width']}")
    page.locator("#transcript").focus()
    page.keyboard.press("Control+Shift+Z")
    page.wait_for_selector("#notice >> text=Modification rétablie")
    assert _words(_doc(server, job["id"])["segments"][-1])[0] == "Ouagadougou"
    _word_is(page, segment["id"], 0, "Ouagadougou")
    _done(editor, "undo-redo", job["width"])


def test_playback_speed_by_keyboard_and_in_the_shortcut_help(editor: Watched, job: dict[str, Any]) -> None:
    page = editor.page
    assert "Ctrl+↑/↓ vitesse de lecture" in page.locator("#shortcuts").inner_text()
    page.locator("#transcript").focus()
    page.keyboard.press("Control+ArrowUp")
    page.wait_for_selector("#speed >> text=1,25×")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 1.25
    page.keyboard.press("Control+ArrowDown")
    page.keyboard.press("Control+ArrowDown")
    page.wait_for_selector("#speed >> text=0,75×")
    assert page.evaluate("document.getElementById('audio').playbackRate") == 0.75
    # the pages pick plural forms by the browser's CLDR rules: the same as babel's on the server
    from verbatim.api.messages import plural_category

    for lang in ("fr", "en"):
        browser_rules = page.evaluate(f"[0, 1, 2, 5, 21].map(n => new Intl.PluralRules('{lang}').select(n))")
        assert browser_rules == [plural_category(n, lang) for n in (0, 1, 2, 5, 21)]
    _done(editor, "speed", job["width"])


@pytest.fixture(scope="module")
def translated(server: Server) -> dict[str, Any]:
    """A French clip translated into English (Whisper's speech translation), "il" then corrected into
    "Julie" through the API: its translation is outdated."""
    with _client(server) as client:
        job_id, doc = _transcribed(
            client, "audition traduite.wav", {"language": "fr", "diarize": "false", "translate_to": "en"}
        )
        words = _words(doc["segments"][0])
        index = words.index("il")
        edit = {"segment_id": 0, "word_index": index, "before": "il", "after": "Julie"}
        assert client.post(f"/v1/jobs/{job_id}/edits", json={"edits": [edit]}).status_code == 200
    return {"id": job_id}


@pytest.mark.parametrize("width", WIDTHS)
def test_a_corrected_segment_is_translated_again(
    browser: Any, server: Server, translated: dict[str, Any], width: int
) -> None:
    context = browser.new_context(
        base_url=server.base_url, viewport={"width": width, "height": 800}, locale="fr-FR"
    )
    context.set_default_timeout(60_000)
    watched = watch(context.new_page())
    sign_in(watched, server.tokens["enqueteur-a"])
    page = watched.page
    page.goto(f"/web/jobs/{translated['id']}")
    page.wait_for_selector("body[data-ready=true]")
    first = page.locator(".turn .seg.two .tr").first
    if "outdated" in (first.get_attribute("class") or ""):
        assert "antérieure à une correction" in first.inner_text()
    first.get_by_role("button", name="Retraduire").click()
    # a deadline, not a pause: Whisper loaded by the in-process worker and run on the segment, on a loaded
    # machine
    page.wait_for_selector("#notice >> text=Segment retraduit", timeout=240_000)
    page.wait_for_function(
        "() => !document.querySelector('.turn .seg.two .tr').classList.contains('outdated')"
    )
    rows = _history(server, translated["id"])
    assert rows[-1]["kind"] == "translation" and rows[-1]["after"].strip()
    assert rows[-1]["after"] in page.locator(".turn .seg.two .tr").first.inner_text()
    page.wait_for_selector("#history-table li[data-kind=translation]")
    _no_horizontal_scroll(page)
    watched.shot(f"23-editor-retranslated-{width}")
    watched.check()
    context.close()
