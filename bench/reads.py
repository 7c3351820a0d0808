"""The reads a gateway answers from its read model, and what holding every client costs.

- One client by key, beside a constant aiohttp handler (the raw limit of an answer from
  memory).
- The list page (first 50 approved, newest first) and name searches, with their exact
  `total`: one request at a time, as latency figures. The `total` of each is checked
  once against MongoDB's own count, outside the timing.
- Memory: the gateway's RSS once its model holds every client, over the RSS of a
  gateway over an empty database (same settings, started alike), per client.

`python -m bench.reads` seeds and measures these rows alone (the full run is `make bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.database import delete_topology, stored_count
from bench.report import Row, compared, described, markdown
from bench.seed import seed_clients
from bench.stack import Process, Stack
from common.clients import Status
from common.keyring import Keyring
from common.store import Document

if TYPE_CHECKING:
    from bench.run import Bench

# The bound: every field of 100 000 clients in about 150 MB.
MAX_BYTES_PER_CLIENT = 1536
P99_MS = 50
LIST_PAGE = "/v1/clients?status=approved&sort=-created_at&limit=50"
# Seeded names are "Seeded client 000123": "client 0123" matches 100 of them, each
# query another hundred; "seeded" matches every client (the search walks the order).
NARROW = [f"/v1/clients?q=client%20{n:04d}" for n in range(1000)]
BROAD = "/v1/clients?q=SEEDED&status=approved"


def empty_gateway_mb(stack: Stack) -> float:
    """RSS of a ready gateway whose database holds no client."""
    empty = stack.gateway("gateway-empty",
                          mongodb_uri=stack.database.uri(f"{stack.namespace}_empty"
                                                         .replace("-", "_")))
    try:
        return empty.rss_mb()
    finally:
        stack.stop(empty)


def memory_per_client(loaded_mb: float, empty_mb: float, clients: int) -> Row:
    per_client = (loaded_mb - empty_mb) * 1024 * 1024 / clients
    return Row(f"gateway RSS per client, every field held, {clients:,} clients",
               f"{per_client:,.0f} bytes ({loaded_mb:.0f} MB loaded, {empty_mb:.0f} MB empty)",
               "—", "—", f"≤ {MAX_BYTES_PER_CLIENT:,} bytes",
               per_client <= MAX_BYTES_PER_CLIENT)


def _total_of(gateway: Process, token: str, path: str) -> int:
    request = urllib.request.Request(gateway.url + path,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        body: dict[str, Any] = json.loads(answer.read())
    return int(body["total"])


def _exact(bench: Bench, gateway: Process, path: str, query: Document) -> str | None:
    """Why the gateway's `total` for `path` is not MongoDB's count, or None."""
    shown = _total_of(gateway, bench.stack.token, path)
    stored = asyncio.run(stored_count(bench.stack.mongodb_uri, query))
    return None if shown == stored else f"total {shown}, MongoDB counts {stored}"


def get_row(bench: Bench, gateway: Process) -> None:
    """One client by key, beside a constant aiohttp handler: both answer from memory."""
    constant = bench.stack.constant_server()
    try:
        baseline = bench.load(constant, "constant-get", [("GET", "/", "")], 200)
    finally:
        bench.stack.stop(constant)
    keys = [key for status in Status for key in bench.seeded.keys[status]]
    measured = bench.load(gateway, "get", [("GET", f"/v1/clients/{key}", "")
                                           for key in keys], 200)
    bench.rows.append(compared("get one client", measured, (200,),
                               "constant JSON aiohttp handler", baseline, at_least=0.4))


def list_rows(bench: Bench, gateway: Process) -> None:
    """The list page and name searches, one request at a time."""
    clients = bench.profile.clients
    figures: list[tuple[str, list[str], str, Document]] = [
        (f"list: first 50 approved, newest first, of {clients:,}", [LIST_PAGE],
         LIST_PAGE, {"status": "approved"}),
        ("name search, 100 of the names match, newest first", NARROW,
         NARROW[1], {"name": {"$regex": "client 0001", "$options": "i"}}),
        ("name search matching every approved client", [BROAD], BROAD,
         {"name": {"$regex": "SEEDED", "$options": "i"}, "status": "approved"}),
    ]
    for figure, paths, checked, query in figures:
        measured = bench.load(gateway, figure.split(":")[0].replace(" ", "-"),
                              [("GET", path, "") for path in paths], 200, connections=1,
                              timeout_s=60)
        wrong = _exact(bench, gateway, checked, query)
        met = measured.p99_ms <= P99_MS and measured.unexpected(200) == 0 and wrong is None
        bench.rows.append(Row(figure, described(measured, 200) + (f", **{wrong}**"
                                                                   if wrong else ""),
                              "served from the gateway's read model", "—",
                              f"p99 ≤ {P99_MS} ms, exact total", met))


def main(argv: list[str] | None = None) -> int:
    from bench.run import FULL, SMOKE, Bench  # the full run imports this module

    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="few clients, one second each")
    parser.add_argument("--clients", type=int, help=f"clients seeded (default {FULL.clients:,})")
    parser.add_argument("--seconds", type=float,
                        help=f"seconds each figure runs (default {FULL.seconds:g})")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    if args.clients is not None or args.seconds is not None:
        clients = args.clients or profile.clients
        profile = replace(profile, clients=clients,
                          with_secrets=min(profile.with_secrets, clients),
                          seconds=args.seconds or profile.seconds)
    with tempfile.TemporaryDirectory(prefix="clientkeys-bench-") as folder:
        stack = Stack.start(Path(folder))
        try:
            keyring = Keyring.parse((Path(folder) / "keyring").read_text())
            seeded = asyncio.run(seed_clients(stack.mongodb_uri, keyring, profile.clients,
                                              with_secrets=profile.with_secrets))
            empty_mb = empty_gateway_mb(stack)
            gateway = stack.gateway()
            loaded_mb = gateway.rss_mb()
            bench = Bench(stack, profile, seeded, stack.worker())
            bench.rows.append(memory_per_client(loaded_mb, empty_mb, profile.clients))
            bench.attempt("get one client", lambda: get_row(bench, gateway))
            bench.attempt("list", lambda: list_rows(bench, gateway))
        finally:
            stack.close()
            asyncio.run(delete_topology(stack.namespace))
    print(markdown(bench.rows, setup=f"{profile.clients:,} clients seeded; reads only.",
                   details=""))
    for problem in bench.problems + bench.refused:
        print(f"bench: {problem}", file=sys.stderr)
    return 1 if bench.problems or bench.refused else 0


if __name__ == "__main__":
    sys.exit(main())
