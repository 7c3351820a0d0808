"""Who is calling, from a JWT bearer token of the platform's identity provider.

PyJWT checks the signature and the registered claims; this module decides which
key and which algorithm a token may use, and turns the verified claims into a
`Principal`. The algorithms follow from what is configured: RS256/ES256 for the
provider's JWKS or a PEM public key, HS256 only with a shared-secret file, never
`none`. Each algorithm has its own key, so a token cannot pick an algorithm that
turns a public key into an HMAC secret.

`exp`, `iss` and `aud` are required and checked, whatever the key source: a
provider's keys (or a shared secret) sign tokens for every service of the
platform, so without them a token meant for another service would open this
one. A token may live at most `JWT_MAX_LIFETIME_S` (a stolen long-lived token
is a standing key), and a JOSE `typ`, when present, must say it is a JWT or an
access token (RFC 9068), so an ID token or another signed object is refused.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth.jwks import JwksCache
from api.auth.principals import PERMISSIONS, Principal
from common.settings import PREFIX, Settings, SettingsError

log = logging.getLogger(__name__)

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey
MIN_HS256_SECRET_BYTES = 32
MIN_RSA_BITS = 2048


# JOSE `typ` values (case-insensitive, RFC 7515 4.1.9: `application/` may be left out).
TOKEN_TYPES = frozenset({"jwt", "at+jwt"})


@dataclass(frozen=True)
class ClaimRules:
    issuer: str
    audience: str
    permissions_claim: str = "permissions"
    subject_claim: str = "sub"
    leeway_s: float = 30.0
    max_lifetime_s: int = 86400


def _token_type_allowed(typ: object) -> bool:
    if typ is None:
        return True
    if not isinstance(typ, str):
        return False
    typ = typ.lower()
    return typ.removeprefix("application/") in TOKEN_TYPES


def permissions_in(value: object) -> frozenset[str]:
    """The known permissions in a claim: a JSON list, or a space-separated string (`scope`)."""
    if isinstance(value, str):
        names: list[object] = list(value.split())
    elif isinstance(value, list):
        names = value
    else:
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str) and name in PERMISSIONS)


def jwt_identity(issuer: object, subject: str) -> str:
    """Issuer and subject: a subject is unique only within its issuer (OIDC Core 2).

    JSON, so that no issuer and subject pair reads as another.
    """
    return "jwt:" + json.dumps([issuer if isinstance(issuer, str) else None, subject])


def public_key_algorithm(key: PublicKey) -> str:
    return "RS256" if isinstance(key, rsa.RSAPublicKey) else "ES256"


class JwtVerifier:
    def __init__(self, rules: ClaimRules, *, public_key: PublicKey | None = None,
                 hs256_secret: bytes | None = None, jwks: JwksCache | None = None) -> None:
        self._rules = rules
        self._public_key = public_key
        self._public_key_algorithm = public_key_algorithm(public_key) if public_key else None
        self._hs256_secret = hs256_secret
        self._jwks = jwks
        algorithms: set[str] = set()
        if jwks is not None:
            algorithms |= {"RS256", "ES256"}
        if self._public_key_algorithm is not None:
            algorithms.add(self._public_key_algorithm)
        if hs256_secret is not None:
            algorithms.add("HS256")
        self.algorithms = frozenset(algorithms)

    async def start(self) -> None:
        if self._jwks is not None:
            await self._jwks.start()

    async def close(self) -> None:
        if self._jwks is not None:
            await self._jwks.close()

    async def authenticate(self, token: str) -> Principal | None:
        """The principal of a valid token; None (and the reason logged) otherwise."""
        try:
            claims = await self._verified_claims(token)
        except jwt.PyJWTError as exc:
            log.info("bearer JWT refused: %s: %s", type(exc).__name__, str(exc)[:200])
            return None
        subject = claims[self._rules.subject_claim]
        return Principal(subject, permissions_in(claims.get(self._rules.permissions_claim)),
                         identity=jwt_identity(claims.get("iss"), subject))

    async def _verified_claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self.algorithms:
            # The header's values are the caller's: the log line names none of them.
            raise jwt.InvalidAlgorithmError("the token's algorithm is not allowed")
        if not _token_type_allowed(header.get("typ")):
            raise jwt.InvalidTokenError("the token's typ is not JWT or at+jwt")
        rules = self._rules
        claims = jwt.decode(
            token, await self._key(algorithm, header.get("kid")), algorithms=[algorithm],
            audience=rules.audience, issuer=rules.issuer, leeway=rules.leeway_s,
            options={"require": ["exp", "iss", "aud", rules.subject_claim],
                     "enforce_minimum_key_length": True})
        subject = claims[rules.subject_claim]
        if not isinstance(subject, str) or not subject.strip():
            raise jwt.InvalidTokenError(f"claim {rules.subject_claim!r} is not a subject")
        self._check_lifetime(claims)
        return claims

    def _check_lifetime(self, claims: dict[str, Any]) -> None:
        # PyJWT has checked that exp (and iat, when present) are numbers.
        issued = claims.get("iat")
        start = issued if isinstance(issued, int | float) else time.time()
        if claims["exp"] - start > self._rules.max_lifetime_s:
            raise jwt.InvalidTokenError(
                f"the token lives longer than {self._rules.max_lifetime_s} s")

    async def _key(self, algorithm: str, kid: object) -> jwt.PyJWK | PublicKey | bytes:
        if algorithm == "HS256" and self._hs256_secret is not None:
            return self._hs256_secret
        if kid is not None and not isinstance(kid, str):
            raise jwt.InvalidTokenError("kid is not a string")
        if kid is not None and self._jwks is not None:
            found = await self._jwks.key(kid, algorithm)
            if found is not None:
                return found
        if self._public_key is not None and algorithm == self._public_key_algorithm:
            return self._public_key
        raise jwt.InvalidTokenError("no key for this token's kid" if kid is not None
                                    else "the token names no key (kid)")


def verifier_from_settings(settings: Settings) -> JwtVerifier | None:
    """The verifier the settings describe; None when no JWT source is configured."""
    if not settings.jwt_configured:
        return None
    missing = [f"{PREFIX}{name}" for name, value in
               (("JWT_ISSUER", settings.jwt_issuer), ("JWT_AUDIENCE", settings.jwt_audience))
               if not value]
    if missing or settings.jwt_issuer is None or settings.jwt_audience is None:
        raise SettingsError(
            f"{' and '.join(missing)} must be set with a JWT source ({PREFIX}JWT_JWKS_URL, "
            "JWT_PUBLIC_KEY_FILE or JWT_HS256_SECRET_FILE): the identity provider signs "
            "tokens for other services too")
    jwks: JwksCache | None = None
    if settings.jwt_jwks_url:
        jwks = JwksCache(settings.jwt_jwks_url, ttl_s=settings.jwks_cache_ttl_s,
                         min_refresh_s=settings.jwks_min_refresh_s)
    rules = ClaimRules(issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                       permissions_claim=settings.jwt_permissions_claim,
                       subject_claim=settings.jwt_subject_claim, leeway_s=settings.jwt_leeway_s,
                       max_lifetime_s=settings.jwt_max_lifetime_s)
    return JwtVerifier(
        rules, jwks=jwks,
        public_key=(read_public_key(settings.jwt_public_key_file)
                    if settings.jwt_public_key_file else None),
        hs256_secret=(read_hs256_secret(settings.jwt_hs256_secret_file)
                      if settings.jwt_hs256_secret_file else None))


def _read(path: Path, variable: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SettingsError(f"{PREFIX}{variable}: cannot read {path}: {exc.strerror}") from None


def read_public_key(path: Path) -> PublicKey:
    variable = "JWT_PUBLIC_KEY_FILE"
    pem = _read(path, variable)
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise SettingsError(f"{PREFIX}{variable}: {path} is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise SettingsError(f"{PREFIX}{variable}: {path} must hold an RSA public key of "
                        f"{MIN_RSA_BITS} bits or more, or a P-256 EC public key")


def read_hs256_secret(path: Path) -> bytes:
    variable = "JWT_HS256_SECRET_FILE"
    secret = _read(path, variable).strip()
    if len(secret) < MIN_HS256_SECRET_BYTES:
        raise SettingsError(f"{PREFIX}{variable}: the secret in {path} is shorter than "
                            f"{MIN_HS256_SECRET_BYTES} bytes")
    try:
        # PyJWT refuses secrets that look like a public key (PEM, SSH, JWK).
        jwt.get_algorithm_by_name("HS256").prepare_key(secret)
    except jwt.InvalidKeyError:
        raise SettingsError(f"{PREFIX}{variable}: {path} holds a public key, not a "
                            "shared secret") from None
    return secret
