"""AMQP topic matching of the in-memory bus (common.memory_bus.topic_matches)."""

from __future__ import annotations

import pytest

from common.memory_bus import topic_matches


@pytest.mark.parametrize(("pattern", "routing_key", "expected"), [
    ("client.*.approved", "client.oidc.approved", True),
    ("client.*.approved", "client.oauth2.approved", True),
    ("client.*.approved", "client.oidc.x.approved", False),
    ("client.*.approved", "client.approved", False),
    ("client.*.approved", "client.oidc.disapproved", False),
    ("client.*", "client", False),
    ("*", "client", True),
    ("*", "client.oidc", False),
    ("client.#", "client.oidc.approved", True),
    ("client.#", "client", True),
    ("client.#", "client.oidc", True),
    ("client.#", "clients.oidc", False),
    ("client.#", "other.client", False),
    ("#", "client.oidc.approved", True),
    ("#", "client", True),
    ("#", "a.b.c.d.e.f", True),
    ("#.approved", "client.oidc.approved", True),
    ("#.approved", "approved", True),
    ("#.approved", "client.oidc.disapproved", False),
    ("#.approved", "client.approved.x", False),
    ("client.#.approved", "client.approved", True),
    ("client.#.approved", "client.a.b.approved", True),
    ("*.#", "client", True),
    ("*.*", "client", False),
    ("client.oidc.approved", "client.oidc.approved", True),
    ("client.oidc.approved", "client.oidc.approve", False),
    ("client.oidc.approved", "client.oidc.approved.x", False),
    ("client.oidc", "client.oidc.approved", False),
    ("client.oidc.approved", "Client.oidc.approved", False),
    ("client", "clientx", False),
])
def test_topic_matches(pattern: str, routing_key: str, expected: bool) -> None:
    assert topic_matches(pattern, routing_key) is expected
