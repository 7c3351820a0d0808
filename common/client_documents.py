"""The clients collection's documents: their shape, written down once.

The worker (`worker.repository`, with the handlers that decide each change)
is the only writer; the gateway reads them (`api.views.queries`, `api.verify.read_model`,
`api.views.stats`), the re-encryption tool (`worker.rekey`) re-seals their secrets
and the benchmark seeds them. They all name the fields through
`ClientDocument` and the field sets below, so a field added or renamed is
changed here and mypy points at the places that have to follow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, TypedDict, TypeVar

from bson import ObjectId

from common.secret_grace import PreviousSecret


class ClientDocument(TypedDict, total=False):
    """One stored client. Every key is set by a create except those marked later."""

    _id: ObjectId
    key: str  # unique and immutable: the shard key
    type: str  # a ClientType value
    name: str
    name_sort: str  # the name casefolded, for the by-name order
    status: str  # a Status value
    redirect_uris: list[str]
    grant_types: list[str]
    response_types: list[str]
    # RFC 7591 metadata (common.client_metadata). A client stored before they were kept
    # has none of them: `stored_metadata` reads them, with their defaults.
    token_endpoint_auth_method: str | None  # None for OAuth 1.0a consumers
    scope: list[str]  # sorted unique scope tokens
    require_pkce: bool | None
    post_logout_redirect_uris: list[str]
    client_uri: str | None
    logo_uri: str | None
    policy_uri: str | None
    tos_uri: str | None
    contacts: list[str]
    client_secret_issued_at: datetime | None  # whenever the secret is set; None: no secret
    client_secret_expires_at: datetime | None  # None: never
    # A SealedSecret.to_document() bound to the key and the current slot; None once
    # removed, and for a client without a secret (token_endpoint_auth_method none).
    secret: dict[str, Any] | None
    previous_secrets: list[PreviousSecret]  # after a rotation or an edit
    secret_rotated_at: datetime  # after a rotation or an edit of the secret
    # Who made it (common.client_origin); absent on clients stored before: an administrator.
    origin: dict[str, Any]
    # RFC 7592: the SHA-256 hex digest of the registration access token of a
    # self-registered client (never the token); None once removed.
    registration_access_sha256: str | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime
    # Every change is guarded by the version read and increments it (the ETag).
    version: int
    created_by: str  # the create's command id, so a redelivered create is recognised
    applied_commands: list[str]  # the last APPLIED_COMMANDS_KEPT command ids
    # Events not yet confirmed by the broker (`worker.relay`), and since when.
    outbox: list[dict[str, Any]]
    outbox_since: datetime  # only while the outbox is not empty (a sparse index)
    removed_at: datetime | None  # a tombstone once set; None (or absent) while it exists


# Matches clients that exist: a removed client is a tombstone until a week after its
# removal (worker.tombstone_purge).
LIVE: Final[dict[str, Any]] = {"removed_at": None}
_Found = TypeVar("_Found", bound=Mapping[str, Any])


def live(found: _Found | None) -> _Found | None:
    """A client read by its key alone, unless it is a tombstone.

    A read of one client filters on `key` and nothing else and leaves tombstones out
    here: a filter of one field is what every server serves from its index, where
    SecantusDB's explain shows a collection scan for `{key, removed_at}` and answered it
    in 1.9 ms against 1.2 ms for the key alone (20,000 clients). A query over many
    clients still filters with LIVE."""
    return None if found is None or found.get("removed_at") is not None else found


# Where a client's sealed secrets are stored: the current one, and replaced ones.
CURRENT_SECRET: Final = "secret"
PREVIOUS_SECRETS: Final = "previous_secrets"
# No secret, current or previous, leaves the database through a read, nor do the
# worker's own bookkeeping fields.
WITHOUT_SECRETS: Final[dict[str, int]] = {
    CURRENT_SECRET: 0, f"{PREVIOUS_SECRETS}.{CURRENT_SECRET}": 0, "applied_commands": 0,
    "outbox": 0, "registration_access_sha256": 0}
