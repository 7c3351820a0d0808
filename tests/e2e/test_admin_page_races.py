"""Answers that arrive out of order: the page shows the one for its newest request.

An answer is held back on its way to the page (as a slow network would) while the
administrator goes on; once it is let through, the page must still show what the controls
ask for now, never the older answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable

from playwright.async_api import Browser, Error, Locator, Page, Request, Route, expect

from tests.e2e.admin_page import page_range, row, settled, signed_in
from tests.e2e.browser import browser, script_errors
from tests.e2e.conftest import Service, oauth1_client

__all__ = ["browser"]  # the fixture

SORTED_BY_NAME = re.compile(r"/v1/clients\?(?!.*cursor=).*\bsort=name(&|$)")


class Held:
    """The first request `picks` chooses is held until `release()`; the others go through."""

    def __init__(self, page: Page, picks: Callable[[str], bool]) -> None:
        self.picks = picks
        self.request: Request | None = None
        self.arrived = asyncio.Event()
        self.released = asyncio.Event()
        self.ended = asyncio.Event()  # the page had its answer, or gave the request up
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    async def route(self, route: Route) -> None:
        if self.request is not None or not self.picks(route.request.url):
            await route.continue_()
            return
        self.request = route.request
        self.arrived.set()
        await self.released.wait()
        with contextlib.suppress(Error):  # the page gave it up (aborted) meanwhile
            await route.continue_()

    def _ended(self, request: Request) -> None:
        if request is self.request:
            self.ended.set()

    async def release(self, page: Page) -> None:
        """Let the answer through; return once the page has handled it (or given it up)."""
        self.released.set()
        await asyncio.wait_for(self.ended.wait(), 10)
        # The body is in; the page's own handling of it runs in the tasks that follow.
        await page.evaluate(
            "() => new Promise((done) => requestAnimationFrame(() => setTimeout(done)))")


async def hold(page: Page, picks: Callable[[str], bool]) -> Held:
    held = Held(page, picks)
    await page.route(re.compile(r"/v1/clients"), held.route)
    return held


async def consumers(service: Service) -> None:
    """24 clients: Consumer 00 to 22, then Special consumer, the newest."""
    for number in range(23):
        await service.create(oauth1_client(f"Consumer {number:02}"))
    await service.create(oauth1_client("Special consumer"))


async def expect_names(page: Page, names: list[str]) -> None:
    await expect(page.locator("#table-body tr th")).to_have_text(names)


async def test_next_clicked_while_the_sorted_page_is_on_its_way_cannot_mix_two_views(
        service: Service, browser: Browser) -> None:
    await consumers(service)
    page = await signed_in(browser, service)
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 24))
    held = await hold(page, lambda url: bool(SORTED_BY_NAME.search(url)))
    await page.get_by_role("button", name="Name").click()
    await asyncio.wait_for(held.arrived.wait(), 10)
    # Next at once, where it is on the screen, ready or not: the next page of the newest
    # rows is not known yet, and the one of the rows on screen belongs to another order.
    await page.get_by_role("button", name="Next").click(force=True)
    await held.release(page)
    await settled(page)
    await expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "ascending")
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 24))
    await expect_names(page, [f"Consumer {number:02}" for number in range(20)])

    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#page-range")).to_have_text(page_range(21, 24, 24))
    await expect_names(page, ["Consumer 20", "Consumer 21", "Consumer 22", "Special consumer"])
    assert script_errors(page) == []


async def test_an_older_sorted_page_arriving_last_is_dropped(service: Service,
                                                             browser: Browser) -> None:
    await consumers(service)
    page = await signed_in(browser, service)
    await expect(page.locator("#page-range")).to_have_text(page_range(1, 20, 24))
    held = await hold(page, lambda url: bool(SORTED_BY_NAME.search(url)))
    name = page.get_by_role("button", name="Name")
    await name.click()  # ascending: held
    await asyncio.wait_for(held.arrived.wait(), 10)
    await name.click()  # descending: answered at once
    descending = ["Special consumer"] + [f"Consumer {number:02}" for number in range(22, 3, -1)]
    await expect_names(page, descending)
    await held.release(page)
    await settled(page)
    await expect(page.get_by_role("columnheader", name="Name")).to_have_attribute(
        "aria-sort", "descending")
    await expect_names(page, descending)
    assert script_errors(page) == []


def opener(page: Page, name: str) -> Locator:
    """The client's name in its row: the button that opens its detail view."""
    return row(page, name).get_by_role("button", name=name, exact=True)


async def test_a_detail_view_never_shows_a_client_opened_before(service: Service,
                                                                browser: Browser) -> None:
    first = await service.create(oauth1_client("First consumer"))
    await service.create(oauth1_client("Second consumer"))
    page = await signed_in(browser, service)
    held = await hold(page, lambda url: url.endswith(f"/v1/clients/{first['key']}"))
    detail = page.locator("#detail-dialog")
    await opener(page, "First consumer").click()
    await asyncio.wait_for(held.arrived.wait(), 10)
    await detail.get_by_role("button", name="Close").click()
    await opener(page, "Second consumer").click()
    await expect(page.locator("#detail-title")).to_have_text("Second consumer")
    await held.release(page)
    await expect(page.locator("#detail-title")).to_have_text("Second consumer")
    await expect(detail).not_to_contain_text(first["key"])
    assert script_errors(page) == []
