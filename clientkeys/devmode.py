"""`clientkeys dev`: gateway and worker in one process, with nothing to set up.

State lives under `./.clientkeys/` (or `CLIENTKEYS_DEV_DIR`): a dev encryption
key and an admin token made on first start, a tokens file with the token's
hash, and the SecantusDB data. The bus is in-process unless
`CLIENTKEYS_AMQP_URL` is set; the database is a SecantusDB child process
unless `CLIENTKEYS_MONGODB_URI` is set. For development only: the admin token
is kept in plain text in that folder so that every start can print it.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from pathlib import Path

from aiohttp import web

from api.app import create_app
from api.http_server import GatewayRunner
from api.principals import CONFIGURE_SERVER
from api.tokens import token_digest
from clientkeys.devdb import DevDatabase
from common.amqp_bus import connect_bus
from common.bus import MessageBus
from common.event_loop import run
from common.keyring import new_key_entry
from common.logs import configure_logging
from common.memory_bus import MemoryBus
from common.metrics import new_registry
from common.settings import PREFIX, Settings, load_settings
from common.store import connect, database
from worker.service import Worker
from worker.worker_metrics import WorkerMetrics


def _private_file(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


def _dev_state(folder: Path) -> tuple[str, str, Path]:
    """(encryption keyring, admin token, tokens file), made on first start."""
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "dev.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
    else:
        state = {"encryption_keys": new_key_entry("dev1"),
                 "admin_token": secrets.token_urlsafe(32)}
        _private_file(state_file, json.dumps(state, indent=2))
    tokens_file = folder / "tokens.json"
    _private_file(tokens_file, json.dumps([{
        "subject": "dev-admin", "sha256": token_digest(state["admin_token"]),
        "permissions": [CONFIGURE_SERVER]}], indent=2))
    return state["encryption_keys"], state["admin_token"], tokens_file


async def _serve(settings: Settings, token: str, use_amqp: bool) -> None:
    bus: MessageBus
    if use_amqp:
        bus = await connect_bus(settings)
    else:
        bus = MemoryBus()
    client = connect(settings.mongodb_uri, app_name="clientkeys-dev")
    # One registry for both halves: the gateway's /metrics shows the worker's figures too.
    registry = new_registry()
    # The gateway's runner: a request it cannot read is answered without quoting it.
    runner = GatewayRunner(create_app(settings, bus=bus, registry=registry), access_log=None)
    await runner.setup()
    worker = Worker(bus, database(client), namespace=settings.namespace,
                    prefetch=settings.worker_prefetch, keyring=settings.live_keyring(),
                    metrics=WorkerMetrics(registry))
    await worker.start()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    url = f"http://{settings.http_host}:{settings.http_port}"
    print(f"clientkeys dev is running at {url}", flush=True)
    print(f"admin page: open {url}/ in a browser and paste this token", flush=True)
    print(f"admin token (configure_server): {token}", flush=True)
    print(f"the API: curl -H 'Authorization: Bearer {token}' {url}/v1/clients", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await site.stop()
        await worker.stop()
        await runner.cleanup()
        await bus.close()
        await client.close()


def run_dev() -> None:
    folder = Path(os.environ.get(PREFIX + "DEV_DIR", ".clientkeys")).resolve()
    keys, token, tokens_file = _dev_state(folder)
    env = dict(os.environ)
    if not env.get(PREFIX + "ENCRYPTION_KEYS_FILE"):
        env.setdefault(PREFIX + "ENCRYPTION_KEYS", keys)
    env[PREFIX + "TOKENS_FILE"] = str(tokens_file)
    use_amqp = bool(env.get(PREFIX + "AMQP_URL"))
    env.setdefault(PREFIX + "LOG_FORMAT", "console")  # a terminal, unless asked otherwise
    dev_db: DevDatabase | None = None
    if not env.get(PREFIX + "MONGODB_URI"):
        dev_db = DevDatabase(folder / "db", folder / "secantusd.log")
        env[PREFIX + "MONGODB_URI"] = dev_db.uri("clientkeys")
    try:
        settings = load_settings(env)
        configure_logging(settings.log_format, settings.log_level)
        run(_serve(settings, token, use_amqp))
    finally:
        if dev_db is not None:
            dev_db.stop()
