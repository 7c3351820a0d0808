"""The shapes of the gateway's answers, as marshmallow schemas.

A client is `common.client_view.ClientSchema`, the schema the code dumps every
client through (and events use too); the other answers (a created or edited
client, a page, an operation, an accepted command, health, a problem) are
declared here. The OpenAPI document is generated from these classes, operations
are dumped through `OperationSchema`, and the end-to-end tests check every
answer against the document, so the published shape and the real one cannot
drift apart.
"""

from __future__ import annotations

from marshmallow import INCLUDE, Schema, fields, validate

from api.verify.client_authentication import AuthenticationReason
from api.verify.oauth1_signatures import Reason as OAuth1Reason
from api.verify.presented_credentials import PresentedMethod
from api.verify.profile import PROFILE_FIELDS
from api.verify.secret import Reason
from common.client_view import ClientSchema
from common.clients import ClientType, Status
from common.commands import COMMAND_TYPES
from common.outcomes import ErrorCode, OperationStatus

_SHOWN_ONCE = "The generated secret: shown in this answer only, never again."


class ChangedClientSchema(ClientSchema):
    """A client as the answer to a create or an edit shows it."""

    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "Accepted but discouraged settings (RFC 9700)."})
    secret = fields.String(metadata={"description": _SHOWN_ONCE})


class RotatedClientSchema(ClientSchema):
    """A client as the answer to a secret rotation shows it."""

    secret = fields.String(metadata={"description": _SHOWN_ONCE})


class OperationErrorSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf([c.value for c in ErrorCode]))
    message = fields.String(required=True)
    field_errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                               data_key="fields", attribute="fields")


class OperationSchema(Schema):
    """The record of one command the gateway accepted."""

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(list(COMMAND_TYPES)))
    status = fields.String(required=True,
                           validate=validate.OneOf([s.value for s in OperationStatus]))
    client_key = fields.String(required=True, allow_none=True)
    error = fields.Nested(OperationErrorSchema, required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    updated_at = fields.AwareDateTime(required=True)


class AcceptedSchema(Schema):
    """A command queued but not finished within the wait: its operation tells the outcome."""

    operation = fields.Nested(OperationSchema, required=True)
    secret = fields.String(metadata={"description": _SHOWN_ONCE})


class ClientPageSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "Pass as `cursor` for the next page; null on the last page."})
    total = fields.Integer(required=True, validate=validate.Range(min=0), metadata={
        "description": "Clients matching the filters, on every page."})


class HealthSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ok"]))


class ReadinessSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["ready", "not ready"]))
    checks = fields.Dict(keys=fields.String(),
                         values=fields.String(validate=validate.OneOf(["ok", "unavailable"])),
                         required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details, with this service's extension members."""

    class Meta:
        unknown = INCLUDE  # RFC 9457 allows further extension members

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True, validate=validate.Range(min=400, max=599))
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), metadata={
        "description": "Field name -> messages, for a request that is not valid."})
    missing_permission = fields.String(metadata={
        "description": "The permission the token lacks (403)."})
    operation_id = fields.String(metadata={
        "description": "The operation of a command that failed or whose outcome is unknown."})


class VerdictSchema(Schema):
    """The answer of a credential check; the client's facts only to who holds its secret."""

    valid = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf([r.value for r in Reason]),
                           metadata={"description": "invalid_client: unknown key or wrong "
                                     "secret, never told apart."})
    status = fields.String(required=True, allow_none=True,
                           validate=validate.OneOf([s.value for s in Status]))
    type = fields.String(required=True, allow_none=True,
                         validate=validate.OneOf([t.value for t in ClientType]))
    grant_types = fields.List(fields.String(), required=True, allow_none=True)
    response_types = fields.List(fields.String(), required=True, allow_none=True)
    redirect_uris = fields.List(fields.String(), required=True, allow_none=True)


class ClientProfileSchema(ClientSchema):
    """What an authorization endpoint and a consent screen need of a client; nothing of
    its secret."""

    client_id = fields.String(required=True, metadata={
        "description": "The client key again, by the name RFC 6749 gives it."})

    class Meta:
        exclude = tuple(name for name in ClientSchema._declared_fields
                        if name not in PROFILE_FIELDS)


