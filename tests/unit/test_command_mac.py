"""A command's MAC: what it covers, which keys vouch for it, how it is refused."""

from __future__ import annotations

from typing import Any

import pytest

from api.docs.asyncapi import build_document, command_message_name, event_message_name
from common.command_mac import (
    EVENT_SCHEME,
    KEY_ID_HEADER,
    MAC_HEADER,
    REPLY_SCHEME,
    SCHEME_HEADER,
    Rejection,
    sign_command,
    sign_event,
    sign_reply,
    verify_command,
    verify_event,
    verify_reply,
)
from common.commands import COMMAND_TYPES
from common.events import EVENT_TYPES
from common.keyring import Keyring, new_key_entry
from tests.asyncapi_contract import payload_validator

OLD = new_key_entry("old")
NEW = new_key_entry("new")
BODY = b'{"id": "op-1", "kind": "remove_client"}'


def signed(keyring: Keyring, body: bytes = BODY, message_id: str = "op-1",
           reply_to: str | None = "ns.replies.g1") -> dict[str, str]:
    return sign_command(keyring, body, message_id=message_id, reply_to=reply_to)


def verdict(keyring: Keyring, headers: dict[str, Any], body: bytes = BODY,
            message_id: str | None = "op-1",
            reply_to: str | None = "ns.replies.g1") -> Rejection | None:
    return verify_command(keyring, body, message_id=message_id, reply_to=reply_to,
                          headers=headers)


def test_a_signed_command_verifies_under_every_key_still_in_the_keyring() -> None:
    before = Keyring.parse(OLD)
    rotated = Keyring.parse(f"{NEW},{OLD}")
    headers = signed(before)
    assert headers[KEY_ID_HEADER] == "old"
    assert verdict(before, headers) is None
    assert verdict(rotated, headers) is None  # signed before the rotation, still good
    assert signed(rotated)[KEY_ID_HEADER] == "new"  # the current key signs
    assert verdict(Keyring.parse(NEW), headers) is Rejection.UNKNOWN_KEY  # "old" retired


def test_bytes_header_values_are_read_as_text() -> None:
    keyring = Keyring.parse(OLD)
    headers = {name: value.encode() for name, value in signed(keyring).items()}
    assert verdict(keyring, headers) is None


@pytest.mark.parametrize(("change", "reason"), [
    (lambda h: {}, Rejection.MISSING),
    (lambda h: {"x-delivery-count": 1}, Rejection.MISSING),
    (lambda h: {**h, MAC_HEADER: h[MAC_HEADER][:-2] + "AA"}, Rejection.BAD_MAC),
    (lambda h: {**h, MAC_HEADER: "not base64 at all!!"}, Rejection.BAD_MAC),
    (lambda h: {**h, MAC_HEADER: h[MAC_HEADER] + "A"}, Rejection.BAD_MAC),
    (lambda h: {**h, MAC_HEADER: 12}, Rejection.BAD_MAC),
    (lambda h: {k: v for k, v in h.items() if k != MAC_HEADER}, Rejection.BAD_MAC),
    (lambda h: {k: v for k, v in h.items() if k != KEY_ID_HEADER}, Rejection.BAD_MAC),
    (lambda h: {**h, SCHEME_HEADER: "hmac-sha1/v0"}, Rejection.BAD_MAC),
    (lambda h: {**h, KEY_ID_HEADER: "someone-elses"}, Rejection.UNKNOWN_KEY),
])
def test_a_missing_malformed_or_wrong_mac_is_refused(change: Any, reason: Rejection) -> None:
    keyring = Keyring.parse(OLD)
    assert verdict(keyring, change(signed(keyring))) is reason


@pytest.mark.parametrize("what", [
    {"body": BODY.replace(b"remove", b"update")},
    {"message_id": "op-2"},
    {"message_id": None},
    {"reply_to": "ns.replies.attacker"},
    {"reply_to": None},
])
def test_the_mac_covers_the_body_message_id_and_reply_address(what: dict[str, Any]) -> None:
    keyring = Keyring.parse(OLD)
    assert verdict(keyring, signed(keyring), **what) is Rejection.BAD_MAC


def test_a_mac_made_with_another_keyring_under_the_same_key_id_is_wrong() -> None:
    mine, theirs = Keyring.parse(OLD), Keyring.parse(new_key_entry("old"))
    assert verdict(mine, signed(theirs)) is Rejection.BAD_MAC


