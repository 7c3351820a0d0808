"""The raw limits: what the service's own parts do with nothing of ours in between.

Run as its own process (`python -m bench.raw <what> ...`), on the event loop the
service runs on (common.event_loop), never sharing an interpreter with the load
it is compared with. Each prints one `BENCH {json}` line (`bench.measure.Measured`).

- `insert`: `insert_one` of a client-sized document, by a bare PyMongo async client;
- `update`: `update_one` by key (`$set` + `$inc`), as approving a client writes;
- `find`: `find_one` by key over the benchmark's clients;
- `publish`: persistent messages, publisher confirms, to a durable quorum queue
  (the kind the commands queue is), by a bare aio-pika client;
- `constant`: an aiohttp server whose one handler answers a constant JSON body,
  run the way the gateway runs (the same loop and server settings); wrk loads it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aio_pika
from aiohttp import web
from pymongo import AsyncMongoClient

from bench.measure import Measured
from common.event_loop import new_event_loop, run

RAW_DATABASE = "bench_raw"
_DOCUMENT = {
    "type": "oidc", "name": "Raw limit client", "status": "pending", "version": 1,
    "redirect_uris": ["https://portal.example.com/callback"],
    "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
    "secret": {"key_id": "raw", "nonce": "x" * 16, "ciphertext": "y" * 64},
}
# As long as the gateway's answer to a secret check.
CONSTANT_BODY = json.dumps({"valid": True, "reason": "ok", "client_key": "k" * 32,
                            "status": "approved", "type": "oauth2"}).encode()


async def timed(operation: Callable[[int], Awaitable[object]], concurrency: int,
                seconds: float) -> Measured:
    """Run `operation(n)` from `concurrency` tasks back to back for `seconds`."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def one_task() -> None:
        nonlocal errors
        while (start := time.perf_counter()) < deadline:
            try:
                await operation(next(counter))
            except Exception:
                errors += 1
                continue
            latencies.append(time.perf_counter() - start)

    began = time.perf_counter()
    await asyncio.gather(*(one_task() for _ in range(concurrency)))
    return Measured.of_latencies(latencies, time.perf_counter() - began, errors)


def _mongo(uri: str) -> AsyncMongoClient[dict[str, object]]:
    return AsyncMongoClient(uri, tz_aware=True, uuidRepresentation="standard")


async def raw_insert(uri: str, concurrency: int, seconds: float) -> Measured:
    client = _mongo(uri)
    try:
        collection = client[RAW_DATABASE]["inserted"]
        await collection.drop()
        run = secrets.token_hex(4)
        return await timed(lambda n: collection.insert_one(
            {"key": f"{run}-{n}", **_DOCUMENT}), concurrency, seconds)
    finally:
        await client[RAW_DATABASE]["inserted"].drop()
        await client.close()


async def raw_update(uri: str, concurrency: int, seconds: float) -> Measured:
    client = _mongo(uri)
    collection = client[RAW_DATABASE]["updated"]
    try:
        await collection.drop()
        await collection.create_index("key", unique=True)
        keys = [f"raw-{n}" for n in range(1000)]
        await collection.insert_many([{"key": key, **_DOCUMENT} for key in keys])
        return await timed(lambda n: collection.update_one(
            {"key": keys[n % len(keys)]},
            {"$set": {"status": "approved" if n % 2 else "disapproved"}, "$inc": {"version": 1}}),
            concurrency, seconds)
    finally:
        await collection.drop()
        await client.close()


async def raw_find(uri: str, collection_name: str, keys: list[str], concurrency: int,
                   seconds: float) -> Measured:
    client = _mongo(uri)
    collection = client.get_default_database()[collection_name]
    try:
        return await timed(lambda n: collection.find_one({"key": keys[n % len(keys)]}),
                           concurrency, seconds)
    finally:
        await client.close()


async def raw_publish(url: str, concurrency: int, seconds: float) -> Measured:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"bench-raw-{secrets.token_hex(4)}", durable=True,
                                            arguments={"x-queue-type": "quorum"})
        body = json.dumps({"kind": "create_client", **_DOCUMENT}).encode()
        try:
            return await timed(lambda n: channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                 message_id=str(n)), routing_key=queue.name),
                concurrency, seconds)
        finally:
            await queue.delete(if_unused=False, if_empty=False)
    finally:
        await connection.close()


def serve_constant(port: int) -> None:
    async def constant(request: web.Request) -> web.Response:
        return web.Response(body=CONSTANT_BODY, content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", constant)
    # As clientkeys.bootstrap runs the gateway: the same loop, no access log.
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None,
                loop=new_event_loop())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw", description=__doc__)
    parser.add_argument("what", choices=["insert", "update", "find", "publish", "constant"])
    parser.add_argument("--uri", help="MongoDB URI (insert, update, find) or AMQP URL (publish)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--collection", default="clients")
    parser.add_argument("--keys", type=Path, help="file of client keys, one a line (find)")
    parser.add_argument("--port", type=int, help="port to serve on (constant)")
    args = parser.parse_args(argv)
    if args.what == "constant":
        serve_constant(args.port)
        return
    c, s = args.concurrency, args.seconds
    runs: dict[str, Callable[[], Coroutine[Any, Any, Measured]]] = {
        "insert": lambda: raw_insert(args.uri, c, s),
        "update": lambda: raw_update(args.uri, c, s),
        "find": lambda: raw_find(args.uri, args.collection, args.keys.read_text().split(), c, s),
        "publish": lambda: raw_publish(args.uri, c, s),
    }
    measured = run(runs[args.what]())  # the loop the service's processes run on
    print("BENCH " + json.dumps(measured.to_dict()), flush=True)


if __name__ == "__main__":
    main()
