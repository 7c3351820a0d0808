"""`clientkeys dev`: gateway and worker in one process, with nothing to set up.

State lives under `./.clientkeys/` (or `CLIENTKEYS_DEV_DIR`): a dev encryption
key and an admin token made on first start, a tokens file with the token's
hash, and the SecantusDB data. The bus is in-process unless
`CLIENTKEYS_AMQP_URL` is set; the database is a SecantusDB child process
unless `CLIENTKEYS_MONGODB_URI` is set; the banner says which. For development
only: the admin token is kept in plain text in that folder so that every start
can print it (the encryption key is kept there too, never printed). The files
are written whole or not at all (`replace_privately`), mode 0600.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
from pathlib import Path

from aiohttp import web

from api.auth.principals import CONFIGURE_SERVER
from api.auth.tokens import token_digest
from clientkeys.bootstrap import create_gateway, create_worker
from clientkeys.devdb import DevDatabase
from common.amqp_bus import connect_bus
from common.bus import MessageBus
from common.event_loop import run
from common.keyring import new_key_entry
from common.logs import configure_logging
from common.memory_bus import MemoryBus
from common.metrics import new_registry
from common.private_files import replace_privately
from common.settings import PREFIX, Settings, load_settings, redact_url
from worker.worker_metrics import WorkerMetrics


def _dev_state(folder: Path) -> tuple[str, str, Path]:
    """(encryption keyring, admin token, tokens file), made on first start."""
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "dev.json"
    if state_file.exists():
        state = json.loads(state_file.read_text())
    else:
        state = {"encryption_keys": new_key_entry("dev1"),
                 "admin_token": secrets.token_urlsafe(32)}
        replace_privately(state_file, json.dumps(state, indent=2))
    tokens_file = folder / "tokens.json"
    replace_privately(tokens_file, json.dumps([{
        "subject": "dev-admin", "sha256": token_digest(state["admin_token"]),
        "permissions": [CONFIGURE_SERVER]}], indent=2))
    return state["encryption_keys"], state["admin_token"], tokens_file


def _banner(settings: Settings, token: str, folder: Path, *, use_amqp: bool,
            dev_db: bool) -> list[str]:
    """What a start prints: where it listens, which bus and database it uses, the token."""
    url = f"http://{settings.http_host}:{settings.http_port}"
    bus = (f"RabbitMQ at {redact_url(settings.amqp_url)}" if use_amqp
           else f"in-process (set {PREFIX}AMQP_URL for RabbitMQ)")
    db = (f"SecantusDB under {folder / 'db'} (set {PREFIX}MONGODB_URI for MongoDB)" if dev_db
          else f"MongoDB at {redact_url(settings.mongodb_uri)}")
    return [f"clientkeys dev is running at {url}",
            f"bus: {bus}",
            f"database: {db}",
            f"dev encryption key, admin token and tokens file: under {folder}",
            f"admin page: open {url}/ in a browser and paste this token",
            f"admin token (configure_server): {token}",
            f"the API: curl -H 'Authorization: Bearer {token}' {url}/v1/clients"]


async def _serve(settings: Settings, banner: list[str], use_amqp: bool) -> None:
    bus: MessageBus
    if use_amqp:
        bus = await connect_bus(settings)
    else:
        bus = MemoryBus()
    # One registry for both halves: the gateway's /metrics shows the worker's figures too.
    registry = new_registry()
    try:
        async with (create_gateway(settings, bus=bus, registry=registry) as runner,
                    create_worker(settings, bus, metrics=WorkerMetrics(registry),
                                  app_name="clientkeys-dev") as parts):
            await parts.worker.start()
            site = web.TCPSite(runner, settings.http_host, settings.http_port)
            await site.start()
            for line in banner:
                print(line, flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            try:
                await stop.wait()
            finally:
                await site.stop()
                await parts.worker.stop()
    finally:
        await bus.close()


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
        banner = _banner(settings, token, folder, use_amqp=use_amqp, dev_db=dev_db is not None)
        run(_serve(settings, banner, use_amqp))
    finally:
        if dev_db is not None:
            dev_db.stop()
