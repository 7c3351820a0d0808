"""The rules of an OAuth client, in one place.

The gateway runs them to answer a bad request with a 400 at once; the worker
runs them again against the state it is about to write, because that state is
the one that counts. Both call the same functions, so the two can never drift.

Sources: the product pages (client types, grant and response types, the
re-typed secret); where they are silent, RFC 6749, RFC 7591 (client metadata),
RFC 8252 (native-app redirect URIs) and RFC 9700 (OAuth 2.0 security BCP).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

# Re-exported: the rules of a client include those of its redirect URIs.
from common.redirect_uris import REDIRECT_URI_MAX as REDIRECT_URI_MAX
from common.redirect_uris import redirect_uri_problem as redirect_uri_problem
from common.visible_text import (
    has_bidi_controls,
    has_control_characters,
    has_separators,
    is_invisible,
)


class ClientType(StrEnum):
    OAUTH1 = "oauth1"
    OAUTH2 = "oauth2"
    OIDC = "oidc"


class Status(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DISAPPROVED = "disapproved"


DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
GRANT_TYPES: tuple[str, ...] = ("authorization_code", "password", "refresh_token", DEVICE_CODE)
# The product page misprints the device grant; we name the right spelling back.
MISSPELLED_GRANT_TYPES = {"urb:ietf:params:oauth:grant-type:device_code": DEVICE_CODE}
# Grants after which an authorization server may issue a refresh token.
REFRESH_ISSUING_GRANTS = frozenset({"authorization_code", "password", DEVICE_CODE})

RESPONSE_TYPES: Mapping[ClientType, tuple[str, ...]] = {
    ClientType.OAUTH1: (),
    ClientType.OAUTH2: ("code", "token"),
    ClientType.OIDC: (
        "code",
        "code id_token",
        "code id_token token",
        "code token",
        "id_token",
        "id_token token",
    ),
}
# Canonical order of the words in a response type (OAuth 2.0 Multiple Response
# Type Encoding Practices: the order does not matter, so we store one form).
_RESPONSE_WORD_ORDER = ("code", "id_token", "token")

NAME_MAX = 200
SECRET_MIN = 12
SECRET_MAX = 512
REDIRECT_URIS_MAX = 50

WARN_PASSWORD = (
    "The password grant exposes the resource owner's credentials to the client; "
    "RFC 9700 (section 2.4) says it must not be used."
)
WARN_IMPLICIT = (
    "Response types without 'code' (the implicit flow) return tokens in the URL; "
    "RFC 9700 (section 2.1.2) says clients should not use them."
)

FieldErrors = dict[str, list[str]]


class RuleViolation(Exception):
    """A client that breaks the rules: field name -> messages."""

    def __init__(self, errors: FieldErrors) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class ClientFields:
    """The editable part of a client, as the rules see it."""

    type: ClientType
    name: str
    redirect_uris: list[str] = field(default_factory=list)
    grant_types: list[str] = field(default_factory=list)
    response_types: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, client: Mapping[str, Any]) -> ClientFields:
        """The fields of a stored client."""
        return cls(ClientType(client["type"]), client["name"],
                   list(client.get("redirect_uris", [])), list(client.get("grant_types", [])),
                   list(client.get("response_types", [])))

    def edited(self, changes: Mapping[str, Any]) -> ClientFields:
        """These fields with an edit applied; keys absent or None are kept as they are."""
        return replace(self, **{name: changes[name] for name in EDITABLE_FIELDS
                                if changes.get(name) is not None})


# What an edit may change besides the secret (`type` and the key are immutable).
EDITABLE_FIELDS = ("name", "redirect_uris", "grant_types", "response_types")


def _add(errors: FieldErrors, name: str, message: str) -> None:
    errors.setdefault(name, []).append(message)


def _name_problem(name: str) -> str | None:
    """Why a trimmed name cannot be shown as one, or None when it can."""
    if has_control_characters(name):
        return "Must not contain control characters."
    if has_bidi_controls(name):
        return ("Must not contain bidirectional control characters (U+202A-U+202E, "
                "U+2066-U+2069): they change how the name is displayed.")
    if has_separators(name):
        return "Must not contain line or paragraph separators (U+2028, U+2029)."
    if is_invisible(name):
        return "Must contain a visible character, not only invisible or format characters."
    return None


def normalize_name(value: str) -> str:
    """Trim a client name and check it; raises RuleViolation on the `name` field."""
    name = value.strip()
    if not name:
        raise RuleViolation({"name": ["Must not be empty."]})
    if len(name) > NAME_MAX:
        raise RuleViolation({"name": [f"Must be at most {NAME_MAX} characters."]})
    problem = _name_problem(name)
    if problem is not None:
        raise RuleViolation({"name": [problem]})
    return name


def check_secret_pair(secret: str | None, confirmation: str | None) -> FieldErrors:
    """The product's "re-type the secret": both given, equal and of a sane length.

    Messages never repeat the secret itself.
    """
    errors: FieldErrors = {}
    if secret is None:
        _add(errors, "secret", "Missing data for required field.")
    elif not SECRET_MIN <= len(secret) <= SECRET_MAX:
        _add(errors, "secret", f"Must be between {SECRET_MIN} and {SECRET_MAX} characters.")
    if confirmation is None:
        _add(errors, "secret_confirmation", "Missing data for required field.")
    elif secret is not None and confirmation != secret:
        _add(errors, "secret_confirmation", "Does not match the secret.")
    return errors


def canonical_response_type(value: str) -> str | None:
    """`id_token code` -> `code id_token`; None when a word is unknown or repeated."""
    words = value.split()
    if not words or len(set(words)) != len(words):
        return None
    if any(word not in _RESPONSE_WORD_ORDER for word in words):
        return None
    return " ".join(sorted(words, key=_RESPONSE_WORD_ORDER.index))


def _dedupe(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _check_redirect_uris(uris: Sequence[str], errors: FieldErrors) -> list[str]:
    unique = _dedupe(uris)
    if len(unique) > REDIRECT_URIS_MAX:
        _add(errors, "redirect_uris", f"At most {REDIRECT_URIS_MAX} redirect URIs.")
    for uri in unique:
        problem = redirect_uri_problem(uri)
        if problem:
            # Numbered as the caller sent them (from 1), so a form can point at the entry.
            _add(errors, "redirect_uris",
                 f"Entry {uris.index(uri) + 1} ({uri[:100]!r}): {problem}")
    return unique


def _check_grant_types(values: Sequence[str], errors: FieldErrors) -> list[str]:
    grants = _dedupe(values)
    if not grants:
        _add(errors, "grant_types", "Choose at least one grant type.")
    for grant in grants:
        if grant in MISSPELLED_GRANT_TYPES:
            _add(
                errors,
                "grant_types",
                f"'{grant}' is a misspelling; the device grant is "
                f"'{MISSPELLED_GRANT_TYPES[grant]}'.",
            )
        elif grant not in GRANT_TYPES:
            _add(
                errors,
                "grant_types",
                f"'{grant[:100]}' is not supported; choose from {', '.join(GRANT_TYPES)}.",
            )
    return grants


def _check_response_types(
    client_type: ClientType, values: Sequence[str], errors: FieldErrors
) -> list[str]:
    allowed = RESPONSE_TYPES[client_type]
    result: list[str] = []
    for value in values:
        canonical = canonical_response_type(value)
        if canonical is None or canonical not in allowed:
            _add(
                errors,
                "response_types",
                f"'{value[:100]}' is not a response type of {client_type.value} clients; "
                f"choose from {', '.join(repr(a) for a in allowed)}.",
            )
        elif canonical not in result:
            result.append(canonical)
    return result


def check_client(fields: ClientFields) -> tuple[ClientFields, list[str]]:
    """Validate a whole client and return its canonical form and warnings.

    Raises RuleViolation naming every field that is wrong.
    """
    errors: FieldErrors = {}
    try:
        name = normalize_name(fields.name)
    except RuleViolation as exc:
        errors.update(exc.errors)
        name = fields.name
    if fields.type is ClientType.OAUTH1:
        for attr in ("redirect_uris", "grant_types", "response_types"):
            if getattr(fields, attr):
                _add(errors, attr, "OAuth 1.0a consumers have no " + attr.replace("_", " ") + ".")
        if errors:
            raise RuleViolation(errors)
        return ClientFields(ClientType.OAUTH1, name), []

    uris = _check_redirect_uris(fields.redirect_uris, errors)
    grants = _check_grant_types(fields.grant_types, errors)
    responses = _check_response_types(fields.type, fields.response_types, errors)
    if "grant_types" not in errors and "response_types" not in errors:
        _check_consistency(uris, grants, responses, errors)
    if errors:
        raise RuleViolation(errors)
    return ClientFields(fields.type, name, uris, grants, responses), warnings_for(grants, responses)


def _check_consistency(
    uris: list[str], grants: list[str], responses: list[str], errors: FieldErrors
) -> None:
    with_code = [r for r in responses if "code" in r.split()]
    if "authorization_code" in grants and not with_code:
        _add(
            errors,
            "response_types",
            "The authorization_code grant needs a response type that contains 'code'.",
        )
    if with_code and "authorization_code" not in grants:
        _add(
            errors,
            "grant_types",
            "Response types that contain 'code' need the authorization_code grant.",
        )
    if responses and not uris:
        _add(errors, "redirect_uris", "Response types need at least one redirect URI.")
    if "refresh_token" in grants and not REFRESH_ISSUING_GRANTS.intersection(grants):
        _add(
            errors,
            "grant_types",
            "refresh_token needs a grant that issues refresh tokens "
            "(authorization_code, password or the device grant).",
        )


def warnings_for(grants: Sequence[str], responses: Sequence[str]) -> list[str]:
    """What RFC 9700 discourages but this service still accepts."""
    warnings = []
    if "password" in grants:
        warnings.append(WARN_PASSWORD)
    if any("code" not in r.split() for r in responses):
        warnings.append(WARN_IMPLICIT)
    return warnings


# Status transitions: action -> (statuses it may start from, status it leads to).
TRANSITIONS: Mapping[str, tuple[frozenset[Status], Status]] = {
    "approve": (frozenset({Status.PENDING, Status.DISAPPROVED}), Status.APPROVED),
    "disapprove": (frozenset({Status.PENDING, Status.APPROVED}), Status.DISAPPROVED),
}


def next_status(action: str, current: Status) -> Status | None:
    """The status `action` leads to from `current`; None when nothing changes."""
    sources, target = TRANSITIONS[action]
    if current == target:
        return None
    if current not in sources:  # pragma: no cover - every status is covered today
        raise RuleViolation({"status": [f"Cannot {action} a client that is {current.value}."]})
    return target
