"""Fixtures of the console tests: the console in a real browser, headless Chromium
(Debian's package) driven by Playwright against a real `identity-gateway serve` on a
loopback port.

Without Chromium or Playwright the browser tests skip with one line, unless
REQUIRE_BROWSER=1 (CI), where they fail instead. `make test` installs both when it can.
With CONSOLE_SCREENSHOTS=DIR the tests save the screenshots docs/console.md shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_helpers import Served, first_start, open_page

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BROWSER_SKIP = "the console's browser tests need Chromium and Playwright: "


def browser_missing() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"{BROWSER_SKIP}{CHROMIUM} is missing (make test installs it with apt-get)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"{BROWSER_SKIP}Playwright is not installed ({exc})"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Not per session: Playwright's sync API keeps an event
    loop running in this thread while it is open, and the async tests of other modules
    need to run their own."""
    why = browser_missing()
    if why:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(why + " (REQUIRE_BROWSER=1)")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with first_start(tmp_path) as gateway:
        yield gateway


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = open_page(browser)
    try:
        yield opened
    finally:
        opened.context.close()
