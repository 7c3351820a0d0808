"""`clientkeys keys new|rotate|status`: the encryption keys, for operators.

`rotate` puts a new key first in the keyring file (running processes pick it up
within a second) and re-encrypts every stored secret under it; with the keyring
in `CLIENTKEYS_ENCRYPTION_KEYS` the operator puts the new key first and restarts
the processes, then runs `rotate --reencrypt-only`. Either also seals every value
stored before values were bound to their place (legacy) again, bound, so after an
upgrade `rotate --reencrypt-only` migrates them, while the service serves.
`status` counts the stored values under each key id, so an operator knows when an
old key may go, and the legacy values left. Only key ids and counts are ever
printed, never key material or secrets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pymongo.errors import PyMongoError

from common.keyring import Keyring, KeyringError, new_key_entry
from common.keyring_file import add_primary_key
from common.settings import PREFIX, Settings, SettingsError, Unreachable, load_settings
from common.store import connect, database
from worker.rekey import PassReport, StoredCounts, count_stored, reencrypt


def add_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="encryption keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    new = keys_commands.add_parser("new", help="print a new key_id:key entry for the keyring")
    new.add_argument("key_id", help="a short name for the key, e.g. 2026-11")
    rotate = keys_commands.add_parser(
        "rotate", help="put a new key first in the keyring file and re-encrypt every secret")
    rotate.add_argument("--key-id", help="name of the new key (default: the UTC time)")
    rotate.add_argument("--reencrypt-only", action="store_true",
                        help="add no key: re-encrypt under the keyring's first key (after "
                             "putting a new key first in CLIENTKEYS_ENCRYPTION_KEYS and "
                             "restarting every process), and bind legacy values to their "
                             "place (after an upgrade)")
    rotate.add_argument("--settle", type=float, default=None, metavar="SECONDS",
                        help="wait before re-checking for values sealed under the old key "
                             "by processes that had not reloaded yet (default: 3 after "
                             "adding a key, 0 with --reencrypt-only)")
    rotate.add_argument("--json", action="store_true", help="print one JSON object")
    status = keys_commands.add_parser(
        "status", help="how many stored secrets each key id holds")
    status.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.keys_command == "new":
        print(new_key_entry(args.key_id))
        return 0
    settings = load_settings()
    if args.keys_command == "status":
        keyring = settings.keyring()
        _print_status(keyring, asyncio.run(_counts(settings)), args.json)
        return 0
    if not args.reencrypt_only:
        if settings.encryption_keys_file is None:
            print(f"clientkeys: {PREFIX}ENCRYPTION_KEYS_FILE is not set. With the keyring in "
                  f"{PREFIX}ENCRYPTION_KEYS, put a new entry (`clientkeys keys new ID`) first "
                  "in it on every process, restart them, then run "
                  "`clientkeys keys rotate --reencrypt-only`.", file=sys.stderr)
            return 2
        settings.keyring()  # refuse to build on a keyring the processes would refuse
        key_id = args.key_id or datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        try:
            add_primary_key(settings.encryption_keys_file, key_id)
        except KeyringError as exc:
            raise SettingsError(f"{PREFIX}ENCRYPTION_KEYS_FILE: {exc}") from None
        if not args.json:
            print(f"new key {key_id!r} is first in {settings.encryption_keys_file}; running "
                  "processes use it within a second")
    settle = args.settle if args.settle is not None else (
        0.0 if args.reencrypt_only else 2 * settings.keyring_check_interval_s + 1)
    report, counts = asyncio.run(_reencrypt(settings, settle))
    keyring = settings.keyring()
    if args.json:
        print(json.dumps({"current_key_id": keyring.current_key_id,
                          "reencrypted": dict(report.reencrypted),
                          "unreadable": dict(report.unreadable),
                          "by_key": _by_key(keyring, counts),
                          "legacy": dict(counts.legacy)}))
        return 0
    for collection, count in sorted(report.reencrypted.items()):
        print(f"{collection}: {count} re-encrypted under {keyring.current_key_id!r}")
    if not report.reencrypted:
        print(f"nothing to re-encrypt: every stored secret is under {keyring.current_key_id!r}"
              + (", bound to its place" if not any(counts.legacy.values()) else ""))
    _print_status(keyring, counts, False)
    return 0


async def _counts(settings: Settings) -> StoredCounts:
    client = connect(settings.mongodb_uri, app_name="clientkeys-keys")
    try:
        return await count_stored(database(client))
    except PyMongoError as exc:
        raise Unreachable("MongoDB", settings.mongodb_uri, exc) from None
    finally:
        await client.close()


async def _reencrypt(settings: Settings, settle_s: float) -> tuple[PassReport, StoredCounts]:
    client = connect(settings.mongodb_uri, app_name="clientkeys-keys")
    try:
        db = database(client)
        report = await reencrypt(db, settings.keyring, settle_s=settle_s)
        return report, await count_stored(db)
    except PyMongoError as exc:
        raise Unreachable("MongoDB", settings.mongodb_uri, exc) from None
    finally:
        await client.close()


def _by_key(keyring: Keyring, stored: StoredCounts) -> dict[str, dict[str, Any]]:
    """Per key id (the keyring's and any other found stored): its role and counts."""
    counts: dict[str, Counter[str]] = stored.by_key
    found = {key_id for counted in counts.values() for key_id in counted}
    key_ids = [*keyring.key_ids, *sorted(found - set(keyring.key_ids))]
    return {key_id: {
        "role": ("current" if key_id == keyring.current_key_id
                 else "decrypt-only" if keyring.knows(key_id) else "not in the keyring"),
        "stored": {collection: counted[key_id] for collection, counted in counts.items()},
    } for key_id in key_ids}


def _print_status(keyring: Keyring, counts: StoredCounts, as_json: bool) -> None:
    by_key = _by_key(keyring, counts)
    if as_json:
        print(json.dumps({"current_key_id": keyring.current_key_id, "by_key": by_key,
                          "legacy": dict(counts.legacy)}))
        return
    print("stored secrets by key:")
    for key_id, entry in by_key.items():
        stored = ", ".join(f"{c} {n}" for c, n in entry["stored"].items())
        note = ""
        if entry["role"] == "decrypt-only" and not any(entry["stored"].values()):
            note = (" - unused; it may leave the keyring 24 hours after the rotation, "
                    "once `clientkeys dlq list` is empty")
        elif entry["role"] == "not in the keyring":
            note = " - these cannot be decrypted"
        print(f"  {key_id} ({entry['role']}): {stored}{note}")
    legacy = ", ".join(f"{c} {n}" for c, n in counts.legacy.items())
    note = (" - `clientkeys keys rotate --reencrypt-only` binds them"
            if any(counts.legacy.values()) else "")
    print(f"legacy values, not bound to their place: {legacy}{note}")
