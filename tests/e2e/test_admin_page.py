"""The admin page in a real browser, against the running service (gateway, workers,
RabbitMQ, the MongoDB-wire server): what the product pages describe, screen by screen.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from common.devdb import free_port
from tests.e2e.browser import NARROW, browser, open_page, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.e2e.test_processes import CLI, REPO, clean_env, stop, wait_for_line

__all__ = ["browser"]  # the fixture

SECRET = "a-long-enough-secret"
BLACK = "rgb(17, 17, 17)"  # --text
GREY = "rgb(95, 99, 104)"  # --muted
TAB = {"oauth1": "OAuth 1.0a", "oauth2": "OAuth 2.0", "oidc": "OpenID Connect"}
NOUN = {"oauth1": "consumer", "oauth2": "client", "oidc": "client"}


def _range(first: int, last: int, total: int) -> str:
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
    return page


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
    await page.get_by_role("tab", name=TAB[client_type]).click()
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


@pytest.mark.parametrize("client_type", ["oauth1", "oauth2", "oidc"])
async def test_an_administrator_manages_a_client_of_each_type(
        service: Service, browser: Browser, client_type: str) -> None:
    page = await signed_in(browser, service)
    name = f"{TAB[client_type]} app"
    await create_through_dialog(page, client_type, name)

    created = row(page, name)
    await expect(created).to_contain_text("Waiting for approval")
    stored = await client_named(service, name)
    assert stored is not None and stored["status"] == "pending"
    assert stored["type"] == client_type
    if client_type != "oauth1":
        assert stored["redirect_uris"] == ["https://app.example.com/cb"]
        assert stored["grant_types"] == ["authorization_code"]
        assert stored["response_types"] == ["code"]
        await expect(created).to_contain_text("https://app.example.com/cb")
    await screenshot(page, f"pending-{client_type}")

    await row_action(page, name, "Approve")
    await confirm(page, "Approve")
    await expect(created).to_contain_text("Approved")
    await expect_colour(created, BLACK)
    await screenshot(page, f"approved-{client_type}")

    await row_action(page, name, "Disapprove")
    await confirm(page, "Disapprove")
    await expect(created).to_contain_text("Disapproved")
    await expect_colour(created, GREY)
    await screenshot(page, f"disapproved-{client_type}")

    renamed = f"{name} (renamed)"
    await row_action(page, name, "Edit")
    dialog = page.get_by_role("dialog")
    await expect(dialog.get_by_label(re.compile("(Client|Consumer) key"))).to_have_value(
        stored["key"])
    await expect(dialog.get_by_label("Client type")).to_be_disabled()
    await dialog.get_by_label(f"{NOUN[client_type].capitalize()} name").fill(renamed)
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(row(page, renamed)).to_be_visible()
    edited = await client_named(service, renamed)
    assert edited is not None and edited["key"] == stored["key"]

    await row_action(page, renamed, "Remove")
    await confirm(page, "Remove")
    await expect(row(page, renamed)).to_have_count(0)
    gone = await service.request("GET", f"/v1/clients/{stored['key']}")
    assert gone.status == 404
    assert script_errors(page) == []


async def test_bad_input_is_shown_next_to_its_field(service: Service, browser: Browser) -> None:
    page = await signed_in(browser, service)
    await page.get_by_role("tab", name="OpenID Connect").click()
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Client name").fill("Careless portal")

    # A mismatched secret is shown before anything is sent, and nothing is.
    await dialog.get_by_label("Client secret", exact=True).fill(SECRET)
    await dialog.get_by_label("Re-type the client secret").fill(SECRET + "x")
    await expect(dialog.locator("#error-secret_confirmation")).to_have_text(
        "The secrets do not match.")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_visible()
    assert await client_named(service, "Careless portal") is None

    # Warnings for discouraged choices appear before saving.
    await dialog.get_by_label("password", exact=True).check()
    await dialog.get_by_label("id_token token", exact=True).check()
    warnings = dialog.locator("#client-warnings li")
    await expect(warnings).to_have_count(2)
    await expect(warnings.first).to_contain_text("password grant")
    await expect(warnings.nth(1)).to_contain_text("implicit flow")
    await dialog.get_by_label("password", exact=True).uncheck()
    await dialog.get_by_label("id_token token", exact=True).uncheck()
    await expect(warnings).to_have_count(0)

    # The server's verdict on a plain-http redirect URI, next to the URIs.
    await dialog.get_by_label("Re-type the client secret").fill(SECRET)
    await expect(dialog.locator("#error-secret_confirmation")).to_be_hidden()
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    await uri.fill("http://portal.example.com/cb")
    await uri.press("Enter")
    await dialog.get_by_role("button", name="Save").click()
    error = dialog.locator("#error-redirect_uris")
    await expect(error).to_contain_text("https")
    await expect(uri).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "validation-errors")
    assert await client_named(service, "Careless portal") is None

    # Corrected, the same dialog saves.
    await dialog.get_by_role("button", name="Remove http://portal.example.com/cb").click()
    await uri.fill("https://portal.example.com/cb")
    await uri.press("Enter")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(row(page, "Careless portal")).to_be_visible()
    assert script_errors(page) == []


async def test_a_generated_secret_is_shown_once_and_works(service: Service,
                                                          browser: Browser) -> None:
    page = await signed_in(browser, service)
    await page.get_by_role("tab", name="OAuth 1.0a").click()
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Consumer name").fill("Generated consumer")
    await dialog.get_by_label("Generate a secret").check()
    await expect(dialog.get_by_label("Consumer secret", exact=True)).to_be_hidden()
    await dialog.get_by_role("button", name="Save").click()

    shown = page.get_by_role("dialog", name="Copy the secret now")
    await expect(shown).to_contain_text("will not be shown again")
    secret = await shown.get_by_label(re.compile("Secret of")).input_value()
    assert len(secret) >= 32
    await screenshot(page, "generated-secret")
    await shown.get_by_role("button", name="Copy").click()
    await expect(shown.get_by_role("status")).to_have_text(re.compile("Copied|copy it by hand"))
    await shown.get_by_role("button", name="I have copied it").click()
    await expect(shown).to_be_hidden()
    await expect(page.locator("#shown-secret")).to_have_value("")

    # It is the client's real secret: approved, it verifies.
    created = await client_named(service, "Generated consumer")
    assert created is not None
    approve = await service.request("POST", f"/v1/clients/{created['key']}/approve")
    assert approve.status == 200
    verify = await service.request("POST", f"/v1/clients/{created['key']}/verify",
                                   headers=service.everything, json={"secret": secret})
    assert (await verify.json())["valid"] is True
    assert script_errors(page) == []


async def test_a_change_made_elsewhere_appears_live(service: Service, browser: Browser) -> None:
    page = await signed_in(browser, service)
    await page.get_by_role("tab", name="OpenID Connect").click()
    await expect(page.get_by_text("There are no OpenID Connect clients yet.")).to_be_visible()

    created = await service.create(oidc_client("Made through the API"))
    arrived = row(page, "Made through the API")
    await expect(arrived).to_contain_text("Waiting for approval")

    approved = await service.request("POST", f"/v1/clients/{created['key']}/approve")
    assert approved.status == 200
    await expect(arrived).to_contain_text("Approved")
    await expect_colour(arrived, BLACK)
    await screenshot(page, "live-update")

    # A client of another type does not land in this tab.
    await service.create(oauth1_client("Another tab"))
    await service.create(oidc_client("After the other tab"))
    await expect(row(page, "After the other tab")).to_be_visible()
    await expect(row(page, "Another tab")).to_have_count(0)
    assert script_errors(page) == []


async def test_search_filter_sort_and_pages(service: Service, browser: Browser) -> None:
    for number in range(23):
        await service.create(oauth1_client(f"Consumer {number:02}"))
    extra = await service.create(oauth1_client("Special consumer"))
    await service.request("POST", f"/v1/clients/{extra['key']}/approve")
    page = await signed_in(browser, service)
    body = page.locator("#table-body tr")
    await expect(page.locator("#page-range")).to_have_text(_range(1, 20, 24))
    await expect(body.first).to_contain_text("Special consumer")  # newest first

    await page.get_by_role("button", name="Next").click()
    await expect(page.locator("#page-range")).to_have_text(_range(21, 24, 24))
    await expect(body).to_have_count(4)
    await page.get_by_role("button", name="Previous").click()
    await expect(page.locator("#page-range")).to_have_text(_range(1, 20, 24))

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
    await page.get_by_role("tab", name="OpenID Connect").click()
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
    await page.get_by_role("tab", name="OpenID Connect").click()
    shown = row(page, "Narrow portal")
    await expect(shown).to_contain_text("https://portal.example.com/cb")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= NARROW["width"], f"the page scrolls sideways ({width}px)"
    await screenshot(page, "narrow")
    await page.get_by_role("button", name="Create client").click()
    await expect(page.get_by_role("dialog").get_by_label("Client name")).to_be_in_viewport()
    await screenshot(page, "narrow-dialog")
    assert script_errors(page) == []


async def test_an_edit_made_on_a_stale_copy_is_refused_not_lost(service: Service,
                                                                 browser: Browser) -> None:
    created = await service.create(oauth1_client("Contested consumer"))
    page = await signed_in(browser, service)
    await row_action(page, "Contested consumer", "Edit")
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Consumer name").fill("Renamed in the page")

    # Meanwhile another administrator renames it through the API.
    other = await service.request("PATCH", f"/v1/clients/{created['key']}",
                                  json={"name": "Renamed elsewhere"})
    assert other.status == 200
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.get_by_role("alert").filter(has_text="Someone changed this client")
                 ).to_be_visible()
    await expect(row(page, "Renamed elsewhere")).to_be_visible()
    current = await client_named(service, "Renamed elsewhere")
    assert current is not None and current["key"] == created["key"]
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
