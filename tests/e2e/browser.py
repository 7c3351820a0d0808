"""Headless Chromium for the admin page's tests: Debian's browser, driven by Playwright.

Playwright's own browser downloads are never used: the browser is Debian's
`chromium` package (`make test` installs it when it is missing). Screenshots of
the main states go to `tests/e2e/screenshots/` (ignored by git) for a person to
look at.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

CHROMIUM = os.environ.get("CLIENTKEYS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).with_name("screenshots")
DESKTOP = {"width": 1280, "height": 800}
LAPTOP = {"width": 1366, "height": 768}
NARROW = {"width": 390, "height": 844}
TIMEOUT_MS = 10_000


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=CHROMIUM_FLAGS)
        yield launched
        await launched.close()


async def open_page(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> Page:
    """A fresh tab (its own sessionStorage) that fails the test on any script error."""
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Chromium logs every 4xx answer as a console error; those are expected here.
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Failed to load resource" not in message.text
            else None)
    page.errors = errors  # type: ignore[attr-defined]
    await page.goto(url)
    return page


def script_errors(page: Page) -> list[str]:
    errors: list[str] = page.errors  # type: ignore[attr-defined]
    return errors


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
