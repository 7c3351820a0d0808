"""Typed application keys: everything the gateway keeps on its app, in one place."""

from __future__ import annotations

from aiohttp import web
from pymongo.asynchronous.database import AsyncDatabase

from api.principals import Principal
from api.tokens import TokenStore
from api.waiter import OutcomeWaiter
from common.bus import MessageBus
from common.keyring import Keyring
from common.settings import Settings
from common.store import Document

SETTINGS = web.AppKey("settings", Settings)
KEYRING = web.AppKey("keyring", Keyring)
TOKENS = web.AppKey("tokens", TokenStore)
DB = web.AppKey("db", AsyncDatabase[Document])
BUS = web.AppKey("bus", MessageBus)
WAITER = web.AppKey("waiter", OutcomeWaiter)
# Permission each named route requires; a route absent from it is public.
ROUTE_PERMISSIONS = web.AppKey("route_permissions", dict[str, str])
# Set by the auth middleware on every protected route.
PRINCIPAL = web.RequestKey("principal", Principal)
# Where workers send this gateway's outcomes.
REPLY_ADDRESS = web.AppKey("reply_address", str)
