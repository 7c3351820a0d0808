"""Every operation the worker performs: one handler per command, and the table.

A handler is a plain function of the command, a ClientStore, the keyring (a
secret is sealed again for the client it is stored in: worker.stored_secrets)
and the key its operation claimed as it started, the same four for every
handler, so the table below is typed row by row. Only a command that
`makes_client` (a create) has a claimed key: the consumer claims it in the
very write that starts the operation (`key_to_claim`, `start_operation`), since
claiming it in the handler would be one more write to the operation, a round
trip tests/integration/test_round_trips.py would count; the create's handler
claims it itself only when handed none (a unit test, a seed). It writes the change
together with the events it causes (the client's outbox) and returns the
outcome, with the client's outbox as its write left it (or as it read it), so
the consumer publishes that without reading it again; it publishes nothing
itself. Unit tests call them with an in-memory store.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from bson import ObjectId

from common.client_documents import CURRENT_SECRET, PREVIOUS_SECRETS, ClientDocument
from common.client_metadata import (
    METADATA_FIELDS,
    ClientMetadata,
    holds_secret,
    metadata_after_edit,
    stored_metadata,
)
from common.client_origin import ADMIN_ORIGIN
from common.client_view import public_client
from common.clients import (
    EDITABLE_FIELDS,
    ClientFields,
    RuleViolation,
    Status,
    next_status,
)
from common.commands import (
    ApproveClient,
    Command,
    CreateClient,
    DisapproveClient,
    EndSecretGrace,
    RemoveClient,
    RotateSecret,
    UpdateClient,
)
from common.events import ClientEvent, ClientEventType
from common.keyring import SecretKeyring
from common.metadata_rules import check_registration
from common.outcomes import ErrorCode, OperationStatus, Outcome
from common.secret_grace import after_rotation, unexpired
from common.store import now
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken
from worker.applied import Applied, failed, outbox_of
from worker.registration_changes import registration_changes
from worker.repository import AlreadyCreated, ClientStore
from worker.secret_changes import secret_changes, secret_checked
from worker.stored_secrets import NotSealedForThisCommand, moved_to_previous, secret_to_store
from worker.token_handlers import create_registration_token, revoke_registration_token

# What a command writes that a gateway's read model keeps beyond the public view: with
# it, the client as stored goes to the gateway with the outcome (common.outcome_replies).
_SECRETS = frozenset((CURRENT_SECRET, PREVIOUS_SECRETS))
# What a client's handler returns: its outcome and the client's events.
ClientApplied = Applied[ClientEvent]
CLIENT_KEY_BYTES = 24  # 192 random bits, 32 URL-safe characters
# How often a handler re-reads and retries when another worker changed the
# same client between its read and its write.
MAX_VERSION_RETRIES = 20


def new_client_key() -> str:
    return secrets.token_urlsafe(CLIENT_KEY_BYTES)


def _succeeded(command: Command, document: ClientDocument, warnings: list[str] | None = None
               ) -> Outcome:
    return Outcome(command.id, command.kind, OperationStatus.SUCCEEDED,
                   client_key=document["key"], client=public_client(document),
                   warnings=warnings or [])


def _not_found(command: Command) -> ClientApplied:
    return Applied(failed(command, ErrorCode.NOT_FOUND,
                           f"There is no client with key {command.client_key!r}."))


def _stale(command: Command, current: ClientDocument) -> ClientApplied | None:
    """A failed outcome if the caller's expected version no longer holds."""
    expected = getattr(command, "expected_version", None)
    if expected is None or expected == current["version"]:
        return None
    return Applied(failed(
        command, ErrorCode.STALE,
        f"The client is at version {current['version']}, not {expected}: it changed since "
        "it was read. Read it again and retry."))


def _invalid(command: Command, exc: RuleViolation) -> ClientApplied:
    return Applied(failed(command, ErrorCode.INVALID, "The client is not valid.", exc.errors))


def _unsealable(command: Command, exc: NotSealedForThisCommand) -> ClientApplied:
    return Applied(failed(command, ErrorCode.INVALID, str(exc), {"secret": [str(exc)]}))


