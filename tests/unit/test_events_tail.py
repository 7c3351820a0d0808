"""The lines `clientkeys events tail` prints and the patterns it accepts."""

from __future__ import annotations

import argparse
import json

import pytest

from clientkeys.events_tail import binding_pattern, event_line, json_line
from common.events import (
    ClientEvent,
    ClientEventType,
    RegistrationTokenEvent,
    RegistrationTokenEventType,
    encode_event,
)

EVENT = ClientEvent(ClientEventType.APPROVED, {"key": "k-123", "type": "oidc"}, "alice", "c1")


@pytest.mark.parametrize("pattern", ["#", "client.#", "client.*.approved", "client.oidc.*",
                                     "*.*.secret_rotated", "client.oauth1.created",
                                     "registration_token.#", "registration_token.revoked"])
def test_patterns_that_match_an_event_are_taken(pattern: str) -> None:
    assert binding_pattern(pattern) == pattern


@pytest.mark.parametrize("pattern", ["", "clients.*.approved", "client.*.approve",
                                     "client.saml.#", "client.*", "x" * 256,
                                     "registration_token.approved"])
def test_patterns_that_match_no_event_are_refused(pattern: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        binding_pattern(pattern)


def test_an_event_is_time_type_key_actor() -> None:
    line = event_line(encode_event(EVENT, "ns"), EVENT.routing_key)
    assert line.split() == [EVENT.time.isoformat(), "approved", "k-123", "alice"]


def test_a_token_event_is_time_type_id_actor() -> None:
    event = RegistrationTokenEvent(RegistrationTokenEventType.REVOKED,
                                   {"id": "0123abcd4567", "label": "x"}, "alice", "c2")
    line = event_line(encode_event(event, "ns"), event.routing_key)
    assert line.split() == [event.time.isoformat(), "registration_token_revoked",
                            "0123abcd4567", "alice"]
    # Under a client event's routing key it is not a client event.
    assert event_line(encode_event(event, "ns"), EVENT.routing_key).startswith("?")


def test_control_characters_are_escaped() -> None:
    body = json.loads(encode_event(EVENT, "ns"))
    body["data"]["actor"] = "mallory\x1b[2J\nroot"
    line = event_line(json.dumps(body).encode(), EVENT.routing_key)
    assert "\x1b" not in line and "\n" not in line
    assert line.endswith("mallory\\x1b[2J\\nroot")


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"type": "x"}'])
def test_anything_else_is_one_line_that_says_so(body: bytes) -> None:
    line = event_line(body, "client.oidc.created")
    assert line.startswith("?  not a clientkeys event") and "\n" not in line


def test_json_is_one_line_of_the_whole_event() -> None:
    body = encode_event(EVENT, "ns")
    line = json_line(body, EVENT.routing_key)
    assert "\n" not in line and json.loads(line) == json.loads(body)
    assert json.loads(json_line(b"\xff", "k")) == {"not_json": True, "routing_key": "k",
                                                   "bytes": 1}
