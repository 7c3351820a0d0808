"""Re-encrypting stored secrets under the keyring's current key, and counting them.

Sealed values live where `SEALED_FIELDS` says, each bound to its place by the
associated data that field names (common.keyring). A pass reads them in batches,
opens every value not under the current key, or sealed before values were bound
to their place (legacy), and seals it again under the current key, bound. Each
document is written back with one update guarded on the exact sealed values read
(key id and nonce, which is random per value), so a change made meanwhile — an
edit that sets a new secret, a removal — is never overwritten: that document is
simply left for the next pass. Only the sealed values change: not the client's
`version` (its ETag), not `updated_at`, and no event is emitted.

Running it again is harmless; `count_stored` says how many values each key still
holds, so an operator knows when an old key may leave the keyring, and how many
legacy values are left (none once a pass has run after every process was upgraded).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from pymongo import UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from common.client_documents import CURRENT_SECRET, PREVIOUS_SECRETS
from common.keyring import (
    SealedSecret,
    SecretKeyring,
    SecretSlot,
    client_secret_aad,
    idempotent_response_aad,
)
from common.store import CLIENTS, IDEMPOTENCY_KEYS, Document

# The associated data a field's values are bound to, from their document.
BoundTo = Callable[[Mapping[str, Any]], bytes]


def _client_slot(slot: SecretSlot) -> BoundTo:
    return lambda document: client_secret_aad(str(document["key"]), slot)


# Every place a sealed value is stored: collection -> field path -> what binds
# its values. A field may hold a sealed value, or a list or sub-document with
# sealed values in it (such as a list of previous secrets, kept for a while
# after a change); all of them are bound alike.
SEALED_FIELDS: Mapping[str, Mapping[str, BoundTo]] = {
    CLIENTS: {CURRENT_SECRET: _client_slot(SecretSlot.CURRENT),
              PREVIOUS_SECRETS: _client_slot(SecretSlot.PREVIOUS)},
    # A record's secret (kept until its answer is stored) is part of its answer.
    IDEMPOTENCY_KEYS: {path: lambda document: idempotent_response_aad(str(document["_id"]))
                       for path in ("response.body", "secret")},
}
# Fields the binding is read from, beside the sealed ones (`_id` always comes).
_BINDING_FIELDS: Mapping[str, tuple[str, ...]] = {CLIENTS: ("key",), IDEMPOTENCY_KEYS: ()}
BATCH_SIZE = 100
# Passes after the first, re-checking for values sealed under an old key meanwhile.
MAX_CHECK_PASSES = 5


def _is_sealed(value: Any) -> bool:
    return (isinstance(value, Mapping) and isinstance(value.get("kid"), str)
            and isinstance(value.get("nonce"), bytes) and isinstance(value.get("ct"), bytes))


def _sealed_under(value: Any, path: str) -> Iterator[tuple[str, SealedSecret]]:
    """(path, sealed value) for every sealed value in `value`, itself at `path`."""
    if _is_sealed(value):
        yield path, SealedSecret.from_document(value)
    elif isinstance(value, Mapping):
        for name, inner in value.items():
            yield from _sealed_under(inner, f"{path}.{name}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _sealed_under(inner, f"{path}.{index}")


def _at(document: Mapping[str, Any], path: str) -> Any:
    value: Any = document
    for name in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def sealed_values(document: Mapping[str, Any], paths: Mapping[str, BoundTo]
                  ) -> list[tuple[str, SealedSecret, BoundTo]]:
    """(path, sealed value, its binding) for every sealed value of `document`."""
    return [(found, sealed, bound_to) for path, bound_to in paths.items()
            for found, sealed in _sealed_under(_at(document, path), path)]


async def _batches(db: AsyncDatabase[Document], collection: str,
                   each: Callable[[list[Document]], Awaitable[None]]) -> None:
    projection = {path: 1 for path in (*SEALED_FIELDS[collection],
                                       *_BINDING_FIELDS[collection])}
    batch: list[Document] = []
    async for document in db[collection].find({}, projection).batch_size(BATCH_SIZE):
        batch.append(document)
        if len(batch) == BATCH_SIZE:
            await each(batch)
            batch = []
    if batch:
        await each(batch)


@dataclass
class StoredCounts:
    """What is stored sealed, per collection."""

    # Key id -> how many stored values it holds.
    by_key: dict[str, Counter[str]] = field(default_factory=dict)
    # How many values are still sealed the legacy way, not bound to their place.
    legacy: Counter[str] = field(default_factory=Counter)


async def count_stored(db: AsyncDatabase[Document]) -> StoredCounts:
    counts = StoredCounts()
    for collection, paths in SEALED_FIELDS.items():
        counted: Counter[str] = Counter()
        counts.legacy[collection] = 0

        async def count(batch: list[Document], counted: Counter[str] = counted,
                        collection: str = collection,
                        paths: Mapping[str, BoundTo] = paths) -> None:
            for document in batch:
                for _, sealed, _ in sealed_values(document, paths):
                    counted[sealed.key_id] += 1
                    counts.legacy[collection] += not sealed.bound

        await _batches(db, collection, count)
        counts.by_key[collection] = counted
    return counts


@dataclass
class PassReport:
    """What one pass did, per collection."""

    reencrypted: Counter[str] = field(default_factory=Counter)
    # Documents changed by someone else between the read and the write.
    changed_meanwhile: Counter[str] = field(default_factory=Counter)
    # Values under a key id that is not in the keyring (or that does not open).
    unreadable: Counter[str] = field(default_factory=Counter)

    @property
    def work_left(self) -> bool:
        return sum(self.reencrypted.values()) + sum(self.changed_meanwhile.values()) > 0

    def add(self, other: PassReport) -> None:
        self.reencrypted.update(other.reencrypted)
        self.changed_meanwhile.update(other.changed_meanwhile)
        self.unreadable = other.unreadable  # only the last pass says what is left


async def reencrypt_pass(db: AsyncDatabase[Document], keyring: SecretKeyring) -> PassReport:
    """Seal every stored value not under the keyring's current key, or not bound to
    its place, again under that key, bound."""
    report = PassReport()
    current = keyring.current_key_id
    for collection, paths in SEALED_FIELDS.items():

        async def rewrite(batch: list[Document], collection: str = collection,
                          paths: Mapping[str, BoundTo] = paths) -> None:
            updates = []
            for document in batch:
                guard: Document = {"_id": document["_id"]}
                changes: Document = {}
                for path, sealed, bound_to in sealed_values(document, paths):
                    if sealed.key_id == current and sealed.bound:
                        continue
                    aad = bound_to(document)
                    try:
                        plaintext = keyring.open(sealed, aad)
                    except (ValueError, InvalidTag):  # a key not in the keyring, or wrong
                        report.unreadable[sealed.key_id] += 1
                        continue
                    guard[f"{path}.kid"] = sealed.key_id
                    guard[f"{path}.nonce"] = sealed.nonce
                    changes[path] = keyring.seal(plaintext, aad).to_document()
                if changes:
                    updates.append(UpdateOne(guard, {"$set": changes}))
            if updates:
                result = await db[collection].bulk_write(updates, ordered=False)
                if result.matched_count:
                    report.reencrypted[collection] += result.matched_count
                if missed := len(updates) - result.matched_count:
                    report.changed_meanwhile[collection] += missed

        await _batches(db, collection, rewrite)
    return report


async def reencrypt(db: AsyncDatabase[Document], load_keyring: Callable[[], SecretKeyring], *,
                    settle_s: float = 0.0) -> PassReport:
    """Passes until one finds nothing to do (at most 1 + MAX_CHECK_PASSES).

    The keyring is loaded again for every pass, so a key added meanwhile is
    used. Before the first re-check it waits `settle_s`: long enough for every
    running process to have picked up a new key, so that values they sealed
    under the old one in the meantime are caught too.
    """
    total = PassReport()
    total.add(await reencrypt_pass(db, load_keyring()))
    if settle_s > 0:
        await asyncio.sleep(settle_s)
    for _ in range(MAX_CHECK_PASSES):
        latest = await reencrypt_pass(db, load_keyring())
        total.add(latest)
        if not latest.work_left:
            break
    return total
