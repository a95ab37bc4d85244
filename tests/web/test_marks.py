"""Marking and unmarking a span by hand on the transcript page, in a real Chromium: the pseudonymised copy
follows (a missed word hidden, a word that is no one's name left in clear), the history shows who did it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.web.conftest import Server, Watched
from tests.web.test_pages import _transcribed, open_job

pytestmark = [pytest.mark.models]


def _select_word(page: Any, text: str) -> None:
    """Select a word of the transcript as a mouse drag over it would."""
    page.evaluate(
        """(text) => {
          const word = [...document.querySelectorAll('#transcript .w')].find(
            (w) => w.textContent.trim().replace(/[ ,.;:!?]+$/, '').toLowerCase() === text);
          const range = document.createRange();
          range.selectNodeContents(word);
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
        }""",
        text,
    )


def _pseudonymized_text(client: Any, job_id: str) -> str:
    """The pseudonymised copy once the workers made it again after the marks."""
    deadline = time.monotonic() + 300
    url = f"/v1/jobs/{job_id}/transcript?view=pseudonymized&format=txt"
    # made on demand when stale: slow on a loaded machine
    while (r := client.get(url, timeout=600)).status_code == 409:
        assert time.monotonic() < deadline, r.text
        time.sleep(0.3)
    assert r.status_code == 200, r.text
    return str(r.text)


def test_mark_and_unmark_a_span_on_the_page(server: Server, new_page: Any) -> None:
    import httpx

    headers = {"Authorization": f"Bearer {server.tokens['enqueteur-a']}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as client:
        job_id, doc = _transcribed(
            client, "audition.wav", {"language": "fr", "diarize": "false", "pseudonymize": "true"}
        )
        # "il" corrected into a first name: detected, hence replaced, in the pseudonymised copy.
        words = [w["text"].strip() for w in doc["segments"][0]["words"]]
        index = words.index("il")
        edit = {"segment_id": 0, "word_index": index, "before": words[index], "after": "Julie"}
        assert client.post(f"/v1/jobs/{job_id}/edits", json={"edits": [edit]}).status_code == 200
        before = _pseudonymized_text(client, job_id)
        assert "Julie" not in before and "consulat" in before.lower()

        watched: Watched = new_page()
        page = open_job(watched, server.tokens["enqueteur-a"], job_id)
        assert page.locator("#marks").is_visible()
        assert page.locator("#mark-selection").is_disabled()

        _select_word(page, "consulat")
        page.wait_for_function("() => !document.getElementById('mark-selection').disabled")
        assert "consulat" in page.locator("#marks-selection").inner_text()
        page.get_by_role("button", name="Masquer dans les copies pseudonymisées").click()
        page.wait_for_selector('#history-table li[data-kind="mark"]')
        assert "masqué à la main" in page.locator('#history-table li[data-kind="mark"]').inner_text()
        assert "enqueteur-a" in page.locator('#history-table li[data-kind="mark"]').inner_text()

        _select_word(page, "julie")
        page.wait_for_function("() => !document.getElementById('unmark-selection').disabled")
        page.get_by_role("button", name="Laisser en clair").click()
        page.wait_for_selector('#history-table li[data-kind="unmark"]')
        assert page.locator('#history-table li[data-kind="mark"] button.revert').count() == 0
        watched.shot("12-marks")

        after = _pseudonymized_text(client, job_id)
        assert "consulat" not in after.lower()  # marked by hand: hidden
        assert "Julie" in after  # unmarked by hand: left in clear

        # In the pseudonymised view the card is not offered (nothing to mark there).
        page.locator("#view").select_option("pseudonymized")
        page.wait_for_function("() => document.getElementById('marks').hidden")
        watched.check()
