"""A client opened in full: every field, its history, what changed since it was last
approved, the ASCII form of an internationalised redirect host, and a view of the table
that survives a reload.
"""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.e2e.admin_page import confirm, open_tab, page_range, row, row_action, signed_in, token_of
from tests.e2e.browser import NARROW, browser, open_page, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client

__all__ = ["browser"]  # the fixture

IDN_URI = "https://b\N{LATIN SMALL LETTER U WITH DIAERESIS}cher.example/cb"
PUNYCODE = "xn--bcher-kva.example"


async def test_the_detail_view_shows_the_history_after_an_edit_and_an_approval(
        service: Service, browser: Browser) -> None:
    created = await service.create(oidc_client("Shop portal", redirect_uris=[
        "https://shop.example.com/cb", IDN_URI]))
    key = created["key"]
    for action in ("approve", "disapprove"):
        assert (await service.request("POST", f"/v1/clients/{key}/{action}")).status == 200
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    shown = row(page, "Shop portal")
    await expect(shown).to_contain_text(PUNYCODE)  # the homograph is visible in the table

    # Edited in the page, then approved: the approval says what changed since the last one.
    await row_action(page, "Shop portal", "Edit")
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Client name").fill("Shop portal v2")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("status").filter(has_text="Shop portal v2 saved")
                 ).to_be_visible()
    # The focus is back on the menu the dialog was opened from.
    await expect(page.get_by_role("button", name="Actions for Shop portal v2")).to_be_focused()
    await row_action(page, "Shop portal v2", "Approve")
    approval = page.get_by_role("dialog", name="Approve this client key?")
    await expect(approval).to_contain_text("Changed since it was last approved")
    await expect(approval.locator("ul.changes")).to_contain_text("name: by alice")
    await expect(approval).to_contain_text(PUNYCODE)
    await screenshot(page, "approval-changes")
    await confirm(page, "Approve")
    await expect(row(page, "Shop portal v2")).to_contain_text("Approved")

    # Opened by its name: every field, and the history, newest first.
    opener = row(page, "Shop portal v2").get_by_role("button", name="Shop portal v2", exact=True)
    await opener.click()
    detail = page.get_by_role("dialog", name="Shop portal v2")
    await expect(detail.locator("code.key")).to_have_text(key)
    await detail.get_by_role("button", name="Copy the key of Shop portal v2").click()
    await expect(page.locator("#notice")).to_contain_text(
        re.compile("Key of Shop portal v2 copied|copy it by hand"))
    await expect(detail).to_contain_text("https://shop.example.com/cb")
    await expect(detail).to_contain_text(PUNYCODE)
    await expect(detail).to_contain_text("authorization_code, refresh_token")
    await expect(detail).to_contain_text("Approved since")
    await expect(detail.locator("dd").filter(has_text="Approved since")).to_contain_text(
        "by alice")
    await expect(detail).to_contain_text("never replaced")
    await expect(detail).to_contain_text("not seen in use")  # no check has verified it
    history = detail.locator("ol.history li")
    await expect(history).to_have_count(5)
    expected = ["Approved by alice", "Edited by alice", "Disapproved by alice",
                "Approved by alice", "Created by alice"]
    for index, text in enumerate(expected):
        await expect(history.nth(index)).to_contain_text(text)
    await expect(history.nth(1)).to_contain_text(": name")
    await screenshot(page, "detail")
    await detail.get_by_role("button", name="Close").click()
    await expect(detail).to_be_hidden()
    await expect(opener).to_be_focused()

    # Enter on the name opens it too.
    await page.keyboard.press("Enter")
    await expect(detail).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(opener).to_be_focused()
    assert script_errors(page) == []


async def test_a_detail_opened_again_at_once_after_closing_loads(
        service: Service, browser: Browser) -> None:
    """A dialog's `close` event comes as a task of its own, after whatever ran with the
    close: a view opened again in between (Enter on the name right after Escape, a fast
    double action) must not be cancelled by the earlier closing's handler."""
    await service.create(oidc_client("Quick portal", redirect_uris=[IDN_URI]))
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    opener = row(page, "Quick portal").get_by_role("button", name="Quick portal", exact=True)
    await opener.click()
    detail = page.get_by_role("dialog", name="Quick portal")
    await expect(detail.locator("ol.history li")).to_have_count(1)
    # Closed and opened again in one task: the close event fires after the second opening.
    await opener.evaluate("""(opener) => {
        document.getElementById("detail-close").click();
        opener.click();
    }""")
    await expect(detail.locator("ol.history li")).to_have_count(1)
    await expect(page.get_by_role("dialog", name="Loading…")).to_have_count(0)
    await page.keyboard.press("Escape")
    await expect(opener).to_be_focused()
    assert script_errors(page) == []


async def test_the_detail_view_fits_a_phone(service: Service, browser: Browser) -> None:
    await service.create(oidc_client("Phone portal", redirect_uris=[IDN_URI]))
    page = await signed_in(browser, service, viewport=NARROW)
    await open_tab(page, "OpenID Connect")
    await row(page, "Phone portal").get_by_role("button", name="Phone portal", exact=True).click()
    detail = page.get_by_role("dialog", name="Phone portal")
    await expect(detail.locator("ol.history li")).to_have_count(1)
    await expect(detail.get_by_role("button", name="Close")).to_be_in_viewport(ratio=1)
    assert not await detail.evaluate("d => d.scrollWidth > d.clientWidth")
    assert script_errors(page) == []


async def test_a_reload_keeps_the_page_filter_sort_search_and_page_size(
        service: Service, browser: Browser) -> None:
    for number in range(23):
        await service.create(oauth1_client(f"Consumer {number:02}"))
    other = await service.create(oauth1_client("Approved consumer"))
    await service.request("POST", f"/v1/clients/{other['key']}/approve")
    page = await signed_in(browser, service)
    body = page.locator("#table-body tr")
    await page.get_by_label("Search by name").fill("consumer")
    await page.get_by_label("Status").select_option("pending")
    await page.get_by_role("button", name="Name").click()
    await expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending")
    # The sorted page itself, not only the header: Next clicked while the sorted rows are
    # still on their way would be overtaken by them.
    await expect(body.first).to_contain_text("Consumer 00")
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 23))
    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#page-range")).to_have_text(page_range(21, 23, 23))
    await expect(body.first).to_contain_text("Consumer 20")

    await page.reload()
    await expect(page.locator("#page-range")).to_have_text(page_range(21, 23, 23))
    await expect(body.first).to_contain_text("Consumer 20")
    await expect(page.get_by_label("Search by name")).to_have_value("consumer")
    await expect(page.get_by_label("Status")).to_have_value("pending")
    await expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending")

    # A shared link opens the same view in a new tab; a page size too.
    await page.get_by_label("Rows per page").select_option("50")
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 23, 23))
    fresh = await open_page(browser, page.url)
    await fresh.get_by_label("API token").fill(token_of(service.admin))
    await fresh.get_by_role("button", name="Sign in").click()
    await expect(fresh.locator("#page-range")).to_have_text(page_range(1, 23, 23))
    await expect(fresh.get_by_label("Rows per page")).to_have_value("50")
    await expect(fresh.get_by_label("Status")).to_have_value("pending")

    # Status sorts too.
    await page.get_by_label("Status").select_option("")
    await page.get_by_role("button", name="Status").click()
    await expect(page.get_by_role("columnheader", name="Status")).to_have_attribute(
        "aria-sort", "ascending")
    await expect(body.first).to_contain_text("Approved consumer")
    assert script_errors(page) == []
