"""What the benchmark asks the database and the broker itself, outside any load.

Whether the commands of a figure are all applied, the plan of the list query,
one write timed alone, and the namespace's queues removed at the end.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import Any

import aio_pika
from pymongo import AsyncMongoClient

from api.views.queries import ClientFilter, page_cursor
from bench.stack import AMQP_URL
from common.amqp_bus import AmqpBus
from common.client_documents import LIVE
from common.operations_store import any_pending
from common.store import CLIENTS, Document
from common.topology import Topology


async def settled(namespace: str, uri: str, timeout_s: float = 600) -> None:
    """Wait until every command is applied: none queued, no operation pending.

    So that one figure's leftovers never load the next one's database.
    """
    connection = await aio_pika.connect(AMQP_URL)
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    db = client.get_default_database()
    try:
        channel = await connection.channel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while loop.time() < deadline:
            queue = await channel.declare_queue(Topology(namespace).commands_queue,
                                                passive=True)
            if not queue.declaration_result.message_count and not await any_pending(db):
                return
            await asyncio.sleep(0.5)
        raise RuntimeError(f"commands still not applied after {timeout_s:.0f}s")
    finally:
        await connection.close()
        await client.close()


async def write_probe(uri: str, keys: list[str]) -> str:
    """How long one update by key takes on the benchmark's clients, sequentially, as
    `update_one` and as `find_one_and_update` (what a worker's change is)."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    clients = client.get_default_database()[CLIENTS]
    took: dict[str, list[float]] = {"update_one": [], "find_one_and_update": []}
    try:
        for key in keys:
            for name, write in (("update_one", clients.update_one),
                                ("find_one_and_update", clients.find_one_and_update)):
                started = time.perf_counter()
                await write({"key": key}, {"$set": {"probed": True}})
                took[name].append((time.perf_counter() - started) * 1000)
    finally:
        await client.close()
    return ", ".join(f"`{name}` by key {statistics.median(ms):.1f} ms"
                     for name, ms in took.items())


async def list_plan(uri: str) -> dict[str, Any]:
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    try:
        cursor = page_cursor(client.get_default_database(), ClientFilter(status="approved"),
                             sort="-created_at", limit=50, cursor=None)
        explained = await cursor.explain()
        return dict(explained["queryPlanner"]["winningPlan"])
    finally:
        await client.close()


def _walk(stage: dict[str, Any]) -> Iterator[dict[str, Any]]:
    while stage:
        yield stage
        stage = stage.get("inputStage") or {}


def stages(plan: dict[str, Any]) -> str:
    """`LIMIT ← FETCH ← IXSCAN status_created`: outermost first."""
    return " ← ".join(f"{s['stage']} {s['indexName']}" if "indexName" in s else s["stage"]
                      for s in _walk(plan))


async def delete_topology(namespace: str) -> None:
    bus = await AmqpBus.connect(AMQP_URL, Topology(namespace))
    try:
        await bus.delete_topology()
    finally:
        await bus.close()


async def stored_count(uri: str, query: Document) -> int:
    """How many live clients match `query`, as MongoDB counts them."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True)
    try:
        return await client.get_default_database()[CLIENTS].count_documents(
            {**LIVE, **query})
    finally:
        await client.close()
