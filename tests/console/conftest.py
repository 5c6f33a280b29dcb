"""Browser fixtures for the console: Debian's Chromium, driven headless by Playwright for Python.

- ``console_server`` (module): a real ``mockprovider serve`` (gunicorn, 2 workers) on 127.0.0.1 with
  a control token, reset before each test;
- ``browser_context`` (module): Chromium from ``/usr/bin/chromium`` (never a downloaded browser;
  ``make test`` apt-installs it when missing) with a fresh ``--user-data-dir``, signed in to the
  console with the token as the Basic password, at 1280x800;
- ``page``: a new tab on ``/_console``.

Screenshots (``shoot(page, name)``) are written to ``docs/images/console/`` (where the docs site's
console page shows them; the only copy) only when ``MOCKPROVIDER_SCREENSHOTS=1`` (``make
console-screenshots``), so a normal run leaves the tree clean.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.live.conftest import LiveServer

CHROMIUM = os.environ.get("MOCKPROVIDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "console-test-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images" / "console"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def console_server():
    server = LiveServer(workers=2, env={"MOCKPROVIDER_CONTROL_TOKEN": TOKEN})
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _reset_console_server(request):
    if "console_server" in request.fixturenames:
        request.getfixturevalue("console_server").control.reset()
    yield


@pytest.fixture(scope="module")
def browser_context(console_server):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="mockprovider-chromium-")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, viewport=DESKTOP,
            http_credentials={"username": "console", "password": TOKEN}, accept_downloads=True,
            base_url=console_server.url)
        context.set_default_timeout(15_000)
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context):
    tab = browser_context.new_page()
    tab.set_viewport_size(DESKTOP)
    problems = []
    tab.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.problems = problems
    yield tab
    tab.close()
    if getattr(tab, "allow_failed_loads", False):      # a test that provokes a 4xx on purpose
        problems[:] = [p for p in problems if "Failed to load resource" not in p]
    assert not problems, problems       # no script error, no failed load, no CSP violation


def shoot(page, name: str, top: bool = True) -> None:
    """Save a screenshot for the docs when MOCKPROVIDER_SCREENSHOTS=1 (otherwise nothing);
    scrolled to the top of the page unless ``top`` is false."""
    if os.environ.get("MOCKPROVIDER_SCREENSHOTS") != "1":
        return
    if top:
        page.evaluate("() => window.scrollTo(0, 0)")
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)
