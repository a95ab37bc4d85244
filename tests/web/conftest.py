"""End-to-end fixtures: a real ``verbatim serve``-style server (uvicorn on a free loopback port, embedded
mode: SQLite, local store, in-process worker running the real models) and Debian's Chromium driven by
Playwright (``executable_path``, never a downloaded browser).

Screenshots go to ``$VERBATIM_TEST_ARTIFACTS`` (default ``tests/.artifacts/``, git-ignored).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import make_settings
from tests.conftest import REPO
from verbatim.api.deps import ServiceState
from verbatim.api.serving import ApiThread
from verbatim.ops.accounts import create_user
from verbatim.server import create_app

CHROMIUM = Path(os.environ.get("VERBATIM_CHROMIUM", "/usr/bin/chromium"))


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("VERBATIM_TEST_ARTIFACTS") or REPO / "tests" / ".artifacts") / "web"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Server:
    base_url: str
    state: ServiceState
    tokens: dict[str, str]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("web-home")
    app = create_app(make_settings(home))
    api = ApiThread(app)
    state: ServiceState = app.state.verbatim
    tokens: dict[str, str] = {}
    with state.sessions() as session:
        for name, role, unit in (
            ("enqueteur-a", "investigator", "brigade-a"),
            ("greffier-b", "clerk", "court-b"),
            # a consulate: shares go only to units that exist (one user makes a unit)
            ("agent-x", "diplomat", "consulat-x"),
        ):
            tokens[name] = create_user(session, name=name, role=role, unit=unit)[1]
    try:
        yield Server(api.base_url, state, tokens)
    finally:
        api.stop(timeout=30)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's package (apt-get install -y chromium, done by "
            "scripts/setup.sh) or set VERBATIM_CHROMIUM"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            # Playing from a clicked word must not depend on the autoplay heuristics of a headless browser.
            args=["--autoplay-policy=no-user-gesture-required"],
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watched:
    """A page whose console errors and uncaught exceptions are collected (any one fails the test)."""

    page: Any
    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def check(self) -> None:
        unexpected = [e for e in self.errors if not any(a in e for a in self.allowed)]
        assert not unexpected, f"JavaScript errors in the page: {unexpected}"

    def shot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


def watch(page: Any) -> Watched:
    watched = Watched(page)
    page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watched.errors.append(f"pageerror: {e}"))
    return watched


@pytest.fixture
def new_page(browser: Any, server: Server) -> Iterator[Any]:
    """Open pages in fresh contexts (own sessionStorage) at a laptop's screen size."""
    contexts: list[Any] = []

    def make() -> Watched:
        context = browser.new_context(
            base_url=server.base_url,
            viewport={"width": 1366, "height": 768},
            accept_downloads=True,
            locale="fr-FR",
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return watch(context.new_page())

    yield make
    for context in contexts:
        context.close()
