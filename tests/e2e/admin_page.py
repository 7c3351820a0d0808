"""The admin page as its tests use it: sign in, find a row, use its menu, fill the dialog."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser, FloatRect, Locator, Page, expect

from tests.e2e.browser import open_page, screenshot
from tests.e2e.conftest import Service

SECRET = "a-long-enough-secret"
BLACK = "rgb(17, 17, 17)"  # --text
GREY = "rgb(95, 99, 104)"  # --muted
TAB = {"oauth1": "OAuth 1.0a", "oauth2": "OAuth 2.0", "oidc": "OpenID Connect"}
NOUN = {"oauth1": "consumer", "oauth2": "client", "oidc": "client"}


def page_range(first: int, last: int, total: int) -> str:
    return f"{first}\N{EN DASH}{last} of {total}"


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def signed_in(browser: Browser, service: Service, headers: dict[str, str] | None = None,
                    viewport: dict[str, int] | None = None) -> Page:
    page = await open_page(browser, str(service.http.make_url("/")),
                           **({"viewport": viewport} if viewport else {}))
    await page.get_by_label("API token").fill(token_of(headers or service.admin))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("Live")
    # Once live, the panel is shown or not for good (a token that may not read clients).
    if await page.locator("#panel").is_visible():
        await settled(page)
    return page


async def settled(page: Page) -> None:
    """Wait until the table shows the answer to its newest read, as the page marks its panel.

    Acting sooner may act on what a render in progress replaces (an empty tab swaps the
    Create button under the table for its own).
    """
    await expect(page.locator("#panel")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#panel")).to_have_attribute("aria-busy", "false")


async def open_tab(page: Page, label: str) -> None:
    await page.get_by_role("tab", name=label).click()
    await settled(page)


def row(page: Page, name: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name,
                                                                 exact=True))


async def row_action(page: Page, name: str, action: str) -> None:
    await page.get_by_role("button", name=f"Actions for {name}").click()
    await page.get_by_role("menuitem", name=action, exact=True).click()


async def client_named(service: Service, name: str) -> dict[str, Any] | None:
    response = await service.request("GET", "/v1/clients", params={"q": name})
    page = await response.json()
    found = [c for c in page["items"] if c["name"] == name]
    return found[0] if found else None


async def create_through_dialog(page: Page, client_type: str, name: str) -> None:
    await open_tab(page, TAB[client_type])
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    # The type is preset from the tab.
    await expect(dialog.get_by_label("Client type")).to_have_value(client_type)
    noun = NOUN[client_type]
    await dialog.get_by_label(f"{noun.capitalize()} name").fill(name)
    await dialog.get_by_label(f"{noun.capitalize()} secret", exact=True).fill(SECRET)
    await dialog.get_by_label(f"Re-type the {noun} secret").fill(SECRET)
    if client_type != "oauth1":
        uri = dialog.get_by_role("textbox", name="Redirect URIs")
        for value in ("https://app.example.com/cb", "https://app.example.com/other"):
            await uri.fill(value)
            await uri.press("Enter")
        await dialog.get_by_role("button", name="Remove https://app.example.com/other").click()
        await expect(dialog.get_by_role("list", name="Redirect URIs entered")
                     .get_by_role("listitem")).to_have_count(1)
    await screenshot(page, f"create-{client_type}")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()


async def confirm(page: Page, button: str) -> None:
    dialog = page.get_by_role("dialog")
    await expect(dialog).to_be_visible()
    await dialog.get_by_role("button", name=button, exact=True).click()
    await expect(dialog).to_be_hidden()


async def expect_colour(locator: Locator, colour: str) -> None:
    await expect(locator.get_by_role("rowheader")).to_have_css("color", colour)


async def expect_unobstructed(page: Page, locator: Locator) -> None:
    """The element lies inside the window and nothing covers its centre: a pointer reaches it."""
    await expect(locator).to_be_in_viewport(ratio=1)
    box = await locator.bounding_box()
    assert box is not None
    hit = await locator.evaluate(
        "(element, [x, y]) => element.contains(document.elementFromPoint(x, y))",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])
    assert hit, "another element covers it"


async def open_row_menu(page: Page, name: str) -> Locator:
    """Open a row's menu with the pointer; every item must be reachable by it."""
    await page.get_by_role("button", name=f"Actions for {name}").click()
    menu = page.get_by_role("menu", name=f"Actions for {name}")
    await expect(menu).to_be_visible()
    for item in await menu.get_by_role("menuitem").all():
        await expect_unobstructed(page, item)
    return menu


def overlaps(a: FloatRect, b: FloatRect) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])