class ClientAuthenticationSchema(Schema):
    """The verdict on a token request's client credentials, with the client's profile."""

    valid = fields.Boolean(required=True)
    reason = fields.String(
        required=True, validate=validate.OneOf([r.value for r in AuthenticationReason]),
        metadata={"description": "invalid_client: unknown client, wrong secret, no "
                  "credentials or credentials sent two ways, never told apart; wrong_method: "
                  "the right credentials by a method the client is not registered for (an "
                  "assertion: a client not registered for private_key_jwt). private_key_jwt "
                  "(RFC 7523): bad_signature, expired, not_yet_valid, lifetime_too_long, "
                  "wrong_audience, replayed_jti, unsupported_algorithm, jwks_unavailable, "
                  "malformed_assertion."})
    method = fields.String(
        required=True, allow_none=True,
        validate=validate.OneOf([m.value for m in PresentedMethod]),
        metadata={"description": "How the request presented its credentials; null if it "
                  "presented none that could be read."})
    client = fields.Nested(ClientProfileSchema, required=True, allow_none=True, metadata={
        "description": "Only when the request proved which client it is: ok, and of a "
                       "secret wrong_method, secret_expired and not_approved; of an "
                       "assertion not_approved."})


class OAuth1VerdictSchema(Schema):
    """The answer of an OAuth 1.0a signature check."""

    valid = fields.Boolean(required=True)
    reason = fields.String(required=True, validate=validate.OneOf([r.value for r in OAuth1Reason]),
                           metadata={"description": "bad_signature also for an unknown key."})
    client_key = fields.String(required=True, allow_none=True, metadata={
        "description": "Only when the signature proved the consumer holds its secret."})
    status = fields.String(required=True, allow_none=True,
                           validate=validate.OneOf([s.value for s in Status]))


class PrincipalSchema(Schema):
    """Who the token belongs to and what it may do."""

    subject = fields.String(required=True)
    permissions = fields.List(fields.String(), required=True, metadata={
        "description": "Every permission the token holds, implied ones included."})


class ChoiceSchema(Schema):
    value = fields.String(required=True)
    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "Why choosing it is discouraged (RFC 9700); empty when it is not."})


class ClientTypeSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf([t.value for t in ClientType]))
    label = fields.String(required=True)
    key_label = fields.String(required=True)
    redirect_uris = fields.Boolean(required=True, metadata={
        "description": "Whether clients of this type have redirect URIs."})
    grant_types = fields.List(fields.Nested(ChoiceSchema), required=True)
    response_types = fields.List(fields.Nested(ChoiceSchema), required=True)
    token_endpoint_auth_methods = fields.List(fields.String(), required=True, metadata={
        "description": "The methods its clients may use; empty for OAuth 1.0a."})
    default_token_endpoint_auth_method = fields.String(required=True, allow_none=True)
    metadata_fields = fields.List(fields.String(), required=True, metadata={
        "description": "The RFC 7591 metadata its clients may be given."})
    required_scope = fields.List(fields.String(), required=True, metadata={
        "description": "Scope tokens every client of this type has (openid for OIDC)."})


class ClientTypesSchema(Schema):
    """The client types and the rules a form needs before it sends anything."""

    types = fields.List(fields.Nested(ClientTypeSchema), required=True)
    limits = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


# Built from the enums, so a new status or type is counted and documented at once.
StatusCountsSchema = Schema.from_dict(
    {status.value: fields.Integer(required=True) for status in Status},
    name="StatusCountsSchema")
TypeCountsSchema = Schema.from_dict(
    {kind.value: fields.Nested(StatusCountsSchema, required=True) for kind in ClientType},
    name="TypeCountsSchema")


class PendingApprovalsSchema(Schema):
    count = fields.Integer(required=True)
    oldest_since = fields.AwareDateTime(required=True, allow_none=True,
                                        metadata={"description": "When the longest-waiting "
                                                  "client was registered; null when none waits."})
    oldest_age_seconds = fields.Float(required=True, allow_none=True)


class CommandQueueSchema(Schema):
    waiting = fields.Integer(required=True,
                             metadata={"description": "Commands not yet handed to a worker."})
    consumers = fields.Integer(required=True,
                               metadata={"description": "Workers consuming commands."})
    dead_lettered = fields.Integer(required=True, metadata={
        "description": "Commands set aside for an operator (`clientkeys dlq list`)."})


class SecretExpirySchema(Schema):
    expiring_soon = fields.Integer(required=True, metadata={
        "description": "Current secrets of live clients that expire within `within_days`."})
    expired = fields.Integer(required=True, metadata={
        "description": "Current secrets past their expiry: they no longer verify."})
    within_days = fields.Integer(required=True)


class StatsSchema(Schema):
    clients = fields.Nested(TypeCountsSchema, required=True,
                            metadata={"description": "Clients by type and status; removed "
                                      "clients are not counted."})
    total = fields.Integer(required=True)
    pending_approvals = fields.Nested(PendingApprovalsSchema, required=True)
    commands = fields.Nested(CommandQueueSchema, required=True, allow_none=True, metadata={
        "description": "The commands queue, as the broker counts it; null while the broker "
                       "cannot be asked."})
    secrets = fields.Nested(SecretExpirySchema, required=True)
    as_of = fields.AwareDateTime(required=True)
