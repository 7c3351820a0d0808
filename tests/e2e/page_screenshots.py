"""`make screenshots`: the admin page's pictures in the README, taken again.

Runs `clientkeys dev` (the in-process bus and a SecantusDB of its own, in a
temporary folder), seeds a few OpenID Connect clients through the public API,
and photographs the list, a client's detail view and the create dialog in
Debian's Chromium at 1366x768 and 390x844, into `docs/screenshots/`.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, async_playwright, expect

from clientkeys.devdb import free_port
from tests.e2e.browser import CHROMIUM, CHROMIUM_FLAGS, LAPTOP, NARROW, open_page
from tests.processes import CLI, REPO, clean_env, stop, wait_for_line

OUT = REPO / "docs" / "screenshots"
SIZES = {"laptop": LAPTOP, "phone": NARROW}
SECRET = "a-long-enough-secret"
IDN = "b\N{LATIN SMALL LETTER U WITH DIAERESIS}cher"
SEEDS: list[tuple[str, list[str], list[str], str]] = [
    ("Customer portal", ["https://portal.example.com/callback"],
     ["authorization_code", "refresh_token"], "approved"),
    ("Partner dashboard", ["https://partners.example.com/oidc/cb",
                           "https://partners.example.com/oidc/silent-renew"],
     ["authorization_code"], "approved"),
    ("Legacy intranet", ["https://intranet.example.com/login/callback"],
     ["authorization_code"], "disapproved"),
    (f"{IDN.capitalize()}ei app", [f"https://{IDN}.example/cb"],
     ["authorization_code"], "pending"),
    ("Mobile app", ["com.example.mobile:/oauth2redirect", "http://127.0.0.1/callback"],
     ["authorization_code", "refresh_token"], "pending"),
]
# The RFC 7591 metadata of some seeds: a portal whose secret expires soon, a public app.
METADATA: dict[str, dict[str, Any]] = {
    "Customer portal": {"scope": "openid profile email orders",
                        "client_uri": "https://portal.example.com/",
                        "policy_uri": "https://portal.example.com/privacy",
                        "contacts": ["portal-team@example.com"],
                        "post_logout_redirect_uris": ["https://portal.example.com/bye"]},
    "Mobile app": {"token_endpoint_auth_method": "none", "scope": "openid offline_access"},
}


async def seed(session: aiohttp.ClientSession, base: str) -> str:
    """The seeds, with an approval and an edit in the history of the first; its key."""
    keys = []
    soon = (datetime.now(UTC) + timedelta(days=10)).isoformat()
    for name, uris, grants, status in SEEDS:
        extra = METADATA.get(name, {})
        secret = {} if extra.get("token_endpoint_auth_method") == "none" else {
            "secret": SECRET, "secret_confirmation": SECRET,
            **({"client_secret_expires_at": soon} if name == "Customer portal" else {})}
        async with session.post(f"{base}/v1/clients", json={
                "type": "oidc", "name": name, **secret, "redirect_uris": uris,
                "grant_types": grants, "response_types": ["code"], **extra}) as answer:
            created: dict[str, Any] = await answer.json()
            assert answer.status in (201, 202), created
        key = str(created["key"])
        keys.append(key)
        if status != "pending":
            await _post(session, f"{base}/v1/clients/{key}/approve")
        if status == "disapproved":
            await _post(session, f"{base}/v1/clients/{key}/disapprove")
    async with session.patch(f"{base}/v1/clients/{keys[0]}",
                             json={"name": "Customer portal"}) as answer:
        assert answer.status == 200, await answer.text()
    return keys[0]


async def _post(session: aiohttp.ClientSession, url: str) -> None:
    async with session.post(url) as answer:
        assert answer.status == 200, await answer.text()


async def photograph(browser: Browser, url: str, token: str, size: str) -> None:
    page: Page = await open_page(browser, url, SIZES[size])
    await page.get_by_label("API token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live-status")).to_have_text("Live")
    await page.get_by_role("tab", name="OpenID Connect").click()
    await expect(page.locator("#table-body tr")).to_have_count(len(SEEDS))
    await page.screenshot(path=str(OUT / f"list-{size}.png"), full_page=True)

    await page.get_by_role("button", name="Customer portal", exact=True).click()
    detail = page.get_by_role("dialog", name="Customer portal")
    await expect(detail.locator("ol.history li").first).to_be_visible()
    await page.screenshot(path=str(OUT / f"detail-{size}.png"))
    await detail.get_by_role("button", name="Close").click()

    await page.get_by_role("button", name="Create client").click()
    dialog = page.get_by_role("dialog")
    await dialog.get_by_label("Client name").fill("Reporting tool")
    uri = dialog.get_by_role("textbox", name="Redirect URIs")
    for value in ("https://reports.example.com/cb", "http://reports.example.com/cb"):
        await uri.fill(value)
        await uri.press("Enter")
    await expect(dialog.locator(".chip-error")).to_be_visible()
    await page.screenshot(path=str(OUT / f"create-{size}.png"))
    await dialog.locator("#advanced-fields summary").click()
    await dialog.get_by_label("Token endpoint authentication").select_option("none")
    await dialog.get_by_label("Scope", exact=True).fill("openid reports:read")
    await dialog.get_by_label("Token endpoint authentication").scroll_into_view_if_needed()
    await page.screenshot(path=str(OUT / f"advanced-{size}.png"))
    await page.context.close()


def drain(process: subprocess.Popen[str]) -> None:
    """Keep reading the process's output so that it never blocks on a full pipe."""
    assert process.stdout is not None
    threading.Thread(target=lambda: [None for _ in process.stdout  # type: ignore[union-attr]
                                     ], daemon=True).start()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        env = clean_env(CLIENTKEYS_HTTP_PORT=str(port),
                        CLIENTKEYS_DEV_DIR=str(Path(folder) / "dev"), PYTHONPATH=str(REPO))
        process = await asyncio.to_thread(
            subprocess.Popen, [*CLI, "dev"], env=env, cwd=folder, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            url = (await asyncio.to_thread(wait_for_line, process, "admin page: open ")).split()[3]
            token = (await asyncio.to_thread(wait_for_line, process, "admin token")).split()[-1]
            drain(process)
            base = url.rstrip("/")
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                await seed(session, base)
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                           args=CHROMIUM_FLAGS)
                for size in SIZES:
                    await photograph(browser, url, token, size)
                await browser.close()
        finally:
            await asyncio.to_thread(stop, process)
    print(f"screenshots written to {OUT.relative_to(REPO)}/")


if __name__ == "__main__":
    asyncio.run(main())
