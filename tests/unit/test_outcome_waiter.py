"""The outcome replies a gateway waits for: only one a worker signed resolves its waiter."""

from __future__ import annotations

import pytest

from api.views.waiter import OutcomeWaiter
from common.command_mac import Rejection, sign_command, sign_reply
from common.keyring import Keyring, new_key_entry
from common.outcome_replies import OutcomeReply
from common.outcomes import OperationStatus, Outcome

KEYRING = Keyring.parse(new_key_entry("k1"))


async def test_a_signed_reply_resolves_its_waiter_and_a_forged_one_does_not() -> None:
    refused: list[Rejection] = []
    waiter = OutcomeWaiter(KEYRING, refused.append)
    body = OutcomeReply(Outcome("op-1", "approve_client", OperationStatus.SUCCEEDED,
                                client_key="k")).encode()
    guessed = Keyring.parse(new_key_entry("k1"))
    with waiter.expect("op-1") as future:
        waiter.on_reply(body, {})
        waiter.on_reply(body, sign_reply(guessed, body))
        waiter.on_reply(body, sign_command(KEYRING, body, message_id="", reply_to=None))
        assert not future.done()
        assert refused == [Rejection.MISSING, Rejection.BAD_MAC, Rejection.BAD_MAC]
        waiter.on_reply(body, sign_reply(KEYRING, body))
        assert future.done() and future.result().outcome.operation_id == "op-1"


def _stored(part: str) -> bytes:
    return (b'{"operation_id": "op-1", "kind": "create_client", "status": "succeeded", '
            b'"stored": ' + part.encode() + b'}')


# A reply is signed by a worker, so these come only from a faulty one; each is dropped.
_BAD_STORED = [_stored(part) for part in (
    '{"_id": "not an object id", "secret": null}',
    '{"_id": null, "secret": null}',  # not a new random id
    '"a string"',
    '{"_id": "0123456789abcdef01234567", "secret": "in the clear"}',
    '{"_id": "0123456789abcdef01234567", "secret": null, "previous_secrets": [{"secret": '
    '{"kid": "k1", "nonce": "AA", "ct": "AA"}, "expires_at": "2030-01-01T00:00:00"}]}',
)]


@pytest.mark.parametrize("body", [b"not json", b"{}", b"[]", *_BAD_STORED])
async def test_a_signed_reply_that_cannot_be_read_is_dropped(body: bytes) -> None:
    waiter = OutcomeWaiter(KEYRING)
    with waiter.expect("op-1") as future:
        waiter.on_reply(body, sign_reply(KEYRING, body))
        assert not future.done()
