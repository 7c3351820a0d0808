"""Helpers for the fault-injection tests: proxies, worker processes, figures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pymongo.asynchronous.database import AsyncDatabase

from common.settings import Settings
from common.store import Document
from tests.e2e.conftest import service  # noqa: F401 - the running service, as fixture

REPO = Path(__file__).resolve().parents[2]


def through(url: str, port: int, *options: str) -> str:
    """`url` with its host and port replaced by the proxy's, and `options` (`name=value`)
    added to its query."""
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    query = "&".join(part for part in (parts.query, *options) if part)
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{port}", query=query))


def host_and_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float,
                     what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        await asyncio.sleep(0.2)


async def pending_operations(db: AsyncDatabase[Document]) -> int:
    return await db["operations"].count_documents({"status": "pending"})


def worker_process(settings: Settings, log_file: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTKEYS_")}
    env.update(CLIENTKEYS_AMQP_URL=settings.amqp_url, CLIENTKEYS_MONGODB_URI=settings.mongodb_uri,
               CLIENTKEYS_NAMESPACE=settings.namespace,
               CLIENTKEYS_ENCRYPTION_KEYS=settings.encryption_keys,
               CLIENTKEYS_WORKER_HTTP_PORT="0",  # several at once: each on a free port
               PYTHONPATH=str(REPO))
    with log_file.open("ab") as log:
        return subprocess.Popen([sys.executable, "-m", "clientkeys.cli", "worker"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)


@dataclass
class Figures:
    """What a fault test counts, printed at its end."""

    name: str
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, **values: int) -> None:
        self.counts.update(values)

    def show(self) -> None:
        print(f"\n[{self.name}] " + ", ".join(f"{k}={v}" for k, v in self.counts.items()))


def created_events(bodies: list[dict[str, Any]]) -> tuple[Counter[str], int]:
    """Distinct `created` event ids per client, and how many arrivals were duplicates."""
    ids_per_client: dict[str, set[str]] = {}
    arrivals = 0
    for body in bodies:
        if body["type"].endswith(".created"):
            arrivals += 1
            ids_per_client.setdefault(body["subject"], set()).add(body["id"])
    distinct = Counter({k: len(v) for k, v in ids_per_client.items()})
    return distinct, arrivals - sum(distinct.values())
