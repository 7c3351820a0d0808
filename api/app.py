"""The gateway's app factory: `create_app(settings)`, as production and tests call it.

Each long-lived resource (the MongoDB client, the message bus) is one
cleanup context: set up before `yield`, torn down after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web
from pymongo.errors import PyMongoError

from api import keys
from api.auth import auth_middleware
from api.idempotency import idempotency_middleware
from api.problems import problem_middleware
from api.routes import add_routes
from api.tokens import TokensFileError, TokenStore
from api.waiter import OutcomeWaiter
from common.amqp_bus import connect_bus
from common.bus import MessageBus
from common.settings import PREFIX, Settings, SettingsError, Unreachable
from common.store import connect, database, ensure_indexes

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def create_app(settings: Settings, *, bus: MessageBus | None = None) -> web.Application:
    """The gateway. Pass `bus` to share one (dev mode); otherwise it connects to RabbitMQ."""
    if settings.tokens_file is None:
        raise SettingsError(f"{PREFIX}TOKENS_FILE is not set: the gateway needs its API tokens")
    try:
        tokens = TokenStore(settings.tokens_file)
    except TokensFileError as exc:
        raise SettingsError(f"{PREFIX}TOKENS_FILE: {exc}") from None
    app = web.Application(middlewares=[problem_middleware, auth_middleware,
                                       idempotency_middleware],
                          client_max_size=settings.max_body_bytes)
    app[keys.SETTINGS] = settings
    app[keys.KEYRING] = settings.keyring()
    app[keys.TOKENS] = tokens
    app[keys.WAITER] = OutcomeWaiter()
    app[keys.ROUTE_PERMISSIONS] = add_routes(app)
    app.cleanup_ctx.append(_mongodb)
    app.cleanup_ctx.append(_message_bus(bus))
    return app


async def _mongodb(app: web.Application) -> AsyncIterator[None]:
    uri = app[keys.SETTINGS].mongodb_uri
    client = connect(uri, app_name="clientkeys-gateway")
    db = database(client)
    try:
        await ensure_indexes(db)
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
