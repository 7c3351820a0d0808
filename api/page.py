"""The admin page: one HTML document and its scripts and styles, served by the gateway.

No build step and no CDN (the service runs on internal networks): the files in
`api/static/` are served as they are. The page holds no data; it signs in with
a token the administrator pastes and then calls the public API like any other
client. Its answers carry a strict Content-Security-Policy (scripts, styles and
connections to this origin only, no inline code, no framing), so that a client
name can never become markup, and nothing on the page is cached unrevalidated.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from api.problems import Problem

STATIC = Path(__file__).with_name("static")
# The assets, by name: nothing else under the folder is reachable.
ASSETS = frozenset({"clientkeys.css", "app.js", "api.js", "client_dialog.js", "confirm.js",
                    "menu.js", "table.js", "live.js", "dom.js"})
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; "
                                "img-src 'self' data:; connect-src 'self'; "
                                "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


async def index(request: web.Request) -> web.StreamResponse:
    """`GET /`: the admin page."""
    return web.FileResponse(STATIC / "index.html", headers=SECURITY_HEADERS)


async def asset(request: web.Request) -> web.StreamResponse:
    """`GET /ui/{name}`: one of the page's scripts or styles."""
    name = request.match_info["name"]
    if name not in ASSETS:
        raise Problem(404)
    return web.FileResponse(STATIC / name, headers=SECURITY_HEADERS)