def _after(current: ClientDocument, changes: ClientDocument) -> dict[str, Any]:
    """The public view the client will have once `changes` apply at the next version.

    The write is guarded by the version read, so this is exactly what is stored.
    """
    return public_client({**current, **changes, "version": current["version"] + 1})


def _editable(fields: ClientFields, metadata: ClientMetadata) -> ClientDocument:
    document: ClientDocument = {
        "name": fields.name,
        "name_sort": fields.name.casefold(),
        "redirect_uris": fields.redirect_uris,
        "grant_types": fields.grant_types,
        "response_types": fields.response_types,
    }
    document.update(metadata.to_document())  # type: ignore[typeddict-item]
    return document


def key_to_claim(command: Command) -> str | None:
    """A command that makes a client claims its key in the write that starts its operation."""
    return new_client_key() if command.makes_client else None


async def create_client(command: CreateClient, store: ClientStore, keyring: SecretKeyring,
                        claimed_key: str | None = None) -> ClientApplied:
    """`claimed_key`: the key claimed as the operation started; claimed here if None."""
    try:
        fields, metadata, warnings = check_registration(ClientFields(
            command.type, command.name, command.redirect_uris, command.grant_types,
            command.response_types), ClientMetadata(
                **{name: getattr(command, name) for name in METADATA_FIELDS
                   if getattr(command, name) is not None}))
        secret_checked(command, fields, metadata, keeps_secret=False)
    except RuleViolation as exc:
        return _invalid(command, exc)
    at = now()
    key = claimed_key or await store.claim_client_key(command.id, new_client_key())
    try:
        secret = secret_to_store(keyring, command, key) if command.secret else None
    except NotSealedForThisCommand as exc:
        return _unsealable(command, exc)
    document: ClientDocument = {
        "_id": ObjectId(),  # here, not by the driver's insert: the reply carries it
        "key": key,
        "type": fields.type.value,
        **_editable(fields, metadata),
        "secret": secret,
        "client_secret_issued_at": at if secret else None,
        "client_secret_expires_at": command.client_secret_expires_at if secret else None,
        "status": (Status.APPROVED if command.auto_approve else Status.PENDING).value,
        "origin": command.origin or dict(ADMIN_ORIGIN),
        "created_at": at,
        "updated_at": at,
        "status_changed_at": at,
        "version": 1,
        "created_by": command.id,
        "applied_commands": [command.id],
    }
    if command.registration_access_sha256 is not None:
        document["registration_access_sha256"] = command.registration_access_sha256
    event = ClientEvent(ClientEventType.CREATED, public_client(document), command.actor,
                        command.id, request_id=command.request_id, time=at)
    document["outbox"] = [event.to_document()]
    document["outbox_since"] = at
    # A self-registration's use of its token, taken once the client is known valid and
    # right before it is made (a redelivery takes none again): the token decides.
    token_id = command.registration_token
    if token_id is not None and not await store.tokens.take_use(token_id, command.id, at):
        return Applied(failed(command, ErrorCode.TOKEN_UNUSABLE, "The initial access token "
                              "has expired, was revoked or is used up."))
    try:
        await store.insert_client(document)
    except AlreadyCreated as exc:  # a redelivery: the client exists, say so again
        return Applied(_succeeded(command, exc.document, warnings),
                       outbox=outbox_of(exc.document))
    # A new document: its outbox is exactly what this insert wrote.
    return Applied(_succeeded(command, document, warnings), [event], outbox_of(document),
                   stored=document)


@dataclass(frozen=True)
class _Change:
    """What a command does to the client it read: the fields to set and the event."""

    changes: ClientDocument
    event: ClientEvent
    warnings: list[str] = field(default_factory=list)


OneClientCommand = (UpdateClient | ApproveClient | DisapproveClient | RemoveClient
                    | RotateSecret | EndSecretGrace)


