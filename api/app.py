"""The gateway's app factory: `create_app(settings)`, as production and tests call it.

Each long-lived resource (the MongoDB client, the message bus, the identity
provider's key set) is one cleanup context: set up before `yield`, torn down after.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry
from pymongo.errors import PyMongoError

from api import keys
from api.auth.authenticator import Authenticator
from api.auth.jwt_tokens import JwtVerifier, verifier_from_settings
from api.auth.limiter import FailureLimiter
from api.auth.middleware import auth_middleware
from api.auth.tokens import TokensFileError, TokenStore
from api.docs.openapi import document_body
from api.gateway_metrics import GatewayMetrics
from api.observe import forbid_storing, observe_middleware, return_request_id
from api.problems import problem_middleware
from api.routes import ROUTES, add_routes
from api.verify.assertion_replay import AssertionReplay
from api.verify.client_assertions import AssertionChecker
from api.verify.client_authentication import ClientAuthenticator
from api.verify.heap import FrozenHeap
from api.verify.jwks_fetcher import JwksFetcher
from api.verify.oauth1_signatures import SignatureVerifier
from api.verify.read_model import ClientReadModel
from api.verify.secret import SecretChecker
from api.verify.secret_usage import SecretUsage
from api.views.audit_trail import audit_middleware
from api.views.idempotency import idempotency_middleware
from api.views.live_events import LiveEvents
from api.views.stats import StatsPoller, known_clients
from api.views.waiter import OutcomeWaiter
from common.amqp_bus import connect_bus
from common.bus import MessageBus
from common.command_mac import verify_event
from common.metrics import REGISTRY_KEY, new_registry
from common.settings import PREFIX, Settings, SettingsError, Unreachable
from common.store import connect, database, ensure_indexes
from common.topology import ALL_EVENTS

log = logging.getLogger(__name__)

CleanupContext = Callable[[web.Application], AsyncIterator[None]]
# Failed secret checks one client may take from all sources together, in multiples
# of the per-source limit, before each source that has failed is held back.
CLIENT_CEILING_FACTOR = 10


def create_app(settings: Settings, *, bus: MessageBus | None = None,
               registry: CollectorRegistry | None = None,
               heap: FrozenHeap | None = None) -> web.Application:
    """The gateway. Pass `bus` to share one (dev mode); otherwise it connects to RabbitMQ.

    Its metrics go into `registry` when given (dev mode shares one with its worker).
    `heap`, only where the gateway has its process to itself, keeps the read model
    out of the garbage collector's walks (`api.verify.heap`).
    """
    authenticator = _authenticator(settings)
    app = web.Application(middlewares=[observe_middleware, audit_middleware, problem_middleware,
                                       auth_middleware, idempotency_middleware],
                          client_max_size=settings.max_body_bytes)
    app[REGISTRY_KEY] = registry if registry is not None else new_registry()
    app[keys.METRICS] = GatewayMetrics(app[REGISTRY_KEY])
    app.on_response_prepare.append(return_request_id)
    app.on_response_prepare.append(forbid_storing)
    app[keys.SETTINGS] = settings
    app[keys.KEYRING] = settings.live_keyring()
    app[keys.AUTHENTICATOR] = authenticator
    app[keys.WAITER] = OutcomeWaiter(app[keys.KEYRING], lambda rejection: app[keys.METRICS]
                                     .messages_rejected.labels("reply", rejection.value).inc())
    app[keys.ROUTE_PERMISSIONS] = add_routes(app)
    app[keys.OPENAPI_DOCUMENT] = document_body(ROUTES)
    app[keys.AUDITED_ROUTES] = frozenset(r.name for r in ROUTES if r.is_management)
    app[keys.SIGN_IN_FAILURES] = FailureLimiter("sign-in", settings.auth_failures_per_minute, 60)
    app[keys.SECRET_FAILURES] = FailureLimiter("secret", settings.secret_failures_per_minute, 60)
    app[keys.REGISTRATION_REQUESTS] = FailureLimiter(
        "registration", settings.registrations_per_minute, 60)
    app[keys.CLIENT_SECRET_FAILURES] = FailureLimiter(
        "client-secret", settings.secret_failures_per_minute * CLIENT_CEILING_FACTOR, 60)
    app[keys.OAUTH1_VERIFIER] = SignatureVerifier(window_s=settings.oauth1_window_s,
                                                  require_https=settings.oauth1_require_https)
    if authenticator.jwts is not None:
        app.cleanup_ctx.append(_identity_provider(authenticator.jwts))
    app.cleanup_ctx.append(_mongodb)
    app.cleanup_ctx.append(_message_bus(bus))
    app[keys.LIVE_EVENTS] = LiveEvents(per_caller=settings.event_streams_per_token)
    app.cleanup_ctx.append(_jwks_fetcher)
    app.cleanup_ctx.append(functools.partial(_client_events, heap=heap))
    app.cleanup_ctx.append(_secret_usage)
    app.cleanup_ctx.append(_stats_poller)
    app.on_shutdown.append(_end_event_streams)
    return app


async def _end_event_streams(app: web.Application) -> None:
    # Shutdown runs before the wait for open requests: streams never end by themselves.
    app[keys.LIVE_EVENTS].close()


async def _stats_poller(app: web.Application) -> AsyncIterator[None]:
    # After the read model's context: the gauges count clients from it.
    model = app[keys.READ_MODEL]
    poller = StatsPoller(app[keys.DB], app[keys.BUS], app[keys.METRICS],
                         app[keys.SETTINGS].metrics_poll_s, known=lambda: known_clients(model))
    poller.start()
    yield
    await poller.stop()


async def _client_events(app: web.Application, heap: FrozenHeap | None
                         ) -> AsyncIterator[None]:
    """One queue on the events exchange feeds both the read model and the live streams.

    Subscribe first, then load: no event can fall between the load and the queue. An
    event no key of the keyring vouches for (common.command_mac) reaches neither: the
    read model's credential checks believe what events say of a client's status.
    """
    model = ClientReadModel(app[keys.DB],
                            reconcile_every_s=app[keys.SETTINGS].read_model_reconcile_s,
                            full_reconcile_every_s=app[keys.SETTINGS]
                            .read_model_full_reconcile_s,
                            settled=None if heap is None else heap.settled,
                            awaited=app[keys.WAITER].awaits)
    live = app[keys.LIVE_EVENTS]

    async def on_event(routing_key: str, body: bytes, headers: Mapping[str, object]) -> None:
        rejection = verify_event(app[keys.KEYRING], routing_key, body, headers)
        if rejection is not None:
            log.warning("ignoring an event no key vouches for (%s, %s)", routing_key[:100],
                        rejection.value)
            app[keys.METRICS].messages_rejected.labels("event", rejection.value).inc()
            return
        try:
            await model.on_event(routing_key, body)
        finally:
            await live.on_event(routing_key, body)

    await app[keys.BUS].subscribe_events([ALL_EVENTS], on_event)
    model.start()
    app[keys.READ_MODEL] = model
    app[keys.SECRET_CHECKER] = SecretChecker(model, app[keys.KEYRING])
    app[keys.CLIENT_AUTHENTICATOR] = ClientAuthenticator(model, app[keys.SECRET_CHECKER])
    settings = app[keys.SETTINGS]
    app[keys.ASSERTION_CHECKER] = AssertionChecker(
        model, AssertionReplay(app[keys.DB]), app[keys.JWKS_FETCHER],
        leeway_s=settings.assertion_leeway_s, max_lifetime_s=settings.assertion_max_lifetime_s,
        metrics=app[keys.METRICS])
    yield
    await model.stop()


async def _jwks_fetcher(app: web.Application) -> AsyncIterator[None]:
    # One HTTP session for every client's jwks_uri, as long as the gateway runs.
    settings = app[keys.SETTINGS]
    fetcher = JwksFetcher(allow_private=settings.jwks_uri_allow_private,
                          ca_file=settings.outbound_ca_file, metrics=app[keys.METRICS])
    await fetcher.start()
    app[keys.JWKS_FETCHER] = fetcher
    yield
    await fetcher.close()


async def _secret_usage(app: web.Application) -> AsyncIterator[None]:
    usage = SecretUsage(app[keys.DB])
    await usage.start()
    app[keys.SECRET_USAGE] = usage
    yield
    await usage.stop()


def _authenticator(settings: Settings) -> Authenticator:
    if settings.tokens_file is None and not settings.jwt_configured:
        raise SettingsError(
            f"{PREFIX}TOKENS_FILE is not set, nor {PREFIX}JWT_JWKS_URL, JWT_PUBLIC_KEY_FILE or "
            "JWT_HS256_SECRET_FILE: the gateway needs API tokens or an identity provider")
    tokens: TokenStore | None = None
    if settings.tokens_file is not None:
        try:
            tokens = TokenStore(settings.tokens_file)
        except TokensFileError as exc:
            raise SettingsError(f"{PREFIX}TOKENS_FILE: {exc}") from None
    return Authenticator(tokens, verifier_from_settings(settings))


def _identity_provider(verifier: JwtVerifier) -> CleanupContext:
    # Its HTTP session lives as long as the app; an unreachable provider does not
    # stop the start (the static tokens keep working, keys are fetched on demand).
    async def context(app: web.Application) -> AsyncIterator[None]:
        await verifier.start()
        yield
        await verifier.close()

    return context


async def _mongodb(app: web.Application) -> AsyncIterator[None]:
    uri = app[keys.SETTINGS].mongodb_uri
    client = connect(uri, app_name="clientkeys-gateway")
    db = database(client)
    try:
        settings = app[keys.SETTINGS]
        await ensure_indexes(db, audit_retention_days=settings.audit_retention_days,
                             operations_retention_h=settings.operations_retention_h)
    except PyMongoError as exc:
        await client.close()
        raise Unreachable("MongoDB", uri, exc) from None
    app[keys.DB] = db
    yield
    await client.close()


def _message_bus(shared: MessageBus | None) -> CleanupContext:
    async def context(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        bus: MessageBus
        if shared is None:
            bus = await connect_bus(settings)
        else:
            bus = shared
        app[keys.BUS] = bus
        app[keys.REPLY_ADDRESS] = await bus.listen_for_replies(app[keys.WAITER].on_reply)
        yield
        if shared is None:
            await bus.close()

    return context
