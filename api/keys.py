"""Typed application keys: everything the gateway keeps on its app, in one place."""

from __future__ import annotations

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from api.auth.authenticator import Authenticator
from api.auth.limiter import FailureLimiter
from api.auth.principals import Principal
from api.gateway_metrics import GatewayMetrics
from api.verify.client_assertions import AssertionChecker
from api.verify.client_authentication import ClientAuthenticator
from api.verify.jwks_fetcher import JwksFetcher
from api.verify.oauth1_signatures import SignatureVerifier
from api.verify.read_model import ClientReadModel
from api.verify.secret import SecretChecker
from api.verify.secret_usage import SecretUsage
from api.views.idempotency_records import Claim
from api.views.live_events import LiveEvents
from api.views.waiter import OutcomeWaiter
from common.bus import MessageBus
from common.keyring import SecretKeyring
from common.settings import Settings
from common.store import Document

SETTINGS = web.AppKey("settings", Settings)
# Follows the keyring file when there is one, so a rotated key is used without a restart.
KEYRING: web.AppKey[SecretKeyring] = web.AppKey("keyring")
# Static API tokens and identity-provider JWTs: who is calling.
AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
DB = web.AppKey("db", AsyncDatabase[Document])
BUS = web.AppKey("bus", MessageBus)
WAITER = web.AppKey("waiter", OutcomeWaiter)
# Permission each named route requires; a route absent from it is public.
ROUTE_PERMISSIONS = web.AppKey("route_permissions", dict[str, str])
# Names of the management routes, whose every answer goes into the audit trail.
AUDITED_ROUTES = web.AppKey("audited_routes", frozenset[str])
# The OpenAPI document, built once from the route table (api.docs.openapi).
OPENAPI_DOCUMENT = web.AppKey("openapi_document", bytes)
# Failed sign-ins per caller address; failed secret checks per client key and source,
# and per client key alone (a ceiling that holds back only sources that failed).
SIGN_IN_FAILURES = web.AppKey("sign_in_failures", FailureLimiter)
SECRET_FAILURES = web.AppKey("secret_failures", FailureLimiter)
# Every request to a self-registration endpoint, per caller address (api.registration).
REGISTRATION_REQUESTS = web.AppKey("registration_requests", FailureLimiter)
CLIENT_SECRET_FAILURES = web.AppKey("client_secret_failures", FailureLimiter)
# The clients as credential checks see them, and the checker that uses them.
READ_MODEL = web.AppKey("read_model", ClientReadModel)
SECRET_CHECKER = web.AppKey("secret_checker", SecretChecker)
CLIENT_AUTHENTICATOR = web.AppKey("client_authenticator", ClientAuthenticator)
ASSERTION_CHECKER = web.AppKey("assertion_checker", AssertionChecker)
JWKS_FETCHER = web.AppKey("jwks_fetcher", JwksFetcher)
# When each secret last verified: noted on every check, written once a minute.
SECRET_USAGE = web.AppKey("secret_usage", SecretUsage)
OAUTH1_VERIFIER = web.AppKey("oauth1_verifier", SignatureVerifier)
# Client events fanned out to the admin page's Server-Sent Events streams.
LIVE_EVENTS = web.AppKey("live_events", LiveEvents)
# The gateway's Prometheus figures (its registry is common.metrics.REGISTRY_KEY).
METRICS = web.AppKey("metrics", GatewayMetrics)
# Set by the auth middleware on every protected route.
PRINCIPAL = web.RequestKey("principal", Principal)
# The request's id: the caller's X-Request-ID when usable, else a new one.
REQUEST_ID = web.RequestKey("request_id", str)
# The caller's address, behind trusted proxies or not (api.remote).
CALLER_ADDRESS = web.RequestKey("caller_address", str)
# Names of the fields a request body tried to set (for the audit trail).
BODY_FIELDS = web.RequestKey("body_fields", list[str])
# Set once a command is queued: from then on its worker writes the audit entry.
COMMAND_QUEUED = web.RequestKey("command_queued", bool)
# The request's Idempotency-Key claim: the command id its record names (api.views.idempotency).
IDEMPOTENCY_CLAIM = web.RequestKey("idempotency_claim", Claim)
# Where workers send this gateway's outcomes.
REPLY_ADDRESS = web.AppKey("reply_address", str)
