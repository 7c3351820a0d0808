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

STATIC = Path(__file__).parent.parent / "static"
# The assets, by name: nothing else under the folder is reachable.
SCRIPTS = frozenset({"app", "api", "approval", "client_dialog", "confirm", "copy", "detail",
                     "dom", "history", "latest", "live", "menu", "notice", "secret_dialog", "table",
                     "uris", "view_state", "advanced", "expiry", "origin", "waiting",
                     "registration_tokens"})
STYLES = frozenset({"clientkeys"})
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
    return _file("index.html", "text/html")


async def script(request: web.Request) -> web.StreamResponse:
    """`GET /ui/{name}.js`: one of the page's scripts (ES modules)."""
    return _asset(request.match_info["name"], SCRIPTS, ".js", "text/javascript")


async def style(request: web.Request) -> web.StreamResponse:
    """`GET /ui/{name}.css`: the page's style sheet."""
    return _asset(request.match_info["name"], STYLES, ".css", "text/css")


def _asset(name: str, known: frozenset[str], suffix: str, media_type: str
           ) -> web.StreamResponse:
    if name not in known:
        raise Problem(404)
    return _file(f"{name}{suffix}", media_type)


def _file(name: str, media_type: str) -> web.StreamResponse:
    # The type is stated, not guessed: the system's MIME table varies between machines.
    return web.FileResponse(STATIC / name, headers={
        **SECURITY_HEADERS, "Content-Type": f"{media_type}; charset=utf-8"})
