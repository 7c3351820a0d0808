"""Every route of the gateway and the permission it needs, in one table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from marshmallow import Schema

from api.auth.principals import CLIENTS_READ, CLIENTS_VERIFY, CONFIGURE_SERVER, SIGNED_IN
from api.docs import asyncapi_view, openapi
from api.docs.registration_schemas import (
    ConsumerKeyRequest,
    ConsumerKeySchema,
    CreatedRegistrationTokenSchema,
    CreateRegistrationTokenRequest,
    OAuthErrorSchema,
    QueuedRegistrationTokenSchema,
    RegisteredClientSchema,
    RegistrationRequest,
    RegistrationTokenListSchema,
    RegistrationUpdateRequest,
)
from api.docs.request_schemas import (
    AuditQuery,
    ClientAuthenticationRequest,
    CreateClientRequest,
    HistoryQuery,
    ListClientsQuery,
    OAuth1VerifyRequest,
    RotateSecretRequest,
    UpdateClientRequest,
    VerifySecretRequest,
)
from api.docs.response_schemas import (
    AcceptedSchema,
    ChangedClientSchema,
    ClientAuthenticationSchema,
    ClientPageSchema,
    ClientProfileSchema,
    ClientTypesSchema,
    HealthSchema,
    OAuth1VerdictSchema,
    OperationSchema,
    PrincipalSchema,
    ReadinessSchema,
    RotatedClientSchema,
    StatsSchema,
    VerdictSchema,
)
from api.docs.route_docs import ETAG, IF_MATCH, LOCATION, RETRY_AFTER, Answer, Refusal
from api.registration import configuration, consumer_keys, register, token_views
from api.views import about, audit, clients, events, page, stats, verify
from api.views.audit import AuditPageSchema
from api.views.idempotency import HEADER as IDEMPOTENCY_KEY
from common.client_view import ClientSchema
from common.health import healthz
from common.metrics import metrics_view

View = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    view: View
    name: str
    permission: str | None  # None: public (health, metrics, API documents, the page only)
    # Documentation (api.docs.openapi); problems every route of its kind can give are added there.
    summary: str = ""
    body: type[Schema] | None = None  # the JSON request body
    query: type[Schema] | None = None  # the query string
    request_headers: tuple[str, ...] = ()  # e.g. If-Match
    answers: tuple[Answer, ...] = ()
    problems: tuple[int, ...] = ()  # further problem statuses of this route
    refusals: tuple[Refusal, ...] = ()  # problems with a reason of this route's own

    @property
    def is_management(self) -> bool:
        """A route that changes clients: each of its answers goes into the audit trail,
        and it takes an Idempotency-Key (api.views.idempotency)."""
        return self.permission == CONFIGURE_SERVER and self.method != "GET"


_CLIENT = Answer(200, "The client.", ClientSchema, (ETAG,))
_CHANGED = Answer(200, "The client, changed.", ChangedClientSchema, (ETAG,))
_QUEUED = Answer(202, "Queued, but not applied within the wait: the operation at `Location` "
                 "tells the outcome.", AcceptedSchema, (LOCATION,))
_PINNED = (IF_MATCH,)  # changes may be pinned to a version
_NOT_MODIFIED = Answer(304, "Not modified since the ETag sent in If-None-Match.")
# Every self-registration endpoint counts requests per caller address (api.registration.access).
_LIMITED = Answer(429, "Too many registration requests from this address: `Retry-After` says "
                  "when to try again.", OAuthErrorSchema, (RETRY_AFTER,))
# Self-registration takes an Idempotency-Key (api.registration.idempotent), in its own shape.
_ONCE = (IDEMPOTENCY_KEY,)
_RETRIED = (Answer(409, "A request with this Idempotency-Key is still running, or was "
                   "answered 202.", OAuthErrorSchema, (RETRY_AFTER,)),
            Answer(422, "This Idempotency-Key came with another request.", OAuthErrorSchema))
_NOT_YOURS = Answer(401, "Not this client's registration access token (or no such client).",
                    OAuthErrorSchema)

ROUTES: tuple[Route, ...] = (
    Route("POST", "/v1/clients", clients.create_client, "create_client", CONFIGURE_SERVER,
          summary="Register a client", body=CreateClientRequest, problems=(409,),
          answers=(Answer(201, "Registered; `secret` only if it was generated.",
                          ChangedClientSchema, (ETAG, LOCATION)), _QUEUED)),
    Route("GET", "/v1/clients", clients.list_clients_view, "list_clients", CLIENTS_READ,
          summary="List clients, a page at a time", query=ListClientsQuery,
          answers=(Answer(200, "One page of clients.", ClientPageSchema),)),
    Route("GET", "/v1/clients/{key}", clients.get_client, "get_client", CLIENTS_READ,
          summary="Read a client", answers=(_CLIENT,)),
    Route("PATCH", "/v1/clients/{key}", clients.update_client, "update_client", CONFIGURE_SERVER,
          summary="Edit a client", body=UpdateClientRequest, answers=(_CHANGED, _QUEUED),
          request_headers=_PINNED, problems=(409,)),
    Route("DELETE", "/v1/clients/{key}", clients.remove_client, "remove_client", CONFIGURE_SERVER,
          summary="Remove a client", answers=(Answer(204, "Removed."), _QUEUED),
          request_headers=_PINNED, problems=(409,)),
    Route("POST", "/v1/clients/{key}/approve", clients.approve_client, "approve_client",
          CONFIGURE_SERVER, summary="Approve a client", answers=(_CLIENT, _QUEUED),
          request_headers=_PINNED, problems=(409,)),
    Route("POST", "/v1/clients/{key}/disapprove", clients.disapprove_client, "disapprove_client",
          CONFIGURE_SERVER, summary="Disapprove a client", answers=(_CLIENT, _QUEUED),
          request_headers=_PINNED, problems=(409,)),
    Route("POST", "/v1/clients/{key}/secret/rotate", clients.rotate_secret, "rotate_secret",
          CONFIGURE_SERVER, summary="Replace the secret; the old one stays valid for a grace",
          body=RotateSecretRequest, request_headers=_PINNED, problems=(409,),
          answers=(Answer(200, "The client with its new secret; `secret` only if it was "
                          "generated.", RotatedClientSchema, (ETAG,)), _QUEUED)),
    Route("DELETE", "/v1/clients/{key}/secret/previous", clients.end_secret_grace,
          "end_secret_grace", CONFIGURE_SERVER,
          summary="End the grace of previous secrets now: only the current secret stays valid",
          answers=(Answer(200, "The client, without previous secrets.", ClientSchema, (ETAG,)),
                   _QUEUED),
          request_headers=_PINNED, problems=(409,)),
    Route("GET", "/v1/clients/{key}/history", audit.history_view, "client_history",
          CLIENTS_READ, summary="What was done to a client, newest first", query=HistoryQuery,
          answers=(Answer(200, "One page of audit entries.", AuditPageSchema),)),
    Route("GET", "/v1/audit", audit.audit_view, "audit", CLIENTS_READ,
          summary="The audit trail of every management action, newest first",
          query=AuditQuery,
          answers=(Answer(200, "One page of audit entries.", AuditPageSchema),)),
    Route("POST", "/v1/clients/{key}/verify", verify.verify_client, "verify_client",
          CLIENTS_VERIFY, summary="Check a client's secret (for authorization servers)",
          body=VerifySecretRequest,
          answers=(Answer(200, "The verdict; `valid` only for an approved client and one of "
                          "its secrets.", VerdictSchema),)),
    Route("GET", "/v1/clients/{key}/profile", verify.client_profile_view, "client_profile",
          CLIENTS_VERIFY, summary="A client's profile, for authorization and consent "
          "(for authorization servers; from memory)",
          answers=(Answer(200, "The profile; 404 for an unknown or removed client.",
                          ClientProfileSchema, (ETAG,)),),
          refusals=(Refusal(503, "Or this gateway is still loading clients: Retry-After."),)),
    Route("POST", "/v1/client-authentication", verify.authenticate_client,
          "authenticate_client", CLIENTS_VERIFY,
          summary="Authenticate a client as a token endpoint received it (for "
          "authorization servers; from memory)",
          body=ClientAuthenticationRequest,
          answers=(Answer(200, "The verdict and, once the client is proven, its profile.",
                          ClientAuthenticationSchema),),
          refusals=(Refusal(503, "Or this gateway is still loading clients: Retry-After."),)),
    Route("POST", "/v1/oauth1/verify", verify.verify_oauth1_request, "verify_oauth1",
          CLIENTS_VERIFY, summary="Check an OAuth 1.0a consumer's signed request (RFC 5849)",
          body=OAuth1VerifyRequest,
          answers=(Answer(200, "The verdict; `valid` only for a fresh request signed by an "
                          "approved consumer.", OAuth1VerdictSchema),),
          refusals=(Refusal(503, "Or this gateway's nonce store is full, so a well-signed "
                            "request can be neither accepted nor refused: Retry-After says "
                            "when its oldest nonce leaves the window."),)),
    Route("GET", "/v1/operations/{id}", clients.get_operation_view, "get_operation",
          CLIENTS_READ, summary="Read the outcome of a command",
          answers=(Answer(200, "The operation.", OperationSchema),)),
    Route("GET", "/v1/me", about.whoami, "whoami", SIGNED_IN,
          summary="Who this token belongs to and what it may do",
          answers=(Answer(200, "The token's subject and permissions.", PrincipalSchema),)),
    Route("GET", "/v1/client-types", about.client_types, "client_types", CLIENTS_READ,
          summary="The client types: their grant and response types, warnings and limits",
          answers=(Answer(200, "The client types.", ClientTypesSchema),)),
    Route("POST", "/v1/redirect-uri-checks", about.check_redirect_uri,
          "check_redirect_uri", CLIENTS_READ,
          summary="Check one redirect URI against the rules a create applies (nothing stored)",
          body=about.RedirectUriCheckRequest,
          answers=(Answer(200, "The verdict.", about.RedirectUriVerdictSchema),)),
    Route("GET", "/v1/events", events.event_stream, "event_stream", CLIENTS_READ,
          summary="Client events as they happen (Server-Sent Events)",
          answers=(Answer(200, "An endless stream: `ready` once, then one event per client "
                          "event (its CloudEvent as `data`), `resync` when events were "
                          "dropped for a slow reader; no replay.",
                          media_type="text/event-stream"),),
          refusals=(Refusal(429, "Or this token has CLIENTKEYS_EVENT_STREAMS_PER_TOKEN "
                            "streams open on this gateway already; close one first."),
                    Refusal(503, "Or this gateway has as many streams open as it holds."))),
    Route("GET", "/v1/stats", stats.stats_view, "stats", CLIENTS_READ,
          summary="Clients by type and status, approvals waiting, commands waiting",
          answers=(Answer(200, "The figures, read now.", StatsSchema),)),
    *(
        Route("POST", "/v1/registration-tokens", token_views.create_registration_token,
              "create_registration_token", CONFIGURE_SERVER,
              summary="Make an initial access token for self-registration (shown once)",
              body=CreateRegistrationTokenRequest,
              answers=(Answer(201, "The token, shown this once, and its record.",
                              CreatedRegistrationTokenSchema, (LOCATION,)),
                       Answer(202, "Queued, but not applied within the wait: the token, "
                              "shown this once; the operation at `Location` tells the "
                              "outcome.", QueuedRegistrationTokenSchema, (LOCATION,)))),
        Route("GET", "/v1/registration-tokens", token_views.list_registration_tokens,
              "list_registration_tokens", CONFIGURE_SERVER,
              summary="The initial access tokens (never the tokens themselves)",
              answers=(Answer(200, "Every token, newest first.", RegistrationTokenListSchema),)),
        Route("DELETE", "/v1/registration-tokens/{id}", token_views.revoke_registration_token,
              "revoke_registration_token", CONFIGURE_SERVER,
              summary="Revoke an initial access token at once",
              answers=(Answer(204, "Revoked (or revoked before)."), _QUEUED)),
        Route("POST", "/oauth/register", register.register_client, "register_client", None,
              summary="RFC 7591 dynamic registration with an initial access token; the "
                      "client waits for approval",
              body=RegistrationRequest, request_headers=_ONCE,
              answers=(*_RETRIED,
                       Answer(201, "Registered (pending unless the token auto-approves); "
                              "client_secret and registration_access_token shown once.",
                              RegisteredClientSchema),
                       Answer(400, "invalid_redirect_uri or invalid_client_metadata.",
                              OAuthErrorSchema),
                       Answer(401, "No usable initial access token.", OAuthErrorSchema),
                       _LIMITED)),
        Route("GET", "/oauth/register/{client_id}", configuration.read_registration,
              "read_registration", None,
              summary="RFC 7592: read a registered client with its registration access token",
              answers=(Answer(200, "The client's metadata.", RegisteredClientSchema),
                       _NOT_YOURS, _LIMITED)),
        Route("PUT", "/oauth/register/{client_id}", configuration.update_registration,
              "update_registration", None, body=RegistrationUpdateRequest,
              summary="RFC 7592: replace a registered client's metadata; widening an "
                      "approved client sends it back to pending",
              answers=(Answer(200, "The client; a new registration_access_token, shown once "
                              "(the one used stops working).", RegisteredClientSchema),
                       Answer(400, "invalid_redirect_uri or invalid_client_metadata.",
                              OAuthErrorSchema), _NOT_YOURS, _LIMITED)),
        Route("DELETE", "/oauth/register/{client_id}", configuration.delete_registration,
              "delete_registration", None,
              summary="RFC 7592: remove a registered client (its token with it)",
              answers=(Answer(204, "Removed."), _NOT_YOURS, _LIMITED)),
        Route("POST", "/oauth1/consumer-key-requests", consumer_keys.request_consumer_key,
              "request_consumer_key", None, body=ConsumerKeyRequest, request_headers=_ONCE,
              summary="Ask for a provisional OAuth 1.0a consumer key (pending until approved)",
              answers=(*_RETRIED,
                       Answer(201, "The consumer's key; it is pending.", ConsumerKeySchema),
                       Answer(400, "invalid_client_metadata.", OAuthErrorSchema),
                       Answer(401, "No usable initial access token.", OAuthErrorSchema),
                       _LIMITED)),
    ),
    Route("GET", "/metrics", metrics_view, "metrics", None,
          summary="Prometheus metrics of this gateway",
          answers=(Answer(200, "The Prometheus text format.", media_type="text/plain"),)),
    Route("GET", "/healthz", healthz, "healthz", None, summary="Is the process alive",
          answers=(Answer(200, "Alive.", HealthSchema),)),
    Route("GET", "/readyz", clients.readyz, "readyz", None,
          summary="Can commands be queued and reads served",
          answers=(Answer(200, "Ready.", ReadinessSchema),
                   Answer(503, "Not ready: the checks say what is missing.", ReadinessSchema,
                          (RETRY_AFTER,)))),
    Route("GET", "/openapi.json", openapi.serve_document, "openapi", None,
          summary="This document", answers=(openapi.DOCUMENT_ANSWER,)),
    Route("GET", "/asyncapi.json", asyncapi_view.serve_document, "asyncapi", None,
          summary="The AsyncAPI document of the events and commands",
          answers=(asyncapi_view.DOCUMENT_ANSWER,)),
    Route("GET", "/", page.index, "admin_page", None, summary="The admin page",
          answers=(Answer(200, "The admin page.", media_type="text/html"),)),
    Route("GET", "/ui/{name}.js", page.script, "admin_page_script", None,
          summary="A script of the admin page",
          answers=(Answer(200, "The script.", media_type="text/javascript"), _NOT_MODIFIED)),
    Route("GET", "/ui/{name}.css", page.style, "admin_page_style", None,
          summary="The style sheet of the admin page",
          answers=(Answer(200, "The style sheet.", media_type="text/css"), _NOT_MODIFIED)),
)


def add_routes(app: web.Application) -> dict[str, str]:
    """Register every route; returns route name -> permission for the auth middleware."""
    permissions: dict[str, str] = {}
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.view, name=route.name)
        if route.permission is not None:
            permissions[route.name] = route.permission
    return permissions
