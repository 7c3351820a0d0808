"""The figures an on-call engineer looks at first: `GET /v1/stats` and the gauges.

One function reads them (MongoDB for the clients, the broker for the queues),
the route answers with it and `StatsPoller` copies it into the Prometheus
gauges every `CLIENTKEYS_METRICS_POLL_S`, so a scrape never waits on a query.
Counts leave out removed clients (tombstones), as every other read does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from api import keys
from api.docs.response_schemas import StatsSchema
from api.gateway_metrics import GatewayMetrics
from api.problems import Problem
from api.verify.read_model import ClientReadModel
from common.bus import BrokerUnavailable, MessageBus, QueueDepths
from common.client_documents import LIVE
from common.client_metadata import SECRET_EXPIRY_WARNING_DAYS
from common.clients import ClientType, Status
from common.json_responses import json_response
from common.store import CLIENTS, Document, now

log = logging.getLogger(__name__)
# How often the poller looks whether the read model is loaded, to refresh at once.
_LOADING_CHECK_S = 0.2
# How far ahead an expiring secret is counted (the admin page marks it as far ahead).
EXPIRY_WARNING = timedelta(days=SECRET_EXPIRY_WARNING_DAYS)
SecretExpiry = tuple[int, int]  # (expiring within EXPIRY_WARNING, expired)


async def _secret_expiry(db: AsyncDatabase[Document], at: datetime) -> SecretExpiry:
    """Counted in MongoDB: a scan, as the counts by type and status are, which is why the
    gauges take the read model's figures instead."""
    field = "client_secret_expires_at"
    soon = await db[CLIENTS].count_documents(
        {field: {"$gt": at, "$lte": at + EXPIRY_WARNING}, **LIVE})
    expired = await db[CLIENTS].count_documents({field: {"$lte": at}, **LIVE})
    return soon, expired


@dataclass(frozen=True)
class Stats:
    clients: dict[tuple[ClientType, Status], int]
    pending_count: int
    oldest_pending_since: datetime | None
    queues: QueueDepths | None  # None: the broker could not be asked
    at: datetime
    # Current secrets of live clients expiring within EXPIRY_WARNING, and those expired.
    secrets_expiring: int = 0
    secrets_expired: int = 0

    @property
    def oldest_pending_age_s(self) -> float | None:
        if self.oldest_pending_since is None:
            return None
        return max(0.0, (self.at - self.oldest_pending_since).total_seconds())


@dataclass(frozen=True)
class KnownClients:
    """What this gateway's read model tells without a query: the clients by
    (type, status), when the oldest pending one was created, and the secrets
    expiring within EXPIRY_WARNING and expired."""

    counts: dict[tuple[str, str], int]
    oldest_pending_since: datetime | None
    secret_expiry: SecretExpiry


def known_clients(model: ClientReadModel) -> KnownClients | None:
    """The read model's figures; None until it is loaded."""
    counts = model.counts()
    expiry = model.expiring_secrets(now(), EXPIRY_WARNING)
    if counts is None or expiry is None:
        return None
    return KnownClients(counts, model.oldest_created(Status.PENDING.value), expiry)


async def read_stats(db: AsyncDatabase[Document], bus: MessageBus,
                     known_clients: KnownClients | None = None) -> Stats:
    """Every figure, read now. PyMongoError if the database cannot answer.

    `known_clients`: the client figures of this gateway's read model; without them
    they are read from MongoDB (an aggregation over every client, and a sort).
    """
    counts = {(t, s): 0 for t in ClientType for s in Status}
    known = None if known_clients is None else known_clients.counts
    if known is None:
        grouped = await db[CLIENTS].aggregate([
            {"$match": LIVE},
            {"$group": {"_id": {"type": "$type", "status": "$status"}, "n": {"$sum": 1}}},
        ])
        known = {(row["_id"].get("type"), row["_id"].get("status")): row["n"]
                 async for row in grouped}
    for (kind, status), n in known.items():
        try:
            counts[ClientType(kind), Status(status)] += n
        except ValueError:
            log.warning("stats: a client of unknown type or status was not counted")
    if known_clients is not None:
        oldest_since = known_clients.oldest_pending_since
    else:
        oldest = await db[CLIENTS].find_one({"status": Status.PENDING.value, **LIVE},
                                            {"created_at": 1},
                                            sort=[("created_at", ASCENDING)])
        oldest_since = oldest["created_at"] if oldest else None
    try:
        queues: QueueDepths | None = await bus.queue_depths()
    except BrokerUnavailable:
        queues = None
    at = now()
    soon, expired = (known_clients.secret_expiry if known_clients is not None
                     else await _secret_expiry(db, at))
    return Stats(counts, sum(n for (_, s), n in counts.items() if s is Status.PENDING),
                 oldest_since, queues, at, soon, expired)


