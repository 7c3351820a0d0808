"""The rules of a private_key_jwt client's public keys (RFC 7517 JWK Set, RFC 7523).

A client that authenticates with signed assertions registers either an inline
`jwks` or a `jwks_uri` the gateways fetch; both are read by `public_keys`, so a
key set registered and a key set fetched obey the same rules. Only public keys
of the kinds RFC 9700 and OpenID Connect expect are taken: RSA of at least 2048
bits, EC P-256 and P-384, Ed25519. A private member or a symmetric key is
refused naming the key, never echoing its value. The stored set keeps only each
key's public members (kty, kid, alg, use and the key's own numbers), so what
every gateway holds in memory for 100k clients stays small. A key marked for
encryption (`use: enc`, which a client's published set often carries beside its
signing keys) is left out of the stored set rather than refused, unless it holds
private material; a set must keep at least one key for signatures.

PyJWT parses each key (with cryptography), so a key that does not load is
refused here, at registration, not at the first token request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from jwt import PyJWK
from jwt.exceptions import PyJWTError

JWKS_KEYS_MAX: Final = 10
RSA_BITS_MIN: Final = 2048
KID_MAX: Final = 200
# The algorithms an assertion may use, by the key type each needs (none and HS* never).
ALGORITHMS: Final[Mapping[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None), "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "EdDSA": ("OKP", "Ed25519"),
}
_CURVES: Final = {"EC": ("P-256", "P-384"), "OKP": ("Ed25519",)}
# RFC 7518 section 6: the members only a private or symmetric key has.
PRIVATE_MEMBERS: Final = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
_PUBLIC_MEMBERS: Final = {"RSA": ("n", "e"), "EC": ("crv", "x", "y"), "OKP": ("crv", "x")}
_DESCRIPTIVE: Final = ("kty", "kid", "alg", "use")


class JwkSetError(ValueError):
    """Why a JWK Set cannot be a client's: one message per wrong key, naming it."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class PublicKey:
    """One usable key: its kid, its type (and curve) and the key PyJWT verifies with."""

    kid: str
    kty: str
    crv: str | None
    alg: str | None  # the one algorithm the key is for, when the JWK says
    jwk: PyJWK

    def fits(self, algorithm: str) -> bool:
        """Whether an assertion signed with `algorithm` can be checked with this key."""
        kty, crv = ALGORITHMS.get(algorithm, ("", None))
        return (kty == self.kty and (crv is None or crv == self.crv)
                and self.alg in (None, algorithm))


def _name(key: Any, number: int) -> str:
    kid = key.get("kid") if isinstance(key, dict) else None
    if isinstance(kid, str) and kid:
        return f"Key {number} (kid {kid[:60]!r})"
    return f"Key {number}"


def _for_encryption(key: Any) -> bool:
    """A key the set says is for encryption: never used to check a signature."""
    return isinstance(key, dict) and key.get("use") == "enc"


def _private_problem(key: dict[str, Any]) -> str | None:
    private = [member for member in PRIVATE_MEMBERS if member in key]
    if key.get("kty") == "oct":
        return "is a symmetric key (kty oct): register public keys only."
    if private:
        return (f"holds private key material ({', '.join(private)}): register the public key "
                "only, and keep the private key with the client.")
    return None


def _key_problem(key: Any) -> str | None:
    """Why one JWK cannot be a client's public key, or None."""
    if not isinstance(key, dict):
        return "is not a JSON object."
    problem = _private_problem(key)
    if problem is not None:
        return problem
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > KID_MAX:
        return f"needs a kid: a non-empty string of at most {KID_MAX} characters."
    kty = key.get("kty")
    if not isinstance(kty, str) or kty not in _PUBLIC_MEMBERS:
        return "must be RSA, EC (P-256, P-384) or OKP (Ed25519)."
    if kty in _CURVES and key.get("crv") not in _CURVES[str(kty)]:
        return f"{kty} keys must use curve {' or '.join(_CURVES[str(kty)])}."
    alg = key.get("alg")
    if alg is not None and (not isinstance(alg, str) or alg not in ALGORITHMS
                            or ALGORITHMS[alg][0] != kty
                            or ALGORITHMS[alg][1] not in (None, key.get("crv"))):
        return f"has alg {str(alg)[:20]!r}, which is not one of {', '.join(ALGORITHMS)} for " \
               f"its key type."
    if key.get("use") not in (None, "sig"):  # "enc" keys are set aside before
        return "has a use other than sig or enc."
    return None



class _TooSmall(ValueError):
    pass


def _loaded(key: dict[str, Any]) -> PyJWK:
    jwk = PyJWK(key)
    size = getattr(jwk.key, "key_size", None)
    if key["kty"] == "RSA" and (size is None or size < RSA_BITS_MIN):
        raise _TooSmall(f"is an RSA key of {size} bits; at least {RSA_BITS_MIN} are needed.")
    return jwk


def compact_jwks(value: Any) -> dict[str, Any]:
    """The set with each key's public members only; JwkSetError naming each wrong key."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JwkSetError(['Must be a JWK Set: an object with a "keys" list (RFC 7517).'])
    keys: list[Any] = value["keys"]
    if not 1 <= len(keys) <= JWKS_KEYS_MAX:
        raise JwkSetError([f"Must hold between 1 and {JWKS_KEYS_MAX} keys."])
    problems: list[str] = []
    kept: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, key in enumerate(keys, start=1):
        if _for_encryption(key):
            problem = _private_problem(key)
            if problem is not None:
                problems.append(f"{_name(key, number)} {problem}")
            continue
        problem = _key_problem(key)
        if problem is None and key["kid"] in seen:
            problem = "has the kid of an earlier key: each kid must be unique."
        if problem is None:
            members = (*_DESCRIPTIVE, *_PUBLIC_MEMBERS[key["kty"]])
            compact = {name: key[name] for name in members if name in key}
            try:
                _loaded(compact)
            except _TooSmall as exc:
                problem = str(exc)
            except (PyJWTError, ValueError, TypeError):
                problem = "does not load as a public key (check its members' base64url values)."
            seen.add(key["kid"])
            kept.append(compact)
        if problem is not None:
            problems.append(f"{_name(key, number)} {problem}")
    if not problems and not kept:
        problems.append("Holds no key for signatures: every key is marked use enc.")
    if problems:
        raise JwkSetError(problems)
    return {"keys": kept}


def public_keys(jwks: Mapping[str, Any]) -> list[PublicKey]:
    """The keys of a set `compact_jwks` accepted (a fetched set is read by it first)."""
    return [PublicKey(key["kid"], key["kty"], key.get("crv"), key.get("alg"), _loaded(key))
            for key in jwks["keys"]]
