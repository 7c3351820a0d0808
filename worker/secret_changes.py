"""What a create or an edit does to a client's secret, as its metadata decides.

A client authenticating with a shared secret (common.client_metadata) holds
one, sealed for it (worker.stored_secrets); a public client holds none. An
edit that sets a new secret replaces the current one at once, with its issue
time and its expiry; an edit that makes a client public drops its secrets; an
edit may also move the expiry of the secret the client keeps.
"""

from __future__ import annotations

from datetime import datetime

from common.client_documents import ClientDocument
from common.client_metadata import SECRET_EXPIRY, ClientMetadata, holds_secret, stored_metadata
from common.clients import ClientFields, RuleViolation
from common.commands import CreateClient, UpdateClient
from common.keyring import SecretKeyring
from common.metadata_rules import secret_problems
from common.secret_grace import unexpired
from worker.stored_secrets import secret_to_store


def secret_checked(command: CreateClient | UpdateClient, fields: ClientFields,
                   metadata: ClientMetadata, keeps_secret: bool) -> None:
    """The secret rules of common.metadata_rules; raises RuleViolation. Whether the
    expiry is in the future was the gateway's to check (now=None), so a command
    delayed in the queue, or delivered again, still applies as it was accepted."""
    problems = secret_problems(
        fields.type, metadata, secret_inputs=["secret"] if command.secret else [],
        keeps_secret=keeps_secret, expiry=command.client_secret_expires_at, now=None)
    if problems:
        raise RuleViolation(problems)


def secret_changes(keyring: SecretKeyring, command: UpdateClient, current: ClientDocument,
                   metadata: ClientMetadata, changes: ClientDocument, at: datetime
                   ) -> list[str]:
    """Adds the edit's secret changes to `changes`; returns the names of what changed.

    Raises worker.stored_secrets.NotSealedForThisCommand for a secret sealed elsewhere.
    """
    changed: list[str] = []
    expiry = current.get(SECRET_EXPIRY)
    if command.secret is not None:
        # An edit replaces the secret at once: no grace, and the secrets a
        # rotation left valid end with it (the way to shut out a leaked one).
        changed.append("secret")
        changes["secret"] = secret_to_store(keyring, command, current["key"])
        changes["secret_rotated_at"] = changes["client_secret_issued_at"] = at
        changes["previous_secrets"] = []
        expiry = None  # a new secret expires when the edit says, or never
    elif holds_secret(stored_metadata(current)) and not holds_secret(metadata):
        # A client made public keeps no secret, current or previous.
        changed.append("secret")
        changes.update({"secret": None, "previous_secrets": [], "client_secret_issued_at": None})
        expiry = None
    if changed and unexpired(current.get("previous_secrets"), at):
        changed.append("previous_secrets")
    if command.client_secret_expires_at is not None or changed \
            or SECRET_EXPIRY in (command.cleared or ()):
        changes[SECRET_EXPIRY] = command.client_secret_expires_at or (
            None if SECRET_EXPIRY in (command.cleared or ()) else expiry)
        if changes[SECRET_EXPIRY] != current.get(SECRET_EXPIRY):
            changed.append(SECRET_EXPIRY)
    return changed