_STATS = StatsSchema()


def stats_body(stats: Stats) -> dict[str, Any]:
    queues = stats.queues
    body: dict[str, Any] = _STATS.dump({
        "clients": {t.value: {s.value: stats.clients[t, s] for s in Status} for t in ClientType},
        "total": sum(stats.clients.values()),
        "pending_approvals": {
            "count": stats.pending_count,
            "oldest_since": stats.oldest_pending_since,
            "oldest_age_seconds": stats.oldest_pending_age_s,
        },
        "commands": None if queues is None else {
            "waiting": queues.waiting, "consumers": queues.consumers,
            "dead_lettered": queues.dead_lettered},
        "secrets": {"expiring_soon": stats.secrets_expiring, "expired": stats.secrets_expired,
                    "within_days": EXPIRY_WARNING.days},
        "as_of": stats.at,
    })
    return body


async def stats_view(request: web.Request) -> web.StreamResponse:
    try:
        stats = await read_stats(request.app[keys.DB], request.app[keys.BUS])
    except PyMongoError:
        raise Problem(503, "The database is unavailable; the figures cannot be read now.",
                      headers={"Retry-After": str(request.app[keys.SETTINGS].retry_after_s)}
                      ) from None
    return json_response(stats_body(stats))


def publish_gauges(stats: Stats, metrics: GatewayMetrics) -> None:
    for (client_type, status), count in stats.clients.items():
        metrics.clients.labels(client_type.value, status.value).set(count)
    metrics.pending_approvals.set(stats.pending_count)
    metrics.oldest_pending_age.set(stats.oldest_pending_age_s or 0.0)
    metrics.secrets_expiring.set(stats.secrets_expiring)
    metrics.secrets_expired.set(stats.secrets_expired)
    if stats.queues is not None:
        metrics.commands_waiting.set(stats.queues.waiting)
        metrics.command_consumers.set(stats.queues.consumers)
        metrics.dead_lettered.set(stats.queues.dead_lettered)


class StatsPoller:
    """Refreshes the gauges now and then every `every_s`, until stopped.

    The client figures come from `known` (the read model's; until it is loaded the
    gauges are not refreshed): every
    gateway polls, and an aggregation over 100 000 clients (and a sort of the pending
    ones) every few seconds per gateway is load the database should not carry for a
    gauge (`make bench`).
    """

    def __init__(self, db: AsyncDatabase[Document], bus: MessageBus, metrics: GatewayMetrics,
                 every_s: float,
                 known: Callable[[], KnownClients | None]) -> None:
        self._db, self._bus, self._metrics, self._every_s = db, bus, metrics, every_s
        self._known = known
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def refresh(self) -> bool:
        """Whether the gauges were refreshed (not while the read model is loading)."""
        known = self._known()
        if known is None:
            # The read model is loading: an aggregation over every client now would
            # only slow its load down (SecantusDB serves one request at a time), and
            # a gateway that is not ready takes no traffic. The gauges wait for it.
            return False
        publish_gauges(await read_stats(self._db, self._bus, known), self._metrics)
        return True

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if not await self.refresh():
                    await asyncio.sleep(_LOADING_CHECK_S)
                    continue
            except PyMongoError:  # the gauges keep their last values; /readyz tells the outage
                log.warning("stats: the database did not answer; gauges not refreshed")
            except Exception:  # never let the gauges stop for good
                if self._stopping:
                    return
                log.exception("stats: gauges not refreshed")
            await asyncio.sleep(self._every_s)

    def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="stats-poller")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the loop, waiting at most `timeout_s`.

        A cancellation that lands inside a read of the broker or the database can come
        back as another exception, which the loop takes for a failed refresh; so the
        loop also checks `_stopping`, and the wait is bounded: a stopping gateway hung
        here once, the poller cancelled but asleep for its next round."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        task.cancel()
        done, _pending = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            log.warning("stats: the poller did not stop within %.0fs", timeout_s)
            return
        with contextlib.suppress(asyncio.CancelledError):
            await task
