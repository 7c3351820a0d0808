"""Where a client came from: an administrator, or a self-registration.

Every client carries `origin`: `{"kind": "admin"}` for one made through the
management API, `{"kind": "registration", "token_id", "label"}` for one that
registered itself (RFC 7591, or an OAuth 1.0a consumer-key request) with an
initial access token (`token_id` and `label` null for open registration).
Clients stored before the origin was kept were all made by an administrator:
`stored_origin` is the one place that says so, as `stored_metadata` does for the
metadata.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from marshmallow import Schema, fields, validate


class OriginKind(StrEnum):
    ADMIN = "admin"
    REGISTRATION = "registration"


ADMIN_ORIGIN: Final[dict[str, Any]] = {"kind": OriginKind.ADMIN.value}
# The actor of what a self-registration does, in commands, events and the audit trail.
REGISTRATION_ACTOR_PREFIX: Final = "registration:"
OPEN_REGISTRATION_ID: Final = "open"


class OriginSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf([k.value for k in OriginKind]),
                         metadata={"description": "admin: made through the management API; "
                                   "registration: registered itself."})
    token_id = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "registration only: the initial access token used; null for open "
                       "registration."})
    label = fields.String(allow_none=True, validate=validate.Length(max=200), metadata={
        "description": "registration only: that token's label."})


def registration_origin(token_id: str | None, label: str | None) -> dict[str, Any]:
    return {"kind": OriginKind.REGISTRATION.value, "token_id": token_id, "label": label}


def registration_actor(token_id: str | None) -> str:
    """`registration:<token id>` (or `registration:open`): who a self-registration is."""
    return REGISTRATION_ACTOR_PREFIX + (token_id or OPEN_REGISTRATION_ID)


def stored_origin(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored client's origin; a client stored before it was kept was an administrator's."""
    origin = document.get("origin")
    return dict(origin) if isinstance(origin, Mapping) else dict(ADMIN_ORIGIN)


def is_self_registered(document: Mapping[str, Any]) -> bool:
    return bool(stored_origin(document)["kind"] == OriginKind.REGISTRATION.value)
