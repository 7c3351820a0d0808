"""OAuth 1.0a requests as a consumer signs them (oauthlib's client), for the verifier's tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oauthlib.oauth1 import (
    SIGNATURE_HMAC_SHA1,
    SIGNATURE_HMAC_SHA256,
    SIGNATURE_PLAINTEXT,
    SIGNATURE_TYPE_AUTH_HEADER,
    SIGNATURE_TYPE_BODY,
    SIGNATURE_TYPE_QUERY,
    Client,
)

from api.verify.oauth1_signatures import (
    FORM_URLENCODED,
    Consumer,
    Reason,
    SignatureVerifier,
    SignedRequest,
)

KEY = "UfDD-JBIsuMOfvY7UJhWKBfcoSbNa7Rg"
OTHER_KEY = "dxPE_-lVVk-ljPs3phZsTgXPRZsgx6qP"
SECRET = "current secret & more"  # needs escaping in a signature key
PREVIOUS = ("previous-secret-one", "previous-secret-two")
TOKEN = "access-token-of-alice"
TOKEN_SECRET = "token secret of alice"
URI = "https://as.example.test/v1/photos?size=large&file=vacation.jpg"
FORM = "title=Sunset&tags=sea+sky"

APPROVED = Consumer(approved=True, secrets=(SECRET,))
HMAC_METHODS = [SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256]
METHODS = [*HMAC_METHODS, SIGNATURE_PLAINTEXT]
PLACEMENTS = [SIGNATURE_TYPE_AUTH_HEADER, SIGNATURE_TYPE_BODY, SIGNATURE_TYPE_QUERY]


def signed(method: str = SIGNATURE_HMAC_SHA1, placement: str = SIGNATURE_TYPE_AUTH_HEADER, *,
           with_token: bool = True, key: str = KEY, secret: str = SECRET,
           token_secret: str = TOKEN_SECRET, uri: str = URI, **client_args: Any) -> SignedRequest:
    """A form POST signed by oauthlib's client, as a consumer would send it."""
    client = Client(key, client_secret=secret,
                    resource_owner_key=TOKEN if with_token else None,
                    resource_owner_secret=token_secret if with_token else None,
                    signature_method=method, signature_type=placement, **client_args)
    signed_uri, headers, body = client.sign(uri, "POST", body=FORM,
                                            headers={"Content-Type": FORM_URLENCODED})
    return SignedRequest("POST", signed_uri, headers, body)


def lookup_of(consumers: dict[str, Consumer]) -> Callable[[str], Consumer | None]:
    return consumers.get


def verify(request: SignedRequest, *, consumer: Consumer | None = APPROVED,
           token_secret: str | None = TOKEN_SECRET,
           verifier: SignatureVerifier | None = None) -> Reason:
    verifier = verifier or SignatureVerifier()
    consumers = {} if consumer is None else {KEY: consumer}
    return verifier.verify(request, lookup_of(consumers), token_secret).reason
