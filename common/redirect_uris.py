"""Which redirect URIs a client may register (RFC 6749 section 3.1.2, RFC 8252, RFC 9700).

A redirect URI is where an authorization server sends a code or a token, so
each one is exact (no wildcard, no fragment) and can only lead where its
client is: https anywhere, http only to the device itself (RFC 8252 section
7.3, loopback), or a native app's private-use scheme, which is a reverse domain
name (RFC 8252 section 7.1, `com.example.app:/callback`). `common.clients`
runs this on every entry of a client's list.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from common.visible_text import has_bidi_controls, has_control_characters

REDIRECT_URI_MAX = 2048
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# A domain name in reverse order: at least two labels of letters, digits and
# inner hyphens (the scheme arrives lower-cased from urlsplit).
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_REVERSE_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a redirect URI, or None when it can."""
    if len(uri) > REDIRECT_URI_MAX:
        return f"Must be at most {REDIRECT_URI_MAX} characters."
    if has_control_characters(uri) or any(ch.isspace() for ch in uri):
        return "Must not contain spaces or control characters."
    if has_bidi_controls(uri):  # RFC 3987 section 4.1: never in an IRI
        return ("Must not contain bidirectional control characters "
                "(U+202A-U+202E, U+2066-U+2069).")
    if "#" in uri:
        return "Must not contain a fragment (RFC 6749, section 3.1.2)."
    if "*" in uri:
        return "Wildcards are not allowed; register every redirect URI exactly."
    try:
        parts = urlsplit(uri)
        host = parts.hostname
        port = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return "Is not a valid URI."
    if not parts.scheme:
        return "Must be an absolute URI with a scheme."
    # In any scheme: a browser would send them, or show them where the host should be.
    if parts.username is not None or parts.password is not None:
        return "Must not contain user credentials (user@ or user:password@ before the host)."
    if port == 0:
        return "Port 0 cannot be redirected to; give the port the client listens on, or none."
    if parts.scheme == "https":
        return None if host else "An https redirect URI needs a host."
    if parts.scheme == "http":
        if host is None or not _is_loopback(host):
            return (
                "http is allowed only on a loopback host (127.0.0.1, [::1] or localhost); "
                "use https."
            )
        return None
    # Also keeps out javascript:, data:, file: and the like.
    if not _REVERSE_DOMAIN.fullmatch(parts.scheme):
        return (
            f"The scheme '{parts.scheme}' is not allowed: use https, http on a loopback host, "
            "or a reverse-domain private-use scheme such as com.example.app:/callback "
            "(RFC 8252, section 7.1)."
        )
    if parts.netloc and not parts.path.startswith("/"):
        return "Is not a valid URI."
    return None


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host) in (
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::1"),
        )
    except ValueError:
        return False
