"""The compiled dump gives what marshmallow's `Schema.dump` gives, or refuses the schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from marshmallow import Schema, fields, post_dump

from common.client_origin import OriginSchema
from common.client_view import ClientSchema
from common.schema_dump import UncompilableSchema, compiled_dump

AT = datetime(2026, 12, 1, 8, 30, 15, 123000, tzinfo=UTC)


class Inner(Schema):
    at = fields.AwareDateTime(allow_none=True)
    label = fields.String()


class EveryKind(Schema):
    text = fields.String(allow_none=True)
    number = fields.Integer(allow_none=True)
    flag = fields.Boolean(allow_none=True)
    when = fields.DateTime(allow_none=True)
    aware = fields.AwareDateTime(allow_none=True)
    rfc = fields.DateTime(format="rfc", allow_none=True)
    dated = fields.DateTime(format="%Y/%m/%d", allow_none=True)
    words = fields.List(fields.String(allow_none=True), allow_none=True)
    inner = fields.Nested(Inner, allow_none=True)
    inners = fields.List(fields.Nested(Inner), allow_none=True)
    many = fields.Nested(Inner, many=True, allow_none=True)
    mapping = fields.Dict(allow_none=True)
    raw = fields.Raw(allow_none=True)
    email = fields.Email(allow_none=True)


EVERY_KIND: list[dict[str, Any]] = [
    {},
    dict.fromkeys(EveryKind().fields),
    {"text": "héllo", "number": 7, "flag": True, "when": AT, "aware": AT, "rfc": AT,
     "dated": AT, "words": ["a", None, "b"], "inner": {"at": AT, "label": "x", "extra": 1},
     "inners": [{"at": None}, {"label": "y"}], "many": [{"at": AT}],
     "mapping": {"keys": [{"kty": "RSA"}]}, "raw": {"any": [1, 2]}, "email": "a@example.com",
     "not_a_field": "left out"},
    {"text": b"bytes", "number": 7.9, "flag": 0, "words": [], "inners": [], "mapping": {},
     "when": AT.astimezone(timezone(timedelta(hours=-5))), "number_too": 1},
    {"number": True, "text": 12, "flag": "yes"},
]


@pytest.mark.parametrize("obj", EVERY_KIND)
def test_every_kind_of_field_dumps_as_marshmallow_dumps_it(obj: dict[str, Any]) -> None:
    assert compiled_dump(EveryKind())(obj) == EveryKind().dump(obj)


def _client(**changes: Any) -> dict[str, Any]:
    client: dict[str, Any] = {
        "key": "k", "type": "oidc", "name": "Portal", "status": "approved",
        "redirect_uris": ["https://portal.example.com/cb"],
        "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
        "created_at": AT, "updated_at": AT, "status_changed_at": AT, "version": 3,
        "secret_rotated_at": None, "previous_secrets": [
            {"expires_at": AT, "issued_at": None, "last_used_at": AT}],
        "token_endpoint_auth_method": "private_key_jwt", "scope": "openid profile",
        "require_pkce": True, "post_logout_redirect_uris": [], "client_uri": None,
        "logo_uri": None, "policy_uri": None, "tos_uri": None, "contacts": ["ops@example.com"],
        "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]}, "jwks_uri": None,
        "client_secret_issued_at": None, "client_secret_expires_at": None,
        "client_secret_last_used_at": None,
        "origin": {"kind": "registration", "token_id": "t1", "label": "CI"},
        "secret": {"never": "shown"}, "_id": "internal"}
    client.update(changes)
    return {name: value for name, value in client.items() if value is not ...}


@pytest.mark.parametrize("client", [
    _client(),
    _client(jwks=None, token_endpoint_auth_method=None, scope=None, require_pkce=None,
            origin={"kind": "admin"}, previous_secrets=[]),
    _client(client_secret_last_used_at=..., jwks=..., jwks_uri=..., origin=...),
])
def test_the_client_view_is_dumped_as_marshmallow_dumps_it(client: dict[str, Any]) -> None:
    for schema in (ClientSchema(), ClientSchema(exclude=("client_secret_last_used_at",)),
                   OriginSchema()):
        assert compiled_dump(schema)(client) == schema.dump(client)


class WithHook(Schema):
    a = fields.String()

    @post_dump
    def upper(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        return {k: v.upper() for k, v in data.items()}


class Method(Schema):
    a = fields.Method("shown")

    def shown(self, obj: Any) -> str:
        return "x"


@pytest.mark.parametrize("schema", [
    WithHook(),
    Method(),
    Schema.from_dict({"a": fields.String(data_key="b")})(),
    Schema.from_dict({"a": fields.String(attribute="b")})(),
    Schema.from_dict({"a": fields.String(dump_default="x")})(),
    Schema.from_dict({"items": fields.String()})(),
    Schema.from_dict({"a": fields.Float(as_string=True)})(),
    Schema.from_dict({"a": fields.Decimal()})(),
    Schema.from_dict({"a": fields.Dict(keys=fields.String())})(),
    Schema.from_dict({"a": fields.List(fields.UUID())})(),
])
def test_what_it_does_not_reproduce_is_refused_when_compiled(schema: Schema) -> None:
    with pytest.raises(UncompilableSchema):
        compiled_dump(schema)
