"""The public face of a client: what responses and events show of it.

One schema serves both, so an HTTP reader and an event subscriber see the same
fields in the same form. It has no secret field at all: a stored document
passed through it cannot leak one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import Schema, fields, validate

from common.clients import ClientType, Status


class ClientSchema(Schema):
    key = fields.String(required=True, metadata={"description": "Unique, immutable client key."})
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in ClientType]))
    name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([s.value for s in Status]))
    redirect_uris = fields.List(fields.String(), required=True)
    grant_types = fields.List(fields.String(), required=True)
    response_types = fields.List(fields.String(), required=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)
    status_changed_at = fields.AwareDateTime(required=True)
    version = fields.Integer(required=True)


_CLIENT = ClientSchema()


def public_client(document: Mapping[str, Any]) -> dict[str, Any]:
    """A stored client document as JSON-ready data, without secret or internals."""
    data: dict[str, Any] = _CLIENT.dump(document)
    return data