async def _change_client(command: OneClientCommand, store: ClientStore,
                         decide: Callable[[ClientDocument], ClientApplied | _Change]
                         ) -> ClientApplied:
    """Read, decide, write guarded by the version read; read again if someone was faster."""
    for _ in range(MAX_VERSION_RETRIES):
        current = await store.get_client(command.client_key)
        if current is None:
            return await _gone(command, store)
        if command.id in current.get("applied_commands", []):  # a redelivery
            return Applied(_succeeded(command, current), outbox=outbox_of(current))
        decision = _stale(command, current) or decide(current)
        if isinstance(decision, Applied):  # nothing to write
            return replace(decision, outbox=outbox_of(current))
        updated = await store.update_client(current, decision.changes, command.id,
                                            decision.event.to_document())
        if updated is not None:
            wrote_secrets = not _SECRETS.isdisjoint(decision.changes) \
                and "removed_at" not in decision.changes
            return Applied(_succeeded(command, updated, decision.warnings), [decision.event],
                           outbox_of(updated),
                           stored=updated if wrote_secrets else None)
    return Applied(failed(command, ErrorCode.CONFLICT,
                           "The client kept changing while this command was applied; "
                           "try again."))


async def _gone(command: OneClientCommand, store: ClientStore) -> ClientApplied:
    """Not found, unless this very command was applied before the client was removed."""
    tombstone = await store.get_client(command.client_key, include_removed=True)
    if tombstone is not None and command.id in tombstone.get("applied_commands", []):
        return Applied(_succeeded(command, tombstone), outbox=outbox_of(tombstone))
    return _not_found(command)


async def update_client(command: UpdateClient, store: ClientStore,
                        keyring: SecretKeyring, claimed_key: str | None = None) -> ClientApplied:
    def decide(current: ClientDocument) -> ClientApplied | _Change:
        before, meta_before = ClientFields.of(current), stored_metadata(current)
        try:
            edited = before.edited(vars(command))
            after, metadata, warnings = check_registration(edited, metadata_after_edit(
                current, vars(command), command.cleared or (), edited.grant_types))
            secret_checked(command, after, metadata, keeps_secret=holds_secret(meta_before))
        except RuleViolation as exc:
            return _invalid(command, exc)
        changed = [f for f in EDITABLE_FIELDS if getattr(after, f) != getattr(before, f)]
        changed += [f for f in METADATA_FIELDS if getattr(metadata, f) != getattr(meta_before, f)]
        changes = _editable(after, metadata)
        at = now()
        try:
            changed += secret_changes(keyring, command, current, metadata, changes, at)
        except NotSealedForThisCommand as exc:
            return _unsealable(command, exc)
        left = registration_changes(command, current, changed, changes, at)  # RFC 7592
        if not changed:
            return Applied(_succeeded(command, current, warnings))
        changes["updated_at"] = at
        return _Change(changes, ClientEvent(
            ClientEventType.UPDATED, _after(current, changes), command.actor, command.id,
            request_id=command.request_id, previous_status=left,
            changed_fields=changed, time=at), warnings)

    return await _change_client(command, store, decide)


async def _change_status(command: ApproveClient | DisapproveClient, action: str,
                         event_type: ClientEventType, store: ClientStore) -> ClientApplied:
    def decide(current: ClientDocument) -> ClientApplied | _Change:
        previous = Status(current["status"])
        target = next_status(action, previous)
        if target is None:
            return Applied(_succeeded(command, current))
        at = now()
        changes: ClientDocument = {"status": target.value, "status_changed_at": at,
                                   "updated_at": at}
        return _Change(changes, ClientEvent(
            event_type, _after(current, changes), command.actor, command.id,
            request_id=command.request_id,
            previous_status=previous.value, time=at))

    return await _change_client(command, store, decide)


async def approve_client(command: ApproveClient, store: ClientStore,
                         keyring: SecretKeyring, claimed_key: str | None = None) -> ClientApplied:
    return await _change_status(command, "approve", ClientEventType.APPROVED, store)


async def disapprove_client(command: DisapproveClient, store: ClientStore,
                            keyring: SecretKeyring, claimed_key: str | None = None
                            ) -> ClientApplied:
    return await _change_status(command, "disapprove", ClientEventType.DISAPPROVED, store)