def test_the_command_key_is_not_the_fingerprint_key() -> None:
    keyring = Keyring.parse(OLD)
    _, mac = keyring.command_mac(b"data")
    _, fingerprint = keyring.fingerprint(b"data")
    assert mac.hex() != fingerprint


@pytest.mark.parametrize(("names", "schema", "sign", "foreign"), [
    ([command_message_name(kind) for kind in COMMAND_TYPES], "CommandMacHeaders",
     lambda keyring: signed(keyring),
     lambda keyring: sign_event(keyring, "client.oidc.approved", BODY)),
    ([event_message_name(event_type) for event_type in EVENT_TYPES], "EventMacHeaders",
     lambda keyring: sign_event(keyring, "client.oidc.approved", BODY),
     lambda keyring: signed(keyring)),
], ids=["commands, from a gateway", "events, from a worker"])
def test_the_asyncapi_document_describes_the_mac_headers_each_message_carries(
        names: list[str], schema: str, sign: Any, foreign: Any) -> None:
    document = build_document()
    keyring = Keyring.parse(OLD)
    for name in names:
        assert document["components"]["messages"][name]["headers"] == {
            "$ref": f"#/components/schemas/{schema}"}
        validator = payload_validator(document, name, "headers")
        headers = sign(keyring)
        assert list(validator.iter_errors(headers)) == []
        # The other kind's headers name another scheme.
        for broken in ({}, {**headers, MAC_HEADER: "short"},
                       {**headers, SCHEME_HEADER: "hmac-sha1/v0"}, foreign(keyring)):
            assert list(validator.iter_errors(broken)) != [], broken


ROUTING_KEY = "client.oidc.approved"
EVENT = b'{"id": "e-1", "type": "approved"}'


def test_an_event_and_a_reply_verify_as_what_they_are_and_nothing_else() -> None:
    keyring = Keyring.parse(OLD)
    event = sign_event(keyring, ROUTING_KEY, EVENT)
    reply = sign_reply(keyring, EVENT)
    assert event[SCHEME_HEADER] == EVENT_SCHEME and reply[SCHEME_HEADER] == REPLY_SCHEME
    assert verify_event(keyring, ROUTING_KEY, EVENT, event) is None
    assert verify_reply(keyring, EVENT, reply) is None
    # A MAC made for one kind of message vouches for no other, over the very same bytes.
    command = sign_command(keyring, EVENT, message_id="", reply_to=ROUTING_KEY)
    assert verify_event(keyring, ROUTING_KEY, EVENT, command) is Rejection.BAD_MAC
    assert verify_event(keyring, ROUTING_KEY, EVENT, reply) is Rejection.BAD_MAC
    assert verify_reply(keyring, EVENT, event) is Rejection.BAD_MAC
    assert verify_command(keyring, EVENT, message_id="", reply_to=ROUTING_KEY,
                          headers=event) is Rejection.BAD_MAC
    # The same scheme claimed in the header does not help a MAC made for another kind.
    assert verify_event(keyring, ROUTING_KEY, EVENT,
                        {**command, SCHEME_HEADER: EVENT_SCHEME}) is Rejection.BAD_MAC


@pytest.mark.parametrize(("routing_key", "body"), [
    ("client.oidc.disapproved", EVENT),  # another routing key
    (ROUTING_KEY, EVENT.replace(b"approved", b"removed!")),  # another body
])
def test_an_event_mac_covers_its_routing_key_and_body(routing_key: str, body: bytes) -> None:
    keyring = Keyring.parse(OLD)
    headers = sign_event(keyring, ROUTING_KEY, EVENT)
    assert verify_event(keyring, routing_key, body, headers) is Rejection.BAD_MAC


def test_events_and_replies_are_refused_as_commands_are() -> None:
    signer, rotated = Keyring.parse(OLD), Keyring.parse(f"{NEW},{OLD}")
    assert verify_event(signer, ROUTING_KEY, EVENT, {}) is Rejection.MISSING
    assert verify_reply(signer, EVENT, {}) is Rejection.MISSING
    assert verify_event(rotated, ROUTING_KEY, EVENT, sign_event(signer, ROUTING_KEY, EVENT)) \
        is None  # signed before the rotation
    assert verify_reply(Keyring.parse(NEW), EVENT, sign_reply(signer, EVENT)) \
        is Rejection.UNKNOWN_KEY  # "old" retired
