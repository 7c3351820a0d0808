"""Every row's menu can be used with a pointer: the last row of a full page and the only row
of a table, on a laptop and on a phone, with nothing (the pager, the Create button, the
table's own edges) in the way.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.admin_page import (
    BLACK,
    GREY,
    client_named,
    confirm,
    expect_colour,
    open_row_menu,
    open_tab,
    overlaps,
    page_range,
    row,
    signed_in,
)
from tests.e2e.browser import LAPTOP, NARROW, browser, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client

__all__ = ["browser"]  # the fixture

VIEWPORTS = {"laptop": LAPTOP, "phone": NARROW}


async def approve_disapprove_remove(page: Page, service: Service, name: str) -> None:
    """Each action of the row's menu, chosen with real clicks, and its effect."""
    shown = row(page, name)
    menu = await open_row_menu(page, name)
    await menu.get_by_role("menuitem", name="Approve", exact=True).click()
    await confirm(page, "Approve")
    await expect(shown).to_contain_text("Approved")
    await expect_colour(shown, BLACK)

    menu = await open_row_menu(page, name)
    await menu.get_by_role("menuitem", name="Disapprove", exact=True).click()
    await confirm(page, "Disapprove")
    await expect(shown).to_contain_text("Disapproved")
    await expect_colour(shown, GREY)
    stored = await client_named(service, name)
    assert stored is not None and stored["status"] == "disapproved"

    menu = await open_row_menu(page, name)
    await menu.get_by_role("menuitem", name="Remove", exact=True).click()
    await confirm(page, "Remove")
    await expect(shown).to_have_count(0)
    assert await client_named(service, name) is None


async def expect_create_covers_nothing(page: Page) -> None:
    create = await page.get_by_role("button", name="Create client").bounding_box()
    assert create is not None
    for covered in ("#table", ".pager"):
        box = await page.locator(covered).bounding_box()
        assert box is not None and not overlaps(create, box), f"Create covers {covered}"


@pytest.mark.parametrize("size", VIEWPORTS)
async def test_the_last_row_of_a_full_page_is_approved_disapproved_and_removed_by_pointer(
        service: Service, browser: Browser, size: str) -> None:
    for number in range(21):  # a full page of 20, and one more on the next
        await service.create(oauth1_client(f"Consumer {number:02}"))
    page = await signed_in(browser, service, viewport=VIEWPORTS[size])
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 21))
    last = page.locator("#table-body tr").last
    await expect(last).to_contain_text("Consumer 01")  # newest first: the second oldest
    await expect_create_covers_nothing(page)
    await expect(page.get_by_role("button", name="Next")).to_be_enabled()
    await page.get_by_role("button", name="Actions for Consumer 01").scroll_into_view_if_needed()
    await open_row_menu(page, "Consumer 01")
    await screenshot(page, f"last-row-menu-{size}")
    await page.keyboard.press("Escape")
    await approve_disapprove_remove(page, service, "Consumer 01")
    # The next page's row moved up into this one.
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 20))
    assert script_errors(page) == []


@pytest.mark.parametrize("size", VIEWPORTS)
async def test_the_only_row_of_a_table_is_approved_disapproved_and_removed_by_pointer(
        service: Service, browser: Browser, size: str) -> None:
    await service.create(oidc_client("Lonely portal"))
    page = await signed_in(browser, service, viewport=VIEWPORTS[size])
    await open_tab(page, "OpenID Connect")
    await expect(page.locator("#table-body tr")).to_have_count(1)
    await expect_create_covers_nothing(page)
    await approve_disapprove_remove(page, service, "Lonely portal")
    # An empty table asks for the first client instead.
    await expect(page.get_by_text("There are no OpenID Connect clients yet.")).to_be_visible()
    await expect(page.get_by_role("button", name="Create client")).to_be_visible()
    await screenshot(page, f"empty-{size}")
    assert script_errors(page) == []


async def test_the_table_does_not_scroll_inside_itself(service: Service,
                                                       browser: Browser) -> None:
    await service.create(oidc_client("Wide portal", redirect_uris=[
        "https://portal.example.com/a/very/long/path/that/goes/on/and/on/callback"]))
    page = await signed_in(browser, service, viewport=LAPTOP)
    await open_tab(page, "OpenID Connect")
    await expect(row(page, "Wide portal")).to_be_visible()
    table = page.locator("#table")
    sizes = await table.evaluate(
        "t => [t.parentElement.scrollWidth, t.parentElement.clientWidth,"
        " getComputedStyle(t.parentElement).overflowX]")
    assert sizes[0] <= sizes[1] and sizes[2] == "visible", sizes
    # The key is one line, shown whole on hover.
    key = row(page, "Wide portal").locator("code.key")
    await expect(key).to_have_css("white-space", "nowrap")
    stored = await client_named(service, "Wide portal")
    assert stored is not None
    await expect(key).to_have_attribute("title", stored["key"])
    await expect(row(page, "Wide portal")).to_contain_text("code")  # the Response types column
    assert script_errors(page) == []
