"""Clients for the benchmark to read, list and check, written straight to MongoDB.

Each document is made by the worker's own create handler (so it has exactly the
shape the service stores), then given a status and an age, and inserted in
batches: 100 000 clients through the HTTP path would take longer than the whole
benchmark. The seeded clients carry no outbox, so no event is published for them.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from pymongo import AsyncMongoClient

from common.client_documents import ClientDocument
from common.clients import ClientType, Status
from common.commands import CreateClient
from common.keyring import Keyring, command_secret_aad, generate_secret
from common.store import CLIENTS, Document, ensure_indexes, now
from worker.handlers import create_client
from worker.repository import ClientStore

BATCH = 1000
_STATUSES = (Status.APPROVED, Status.APPROVED, Status.PENDING, Status.DISAPPROVED)
_TYPES = (ClientType.OAUTH2, ClientType.OIDC, ClientType.OAUTH1)


@dataclass
class Collected:
    """Stands in for the store: keeps what the handler would insert."""

    documents: list[ClientDocument] = field(default_factory=list)

    async def claim_client_key(self, operation_id: str, candidate: str) -> str:
        return candidate

    async def insert_client(self, document: ClientDocument) -> None:
        self.documents.append(document)


@dataclass(frozen=True)
class Seeded:
    """Keys by status, and the secrets of the first clients (approved OAuth 2.0 ones)."""

    keys: dict[Status, list[str]]
    secrets: dict[str, str]


def _command(number: int, kind: ClientType, keyring: Keyring, secret: str) -> CreateClient:
    web = kind is not ClientType.OAUTH1
    command_id = str(uuid.uuid4())
    return CreateClient(
        id=command_id, actor="bench", request_id=f"seed-{number}", type=kind,
        name=f"Seeded client {number:06d}",
        secret=keyring.seal(secret, command_secret_aad(command_id, CreateClient.kind)),
        redirect_uris=[f"https://app{number}.example.com/callback"] if web else [],
        grant_types=["authorization_code", "refresh_token"] if web else [],
        response_types=["code"] if web else [])


async def seed_clients(uri: str, keyring: Keyring, count: int, *,
                       with_secrets: int) -> Seeded:
    """`count` clients, the first `with_secrets` approved OAuth 2.0 clients whose
    secrets are returned; the rest spread over types and statuses, one a minute apart."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(uri, tz_aware=True,
                                                          uuidRepresentation="standard")
    keys: dict[Status, list[str]] = {status: [] for status in Status}
    known: dict[str, str] = {}
    start = now()
    try:
        db = client.get_default_database()
        await ensure_indexes(db)
        for first in range(0, count, BATCH):
            collected = Collected()
            store = cast(ClientStore, collected)
            for number in range(first, min(first + BATCH, count)):
                checked = number < with_secrets
                secret = generate_secret() if checked else secrets.token_hex(8)
                kind = ClientType.OAUTH2 if checked else _TYPES[number % len(_TYPES)]
                applied = await create_client(_command(number, kind, keyring, secret), store,
                                              keyring)
                if applied.outcome.error is not None:
                    raise ValueError(f"seed client {number}: {applied.outcome.error.message}")
                document = collected.documents[-1]
                status = Status.APPROVED if checked else _STATUSES[number % len(_STATUSES)]
                _age(document, status, start - timedelta(minutes=count - number))
                keys[status].append(document["key"])
                if checked:
                    known[document["key"]] = secret
            await db[CLIENTS].insert_many(cast(list[Document], collected.documents),
                                          ordered=False)
    finally:
        await client.close()
    return Seeded(keys, known)


def _age(document: ClientDocument, status: Status, at: datetime) -> None:
    """Give the new document its status and creation time, and no outbox."""
    document.pop("outbox", None)
    document.pop("outbox_since", None)
    document.update({"status": status.value, "created_at": at, "updated_at": at,
                     "status_changed_at": at})
