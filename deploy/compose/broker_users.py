"""docker compose's `init`: a password for each RabbitMQ user of deploy/rabbitmq/definitions.json.

    python3 broker_users.py TEMPLATE BROKER_DIR

TEMPLATE is the committed definitions (topology, users, permissions; no
passwords). For each process user `clientkeys-<role>` the process's AMQP URL,
with a random password, is kept in BROKER_DIR/<role>/url (mode 0600, the only
copy of the password; each process mounts only its own folder). The definitions
RabbitMQ loads at boot, the template plus each user's salted password hash, are
written to BROKER_DIR/rabbitmq/definitions.json. `clientkeys-admin` (the
management UI, monitoring only) gets a password printed here once; only its
hash is kept. A later run keeps every password and takes the template's
permissions as they are now.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BROKER_HOST = "rabbitmq:5672"
USER_PREFIX = "clientkeys-"
ADMIN = "clientkeys-admin"


def password_hash(password: str) -> str:
    """RabbitMQ's rabbit_password_hashing_sha256: base64(salt[4] + sha256(salt + password))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def hash_matches(stored: str, password: str) -> bool:
    raw = base64.b64decode(stored)
    return len(raw) == 36 and hashlib.sha256(raw[:4] + password.encode()).digest() == raw[4:]


def _write_private(path: Path, text: str, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".new")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    os.fchmod(descriptor, mode)  # exactly this mode, whatever the umask
    with os.fdopen(descriptor, "w") as out:
        out.write(text)
    os.replace(partial, path)


def _url_password(url_file: Path) -> str | None:
    if not url_file.exists():
        return None
    return urlsplit(url_file.read_text().strip()).password


def make(template: dict[str, Any], broker_dir: Path) -> dict[str, Any]:
    """The definitions to load, with every process's URL file in place."""
    loaded = broker_dir / "rabbitmq" / "definitions.json"
    before = {user["name"]: user.get("password_hash", "")
              for user in (json.loads(loaded.read_text())["users"] if loaded.exists() else [])}
    users = []
    for user in template["users"]:
        name, stored = user["name"], before.get(user["name"], "")
        if name == ADMIN:
            if not stored:
                password = secrets.token_urlsafe(24)
                stored = password_hash(password)
                print(f"init: RabbitMQ management UI user {ADMIN} (monitoring only), "
                      f"password shown this once: {password}")
        else:
            url_file = broker_dir / name.removeprefix(USER_PREFIX) / "url"
            kept = _url_password(url_file)
            password = kept or secrets.token_urlsafe(32)  # URL-safe: needs no quoting
            if not kept:
                _write_private(url_file, f"amqp://{name}:{password}@{BROKER_HOST}/\n", 0o600)
                print(f"init: made the broker user {name}; its URL is in {url_file}")
            if not stored or not hash_matches(stored, password):
                stored = password_hash(password)
        users.append({**user, "password_hash": stored,
                      "hashing_algorithm": "rabbit_password_hashing_sha256"})
    # Readable by RabbitMQ's own user: hashes only, in a volume only RabbitMQ and init mount.
    definitions = {**template, "users": users}
    _write_private(loaded, json.dumps(definitions, indent=2) + "\n", 0o644)
    return definitions


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    template, broker_dir = argv
    make(json.loads(Path(template).read_text()), Path(broker_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
