"""The admin page and self-registration: initial access tokens made (shown once, with
Copy), listed and revoked; self-registered clients marked by their origin; and every
client waiting for approval, of every type, in one list."""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.e2e.admin_page import open_tab, row, signed_in
from tests.e2e.browser import browser, screenshot, script_errors
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.e2e.registration_helpers import new_token, register, rfc7591_client

__all__ = ["browser"]  # the fixture


async def test_tokens_are_made_shown_once_listed_and_revoked(service: Service,
                                                             browser: Browser) -> None:
    page = await signed_in(browser, service)
    await page.get_by_role("button", name="Registration tokens").click()
    dialog = page.get_by_role("dialog", name="Registration tokens")
    await dialog.get_by_label("Label").fill("Partner onboarding")
    await dialog.get_by_label("Uses").fill("3")
    await dialog.get_by_label("OpenID Connect").check()
    await dialog.get_by_label("Redirect URI hosts").fill("*.partner.example")
    await dialog.get_by_role("button", name="Create token").click()
    shown = dialog.locator("#shown-token")
    await expect(shown).to_have_value(re.compile(r"^cki_"))
    token = await shown.input_value()
    await dialog.get_by_role("button", name="Copy", exact=True).click()
    await expect(dialog.locator("#copy-token-status")).to_contain_text(
        re.compile("Copied|copy it by hand"))
    listed = dialog.get_by_role("row").filter(has_text="Partner onboarding")
    await expect(listed).to_contain_text("3 of 3")
    await expect(listed).to_contain_text("Active")
    await screenshot(page, "registration-tokens")

    # The token works, and its use shows.
    status, _, _ = await register(service, token, rfc7591_client(
        scope="openid", redirect_uris=["https://app.partner.example/cb"]))
    assert status == 201
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await page.get_by_role("button", name="Registration tokens").click()
    # Shown once: reopened, the dialog no longer holds it.
    await expect(dialog.locator("#token-shown")).to_be_hidden()
    await expect(dialog.locator("#shown-token")).to_have_value("")
    await expect(listed).to_contain_text("2 of 3")
    await listed.get_by_role("button", name="Revoke Partner onboarding").click()
    await expect(listed).to_contain_text("Revoked")
    assert (await register(service, token))[0] == 401
    assert script_errors(page) == []


async def test_waiting_for_approval_lists_every_type_with_its_origin(service: Service,
                                                                     browser: Browser) -> None:
    token = await new_token(service)
    status, registered, _ = await register(service, token["token"], rfc7591_client(
        client_name="Self-made app"))
    assert status == 201
    await service.create(oauth1_client("Legacy consumer"))
    approved = await service.create(oidc_client("Approved portal"))
    assert (await service.request("POST", f"/v1/clients/{approved['key']}/approve")
            ).status == 200
    page = await signed_in(browser, service)
    await open_tab(page, "OAuth 2.0")
    await expect(row(page, "Self-made app").locator(".origin-badge")).to_have_text(
        "Self-registered")

    await page.get_by_role("button", name="Waiting for approval").click()
    waiting = page.get_by_role("dialog", name="Waiting for approval")
    await expect(waiting.locator("#waiting-count")).to_have_text(
        "2 clients wait for approval.")
    mine = waiting.get_by_role("row").filter(has_text="Self-made app")
    await expect(mine).to_contain_text("OAuth 2.0")
    await expect(mine).to_contain_text(f"Self-registered with token partner onboarding "
                                       f"({token['id']})")
    await expect(waiting.get_by_role("row").filter(has_text="Legacy consumer")).to_contain_text(
        "Created by an administrator")
    await expect(waiting).not_to_contain_text("Approved portal")
    await screenshot(page, "waiting-for-approval")
    await mine.get_by_role("button", name="Approve").click()
    await expect(waiting.locator("#waiting-count")).to_have_text(
        "1 client waits for approval.")
    stored = await (await service.request(
        "GET", f"/v1/clients/{registered['client_id']}")).json()
    assert stored["status"] == "approved"
    await waiting.get_by_role("button", name="Close").click()

    await row(page, "Self-made app").get_by_role("button", name="Self-made app",
                                                 exact=True).click()
    detail = page.get_by_role("dialog", name="Self-made app")
    await expect(detail).to_contain_text("Self-registered with token partner onboarding")
    await screenshot(page, "detail-self-registered")
    assert script_errors(page) == []
