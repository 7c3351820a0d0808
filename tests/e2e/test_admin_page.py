"""The admin page in a real browser, against the running service (gateway, workers,
RabbitMQ, the MongoDB-wire server): what the product pages describe, screen by screen.
"""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.admin_page import (
    BLACK,
    GREY,
    NOUN,
    SECRET,
    TAB,
    client_named,
    confirm,
    create_through_dialog,
    expect_colour,
    open_tab,
    row,
    row_action,
    signed_in,
)
from tests.e2e.browser import browser, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client

__all__ = ["browser"]  # the fixture


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
    await open_tab(page, "OpenID Connect")
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

    # The server's verdict on a plain-http redirect URI, on its chip.
    await dialog.get_by_label("Re-type the client secret").fill(SECRET)
    await expect(dialog.locator("#error-secret_confirmation")).to_be_hidden()
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    await uri.fill("http://portal.example.com/cb")
    await uri.press("Enter")
    await dialog.get_by_role("button", name="Save").click()
    error = dialog.locator("#redirect-uris .chip-error")
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
    await open_tab(page, "OAuth 1.0a")
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
    await open_tab(page, "OpenID Connect")
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