async def remove_client(command: RemoveClient, store: ClientStore,
                        keyring: SecretKeyring, claimed_key: str | None = None) -> ClientApplied:
    def decide(current: ClientDocument) -> _Change:
        at = now()
        # A tombstone without its secrets: readers skip it, a TTL index deletes it.
        # Its registration access token (RFC 7592) is revoked with it.
        changes: ClientDocument = {"removed_at": at, "updated_at": at, "secret": None,
                                   "previous_secrets": [], "registration_access_sha256": None}
        return _Change(changes, ClientEvent(
            ClientEventType.REMOVED, _after(current, changes), command.actor, command.id,
            request_id=command.request_id,
            previous_status=current["status"], time=at))

    return await _change_client(command, store, decide)


async def rotate_secret(command: RotateSecret, store: ClientStore,
                        keyring: SecretKeyring, claimed_key: str | None = None) -> ClientApplied:
    """The new secret; the replaced one stays valid for the command's grace."""
    def decide(current: ClientDocument) -> ClientApplied | _Change:
        at = now()
        try:
            secret = secret_to_store(keyring, command, current["key"])
        except NotSealedForThisCommand as exc:
            return _unsealable(command, exc)
        if not holds_secret(stored_metadata(current)):
            return _invalid(command, RuleViolation({"secret": [
                "A client without a secret (token_endpoint_auth_method none) has none to "
                "rotate."]}))
        # The replaced secret, sealed again for the previous slot (unless dropped at once).
        replaced = (moved_to_previous(keyring, current.get("secret"), current["key"])
                    if command.grace_seconds > 0 else None)
        changes: ClientDocument = {
            "secret": secret,
            "previous_secrets": after_rotation({**current, "secret": replaced}, at,
                                               command.grace_seconds),
            "secret_rotated_at": at, "client_secret_issued_at": at,
            "client_secret_expires_at": command.client_secret_expires_at, "updated_at": at}
        return _Change(changes, ClientEvent(
            ClientEventType.SECRET_ROTATED, _after(current, changes), command.actor,
            command.id, request_id=command.request_id, time=at))

    return await _change_client(command, store, decide)


async def end_secret_grace(command: EndSecretGrace, store: ClientStore,
                           keyring: SecretKeyring, claimed_key: str | None = None) -> ClientApplied:
    """Previous secrets end now. An ordinary edit of the client, so its event is
    `updated` with changed_fields ["previous_secrets"]; with none valid, nothing changes."""
    def decide(current: ClientDocument) -> ClientApplied | _Change:
        at = now()
        if not unexpired(current.get("previous_secrets"), at):
            return Applied(_succeeded(command, current))
        changes: ClientDocument = {"previous_secrets": [], "updated_at": at}
        return _Change(changes, ClientEvent(
            ClientEventType.UPDATED, _after(current, changes), command.actor, command.id,
            request_id=command.request_id,
            changed_fields=["previous_secrets"], time=at))

    return await _change_client(command, store, decide)


C = TypeVar("C", bound=Command)
# Called with the command, the store, the keyring and the key its operation claimed
# as it started (one only for a command that `makes_client`): one signature for all.
Handler = Callable[[C, ClientStore, SecretKeyring, str | None], Awaitable[Applied[Any]]]


def _handles(command_type: type[C], handler: Handler[C]) -> tuple[type[C], Handler[C]]:
    """One row of the table; mypy checks that the handler takes that very type."""
    return command_type, handler


# The one table of everything the worker can do. A row's handler takes its row's
# type (checked by `_handles`); a table of mixed rows cannot say so to mypy, so
# `handle` is the one place that looks a row up, and it looks up by the command's own type.
HANDLERS: dict[type[Command], Handler[Any]] = dict([
    _handles(CreateClient, create_client),
    _handles(UpdateClient, update_client),
    _handles(ApproveClient, approve_client),
    _handles(DisapproveClient, disapprove_client),
    _handles(RemoveClient, remove_client),
    _handles(RotateSecret, rotate_secret),
    _handles(EndSecretGrace, end_secret_grace),
    _handles(CreateRegistrationToken, create_registration_token),
    _handles(RevokeRegistrationToken, revoke_registration_token),
])


async def handle(command: Command, store: ClientStore, keyring: SecretKeyring, *,
                 claimed_key: str | None = None) -> Applied[Any]:
    """Apply the command; `claimed_key` is what `key_to_claim` claimed for it."""
    return await HANDLERS[type(command)](command, store, keyring, claimed_key)
