"""The dialog's Advanced section (the RFC 7591 metadata) in a real browser: collapsed by
default, a public client created without a secret, an error in it opening it, an edit
sending only what changed, and a secret expiring soon marked in the table and the
detail view."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from tests.client_keys import ec_pair, jwks, rsa_pair
from tests.e2e.admin_page import client_named, open_tab, row, row_action, signed_in
from tests.e2e.browser import browser, screenshot, script_errors
from tests.e2e.conftest import Service, oidc_client

__all__ = ["browser"]  # the fixture


async def test_a_public_client_is_made_in_the_advanced_section(service: Service,
                                                               browser: Browser) -> None:
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    advanced = dialog.locator("#advanced-fields")
    scope = dialog.get_by_label("Scope", exact=True)
    await expect(scope).to_be_hidden()  # collapsed by default
    await screenshot(page, "advanced-collapsed")
    await dialog.get_by_label("Client name").fill("Native app")
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    await uri.fill("http://127.0.0.1:8765/cb")
    await uri.press("Enter")

    await advanced.locator("summary").click()
    await expect(scope).to_have_value("openid")
    await dialog.get_by_label("Token endpoint authentication").select_option("none")
    # A public client has no secret: nothing to enter, generate or expire.
    await expect(dialog.get_by_label("Generate a secret")).to_be_hidden()
    await expect(dialog.get_by_label("Secret expires")).to_be_hidden()
    await expect(dialog.get_by_label("Require PKCE")).to_be_checked()
    await scope.fill("openid profile  email")
    await dialog.get_by_label("Home page").fill("http://native.example.com/")
    await dialog.get_by_label("Contacts").fill("dev@example.com\nops@example.com")
    await dialog.get_by_label("Post-logout redirect URIs").fill("http://127.0.0.1:8765/bye")
    await advanced.locator("summary").click()  # collapsed again before Save
    await expect(scope).to_be_hidden()

    await dialog.get_by_role("button", name="Save").click()
    # The service refuses the http home page; the section opens to show it, under its field.
    await expect(dialog.locator("#error-client_uri")).to_contain_text("https")
    await expect(scope).to_be_visible()
    await expect(dialog.get_by_label("Home page")).to_have_attribute("aria-invalid", "true")
    await screenshot(page, "advanced-error")
    await dialog.get_by_label("Home page").fill("https://native.example.com/")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("dialog", name="Copy the secret now")).to_be_hidden()
    created = await client_named(service, "Native app")
    assert created is not None
    assert (created["token_endpoint_auth_method"], created["scope"], created["require_pkce"],
            created["contacts"], created["client_uri"], created["post_logout_redirect_uris"]) == (
        "none", "email openid profile", True, ["dev@example.com", "ops@example.com"],
        "https://native.example.com/", ["http://127.0.0.1:8765/bye"])
    assert created["client_secret_issued_at"] is None
    assert script_errors(page) == []


async def test_an_edit_sends_only_the_metadata_that_changed(service: Service,
                                                            browser: Browser) -> None:
    await service.create(oidc_client("Shop", scope="orders", contacts=["a@example.com"]))
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    await row_action(page, "Shop", "Edit")
    dialog = page.get_by_role("dialog")
    scope = dialog.get_by_label("Scope", exact=True)
    await expect(scope).to_be_hidden()
    await dialog.locator("#advanced-fields summary").click()
    await expect(scope).to_have_value("openid orders")
    await expect(dialog.get_by_label("Token endpoint authentication")).to_have_value(
        "client_secret_basic")
    await scope.fill("orders openid invoices")
    await screenshot(page, "advanced-edit")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    edited = await client_named(service, "Shop")
    assert edited is not None and edited["scope"] == "invoices openid orders"
    history = await (await service.request(
        "GET", f"/v1/clients/{edited['key']}/history")).json()
    assert history["items"][0]["fields"] == ["scope"]
    assert script_errors(page) == []


async def test_a_secret_expiring_soon_is_marked_in_the_table_and_the_detail_view(
        service: Service, browser: Browser) -> None:
    soon = (datetime.now(UTC) + timedelta(days=3, hours=1)).isoformat()
    later = (datetime.now(UTC) + timedelta(days=60)).isoformat()
    await service.create(oidc_client("Expiring portal", client_secret_expires_at=soon,
                                     policy_uri="https://portal.example.com/privacy"))
    await service.create(oidc_client("Lasting portal", client_secret_expires_at=later))
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    await expect(row(page, "Expiring portal")).to_contain_text("Secret expires in 3 days")
    await expect(row(page, "Lasting portal")).not_to_contain_text("Secret expires")
    await screenshot(page, "list-expiring")
    await row(page, "Expiring portal").get_by_role("button", name="Expiring portal",
                                                  exact=True).click()
    detail = page.get_by_role("dialog", name="Expiring portal")
    await expect(detail).to_contain_text("Secret expires in 3 days")
    await expect(detail).to_contain_text(re.compile("Token endpoint authentication"))
    await expect(detail).to_contain_text("https://portal.example.com/privacy")
    await expect(detail).to_contain_text("Required")  # PKCE
    await screenshot(page, "detail-expiring")
    assert script_errors(page) == []


async def test_a_client_with_public_keys_is_made_and_its_keys_listed(
        service: Service, browser: Browser) -> None:
    rsa, ec = rsa_pair("page-rsa"), ec_pair("page-ec")
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Client name").fill("Signed app")
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    await uri.fill("https://signed.example.com/cb")
    await uri.press("Enter")
    await dialog.locator("#advanced-fields summary").click()
    keys_box = dialog.get_by_label("Public keys (JWK Set)")
    await expect(keys_box).to_be_hidden()  # only for private_key_jwt
    await dialog.get_by_label("Token endpoint authentication").select_option("private_key_jwt")
    await expect(dialog.get_by_label("Generate a secret")).to_be_hidden()
    # A private key pasted is refused under the field, naming the key.
    await keys_box.fill(json.dumps({"keys": [rsa.private_jwk()]}))
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog.locator("#error-jwks")).to_contain_text("kid 'page-rsa'")
    await keys_box.fill(json.dumps(jwks(rsa, ec)))
    await screenshot(page, "advanced-public-keys")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    created = await client_named(service, "Signed app")
    assert created is not None and created["jwks"] == jwks(rsa, ec)
    await row(page, "Signed app").get_by_role("button", name="Signed app", exact=True).click()
    detail = page.get_by_role("dialog", name="Signed app")
    await expect(detail).to_contain_text("page-rsa: RSA 2048 bits")
    await expect(detail).to_contain_text("page-ec: EC P-256")
    await expect(detail).to_contain_text("None: the client signs assertions with its own key")
    await expect(detail).to_contain_text("token endpoint authentication, public keys")
    await screenshot(page, "detail-public-keys")
    assert script_errors(page) == []
