"""The page's forms do not lose work: a one-time secret is not closed away by accident, a
bad redirect URI is marked as it is entered, and one Save shows every field's problem.
"""

from __future__ import annotations

import re

from playwright.async_api import Browser, expect

from tests.e2e.admin_page import SECRET, client_named, open_tab, signed_in
from tests.e2e.browser import NARROW, browser, screenshot, script_errors
from tests.e2e.conftest import Service

__all__ = ["browser"]  # the fixture


async def test_escape_or_a_click_outside_asks_before_a_secret_is_closed_away(
        service: Service, browser: Browser) -> None:
    page = await signed_in(browser, service)
    create = page.get_by_role("button", name="Create client")
    await create.click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Consumer name").fill("Careful consumer")
    await dialog.get_by_label("Generate a secret").check()
    await dialog.get_by_role("button", name="Save").click()
    shown = page.get_by_role("dialog", name="Copy the secret now")
    await expect(shown).to_be_visible()
    secret = await shown.get_by_label(re.compile("Secret of")).input_value()
    assert secret

    question = shown.get_by_role("alert").filter(has_text="Close without the secret?")
    await page.keyboard.press("Escape")
    await expect(question).to_be_visible()
    await expect(shown).to_be_visible()
    await expect(shown.get_by_label(re.compile("Secret of"))).to_have_value(secret)
    await shown.get_by_role("button", name="Keep it open").click()
    await expect(question).to_be_hidden()

    # Escape again, and a click on the backdrop: each asks, neither closes.
    await page.keyboard.press("Escape")
    await expect(question).to_be_visible()
    await shown.get_by_role("button", name="Keep it open").click()
    await page.mouse.click(3, 3)
    await expect(question).to_be_visible()
    await expect(shown).to_be_visible()

    await shown.get_by_role("button", name="Close without it").click()
    await expect(shown).to_be_hidden()
    await expect(page.locator("#shown-secret")).to_have_value("")
    await expect(create).to_be_focused()  # focus back where the dialog was opened
    assert script_errors(page) == []


async def test_the_secret_dialog_fits_a_phone(service: Service, browser: Browser) -> None:
    page = await signed_in(browser, service, viewport=NARROW)
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Consumer name").fill("Phone consumer")
    await dialog.get_by_label("Generate a secret").check()
    await dialog.get_by_role("button", name="Save").click()
    shown = page.get_by_role("dialog", name="Copy the secret now")
    for part in (shown, shown.get_by_role("button", name="Copy"),
                 shown.get_by_label(re.compile("Secret of")),
                 shown.get_by_role("button", name="I have copied it")):
        await expect(part).to_be_in_viewport(ratio=1)
    overflowing = await shown.evaluate("d => d.scrollWidth > d.clientWidth")
    assert not overflowing, "the secret dialog scrolls sideways"
    await screenshot(page, "narrow-secret")
    await shown.get_by_role("button", name="I have copied it").click()
    await expect(shown).to_be_hidden()
    assert script_errors(page) == []


async def test_a_bad_redirect_uri_is_marked_as_it_is_entered(service: Service,
                                                             browser: Browser) -> None:
    page = await signed_in(browser, service)
    await open_tab(page, "OAuth 2.0")
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    chips = dialog.get_by_role("list", name="Redirect URIs entered").get_by_role("listitem")
    await uri.fill("https://app.example.com/cb")
    await uri.press("Enter")
    await uri.fill("http://app.example.com/cb")
    await uri.press("Enter")
    await expect(chips).to_have_count(2)
    bad = chips.filter(has_text="http://app.example.com/cb")
    await expect(bad).to_have_attribute("aria-invalid", "true")
    await expect(bad.locator(".chip-error")).to_contain_text("loopback")
    await expect(chips.first).not_to_have_attribute("aria-invalid", "true")
    await expect(uri).to_have_attribute("aria-invalid", "true")
    # Nothing was saved to learn it.
    assert (await (await service.request("GET", "/v1/clients")).json())["total"] == 0
    await dialog.get_by_role("button", name="Remove http://app.example.com/cb").click()
    await expect(chips).to_have_count(1)
    await expect(uri).not_to_have_attribute("aria-invalid", "true")

    # The implicit-flow warning only for a response type without code.
    warnings = dialog.locator("#client-warnings li")
    await dialog.get_by_label("token", exact=True).check()
    await expect(warnings.filter(has_text="implicit flow")).to_have_count(1)
    await dialog.get_by_label("token", exact=True).uncheck()
    await expect(warnings).to_have_count(0)
    assert script_errors(page) == []


async def test_one_save_shows_every_field_error_under_its_field(service: Service,
                                                                browser: Browser) -> None:
    page = await signed_in(browser, service)
    await open_tab(page, "OpenID Connect")
    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Client name").fill("   ")
    await dialog.get_by_label("Client secret", exact=True).fill("short")
    await dialog.get_by_label("Re-type the client secret").fill("short")
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    await uri.fill("https://portal.example.com/cb#fragment")
    await dialog.get_by_role("button", name="Save").click()

    for field, error in (("Client name", "#error-name"), ("Client secret", "#error-secret"),
                         ("Redirect URIs", "#redirect-uris .chip-error")):
        await expect(dialog.locator(error)).to_be_visible()
        await expect(dialog.locator(error)).not_to_be_empty()
        target = (uri if field == "Redirect URIs"
                  else dialog.get_by_label(field, exact=True))
        await expect(target).to_have_attribute("aria-invalid", "true")
    await expect(dialog.locator("#redirect-uris .chip-error")).to_contain_text("fragment")
    await expect(dialog.locator("#error-secret")).to_contain_text(str(12))
    # Said once, on its chip, and the first field in the form's order has the focus.
    await expect(dialog.locator("#error-redirect_uris")).to_be_hidden()
    await expect(dialog.get_by_label("Client name")).to_be_focused()
    await screenshot(page, "three-errors")
    assert await client_named(service, "Portal") is None
    total = await (await service.request("GET", "/v1/clients")).json()
    assert total["total"] == 0

    # Corrected, the same dialog saves.
    await dialog.get_by_label("Client name").fill("Corrected portal")
    await dialog.get_by_label("Client secret", exact=True).fill(SECRET)
    await dialog.get_by_label("Re-type the client secret").fill(SECRET)
    await dialog.get_by_role("button", name="Remove https://portal.example.com/cb#fragment").click()
    await uri.fill("https://portal.example.com/cb")
    await uri.press("Enter")
    await dialog.get_by_role("button", name="Save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_role("status").filter(has_text="Corrected portal created")
                 ).to_be_visible()
    assert script_errors(page) == []
