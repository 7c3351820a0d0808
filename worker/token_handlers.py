"""The handlers of the commands about initial access tokens (common.token_commands).

Each is one single-document write of the token with its event in the token's
outbox (worker.token_store), answered with the token's public record and that
outbox, which the consumer publishes right after, as for a client's change. A
redelivered command is recognised by its id on the token (`applied_commands`)
and answered as the first delivery was, with no second event.
"""

from __future__ import annotations

from common.events import RegistrationTokenEvent, RegistrationTokenEventType
from common.keyring import SecretKeyring
from common.outcomes import ErrorCode, OperationStatus, Outcome
from common.registration_tokens import (
    RegistrationTokenDocument,
    canonical_policy,
    new_document,
    public_token,
)
from common.store import now
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken
from worker.applied import Applied, KeptIn, failed, outbox_of
from worker.repository import ClientStore
from worker.token_store import TokenExists

# What a token's handler returns: its outcome and the token's events.
TokenApplied = Applied[RegistrationTokenEvent]


def _answered(command: CreateRegistrationToken | RevokeRegistrationToken,
              store: ClientStore, token: RegistrationTokenDocument,
              events: list[RegistrationTokenEvent] | None = None) -> TokenApplied:
    outcome = Outcome(command.id, command.kind, OperationStatus.SUCCEEDED,
                      token=public_token(token))
    return Applied(outcome, list(events or []), outbox_of(token),
                   KeptIn(store.tokens, token["_id"]))


async def create_registration_token(command: CreateRegistrationToken, store: ClientStore,
                                    keyring: SecretKeyring,
                                    claimed_key: str | None = None) -> TokenApplied:
    at = now()
    token = new_document(command.token_sha256, label=command.label.strip(),
                         created_by=command.actor, created_at=at,
                         expires_at=command.expires_at, max_uses=command.max_uses,
                         policy=canonical_policy(command.policy))
    event = RegistrationTokenEvent(RegistrationTokenEventType.CREATED, public_token(token),
                                   command.actor, command.id, command.request_id, time=at)
    token["applied_commands"] = [command.id]
    token["outbox"], token["outbox_since"] = [event.to_document()], at
    try:
        await store.tokens.insert_token(token)
    except TokenExists as exc:
        if command.id in exc.document.get("applied_commands", []):  # a redelivery
            return _answered(command, store, exc.document)
        # 256 random bits never collide in practice; if they did, say so rather than
        # answer with another administrator's token.
        return Applied(failed(command, ErrorCode.CONFLICT, "A token of that digest exists."))
    return _answered(command, store, token, [event])


async def revoke_registration_token(command: RevokeRegistrationToken, store: ClientStore,
                                    keyring: SecretKeyring,
                                    claimed_key: str | None = None) -> TokenApplied:
    """Revoked now; a token revoked already stays as it is (no second event)."""
    current = await store.tokens.get_token(command.token_id)
    if current is None:
        return Applied(failed(command, ErrorCode.NOT_FOUND,
                              f"There is no initial access token {command.token_id!r}."))
    if current["revoked"]:  # before, or by this very command on an earlier delivery
        return _answered(command, store, current)
    at = now()
    revoked: RegistrationTokenDocument = {**current, "revoked": True, "revoked_at": at}
    event = RegistrationTokenEvent(RegistrationTokenEventType.REVOKED, public_token(revoked),
                                   command.actor, command.id, command.request_id, time=at)
    if not await store.tokens.revoke_token(command.token_id, command.id, at,
                                           event.to_document()):
        # Revoked by another command between the read and the write.
        return _answered(command, store, await store.tokens.get_token(command.token_id)
                         or revoked)
    revoked["outbox"] = [*outbox_of(current), event.to_document()]
    return _answered(command, store, revoked, [event])
