"""The admin page for every way in: tokens of each kind, the keyboard alone, a narrow
screen, many clients, and `make run`'s printed URL and token.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from pathlib import Path

from playwright.async_api import Browser, expect

from api.auth.principals import CONFIGURE_SERVER
from clientkeys.devdb import free_port
from tests.e2e.admin_page import (
    confirm,
    create_through_dialog,
    open_tab,
    page_range,
    row,
    row_action,
    signed_in,
    token_of,
)
from tests.e2e.browser import NARROW, browser, open_page, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.harness import add_token, bearer
from tests.processes import CLI, REPO, clean_env, stop, wait_for_line

__all__ = ["browser"]  # the fixture


async def test_search_filter_sort_and_pages(service: Service, browser: Browser) -> None:
    for number in range(23):
        await service.create(oauth1_client(f"Consumer {number:02}"))
    extra = await service.create(oauth1_client("Special consumer"))
    await service.request("POST", f"/v1/clients/{extra['key']}/approve")
    page = await signed_in(browser, service)
    body = page.locator("#table-body tr")
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 24))
    await expect(body.first).to_contain_text("Special consumer")  # newest first

    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#page-range")).to_have_text(page_range(21, 24, 24))
    await expect(body).to_have_count(4)
    await page.get_by_role("button", name="Previous").click()
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 24))

    await page.get_by_role("button", name="Name").click()
    await expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending")
    await expect(body.first).to_contain_text("Consumer 00")

    await page.get_by_label("Status").select_option("approved")
    await expect(body).to_have_count(1)
    await expect(body.first).to_contain_text("Special consumer")
    await page.get_by_label("Status").select_option("")

    await page.get_by_label("Search by name").fill("consumer 1")
    await expect(body).to_have_count(10)
    await page.get_by_label("Search by name").fill("nothing like it")
    await expect(page.get_by_text("No client matches the search.")).to_be_visible()
    assert script_errors(page) == []


async def test_a_read_only_token_sees_but_cannot_change(service: Service,
                                                        browser: Browser) -> None:
    await service.create(oidc_client("Visible portal"))
    page = await signed_in(browser, service, service.reader)
    await expect(page.get_by_text("Signed in as dashboard")).to_be_visible()
    await expect(page.get_by_text(re.compile("^Read-only"))).to_be_visible()
    await open_tab(page, "OpenID Connect")
    await expect(row(page, "Visible portal")).to_be_visible()
    await expect(page.get_by_role("button", name="Create client")).to_be_hidden()
    await expect(page.get_by_role("button", name=re.compile("^Actions for"))).to_have_count(0)
    await screenshot(page, "read-only")
    assert script_errors(page) == []


async def test_a_refused_token_is_told_and_nothing_is_shown(service: Service,
                                                            browser: Browser) -> None:
    page = await open_page(browser, str(service.http.make_url("/")))
    await screenshot(page, "sign-in")
    await page.get_by_label("API token").fill("not-a-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert").filter(has_text="not accepted")).to_be_visible()
    await expect(page.get_by_role("heading", name="OAuth clients")).to_be_hidden()

    # Signed in, then out: the token is gone from the tab's storage.
    await page.get_by_label("API token").fill(token_of(service.admin))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_text("Signed in as alice")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 1
    await page.reload()
    await expect(page.get_by_text("Signed in as alice")).to_be_visible()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API token")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0


async def test_the_keyboard_alone_approves_a_client(service: Service, browser: Browser) -> None:
    await service.create(oauth1_client("Keyboard consumer"))
    page = await signed_in(browser, service)
    menu_button = page.get_by_role("button", name="Actions for Keyboard consumer")
    await menu_button.focus()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("menuitem", name="Edit")).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(page.get_by_role("menuitem", name="Approve", exact=True)).to_be_focused()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Approve this client key?")
    await expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await expect(dialog).to_be_hidden()
    await expect(row(page, "Keyboard consumer")).to_contain_text("Approved")
    await expect(menu_button).to_be_focused()

    # Escape closes a menu and gives the focus back to its button.
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("menuitem", name="Edit")).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("menu")).to_be_hidden()
    await expect(menu_button).to_be_focused()

    # The tabs move with the arrow keys.
    await page.get_by_role("tab", name="OAuth 1.0a").focus()
    await page.keyboard.press("ArrowRight")
    await expect(page.get_by_role("tab", name="OAuth 2.0")).to_be_focused()
    await expect(page.get_by_role("tab", name="OAuth 2.0")).to_have_attribute(
        "aria-selected", "true")
    assert script_errors(page) == []


async def test_a_narrow_screen_shows_every_field_of_a_row(service: Service,
                                                          browser: Browser) -> None:
    await service.create(oidc_client("Narrow portal"))
    page = await signed_in(browser, service, viewport=NARROW)
    await open_tab(page, "OpenID Connect")
    shown = row(page, "Narrow portal")
    await expect(shown).to_contain_text("https://portal.example.com/cb")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"the page scrolls sideways ({width}px)"
    await screenshot(page, "narrow")
    await page.get_by_role("button", name="Create client").click()
    await expect(page.get_by_role("dialog").get_by_label("Client name")).to_be_in_viewport()
    await screenshot(page, "narrow-dialog")
    assert script_errors(page) == []


async def test_make_run_then_the_printed_url_and_token_are_all_a_newcomer_needs(
        browser: Browser, tmp_path: Path) -> None:
    port = free_port()
    env = clean_env(CLIENTKEYS_HTTP_PORT=str(port), CLIENTKEYS_DEV_DIR=str(tmp_path / "dev"),
                    PYTHONPATH=str(REPO))
    process = await asyncio.to_thread(
        subprocess.Popen, [*CLI, "dev"], env=env, cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = (await asyncio.to_thread(wait_for_line, process, "admin page: open ")).split()[3]
        token = (await asyncio.to_thread(wait_for_line, process, "admin token")).split()[-1]
        page = await open_page(browser, url)
        await page.get_by_label("API token").fill(token)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.locator("#live-status")).to_have_text("Live")
        await create_through_dialog(page, "oidc", "First portal")
        await row_action(page, "First portal", "Approve")
        await confirm(page, "Approve")
        await expect(row(page, "First portal")).to_contain_text("Approved")
        assert script_errors(page) == []
    finally:
        code = await asyncio.to_thread(stop, process)
    assert code == 0


async def test_the_live_indicator_goes_off_when_the_token_stops_working(
        service: Service, browser: Browser) -> None:
    token = add_token(service.settings, "carol", CONFIGURE_SERVER)
    page = await signed_in(browser, service, bearer(token))
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    # The token is taken out of the tokens file while the stream stays open.
    assert service.settings.tokens_file is not None
    entries = json.loads(service.settings.tokens_file.read_text())
    kept = [entry for entry in entries if entry["subject"] != "carol"]
    service.settings.tokens_file.write_text(json.dumps(kept))
    await expect(page.locator("#live-status")).to_have_attribute("data-state", "off",
                                                                 timeout=30_000)
    await expect(page.get_by_role("alert").filter(has_text="no longer accepted")
                 ).to_be_visible()
    await expect(page.get_by_role("heading", name="OAuth clients")).to_be_hidden()
    assert script_errors(page) == []
