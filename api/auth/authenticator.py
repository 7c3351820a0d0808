"""Which credential a bearer token is: a static API token or an identity provider's JWT.

The gateway accepts both kinds side by side. The static tokens file is asked
first (a hash lookup, no network); a token shaped like a JWT (three base64url
segments) then goes to the JWT verifier. Either source may be absent, not both.
"""

from __future__ import annotations

import re

from api.auth.jwt_tokens import JwtVerifier
from api.auth.principals import Principal
from api.auth.tokens import TokenStore

# header.payload.signature; the signature is empty only for `alg: none`,
# which the verifier refuses (and logs) like any other bad token.
_JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


def looks_like_jwt(token: str) -> bool:
    return _JWT_SHAPE.fullmatch(token) is not None


class Authenticator:
    def __init__(self, tokens: TokenStore | None = None,
                 jwts: JwtVerifier | None = None) -> None:
        self.tokens = tokens
        self.jwts = jwts

    async def authenticate(self, token: str) -> Principal | None:
        if self.tokens is not None:
            principal = self.tokens.authenticate(token)
            if principal is not None:
                return principal
        if self.jwts is not None and looks_like_jwt(token):
            return await self.jwts.authenticate(token)
        return None
