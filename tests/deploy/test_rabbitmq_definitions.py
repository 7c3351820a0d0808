"""deploy/rabbitmq/: the definitions against common.topology, and how RabbitMQ loads them."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from common.topology import Topology
from tests.deployment import (
    DEPLOY,
    TOPOLOGY,
    definitions_problems,
    erlang_atom_list,
    mount_target,
    rabbitmq_password_matches,
    sysctl_style,
)


def _definitions() -> dict[str, Any]:
    definitions: dict[str, Any] = json.loads((DEPLOY / "rabbitmq" / "definitions.json")
                                              .read_text())
    return definitions


def test_definitions_match_the_topology_the_service_declares() -> None:
    assert definitions_problems(_definitions(), TOPOLOGY) == []


@pytest.mark.parametrize("breakage", [
    lambda d: d["queues"][0]["arguments"].update({"x-delivery-limit": 5}),
    lambda d: d["queues"][0]["arguments"].update({"x-delivery-limit": 10.0}),
    lambda d: d["queues"][1]["arguments"].pop("x-queue-type"),
    lambda d: d["exchanges"][2].update({"type": "direct"}),
    lambda d: d["exchanges"].pop(),
    lambda d: d["bindings"][0].update({"routing_key": "commands"}),
])
def test_definitions_check_rejects(breakage: Any) -> None:
    definitions = _definitions()
    breakage(definitions)
    assert definitions_problems(definitions, TOPOLOGY) != []
    assert definitions_problems(_definitions(), Topology("other")) != []


def test_rabbitmq_loads_the_definitions_and_plugins(compose: dict[str, Any]) -> None:
    folder = DEPLOY / "rabbitmq"
    config = sysctl_style((folder / "rabbitmq.conf").read_text())
    assert config["load_definitions"] == mount_target(compose, "rabbitmq",
                                                      folder / "definitions.json")
    assert mount_target(compose, "rabbitmq", folder / "rabbitmq.conf") == (
        "/etc/rabbitmq/conf.d/20-clientkeys.conf")
    assert mount_target(compose, "rabbitmq", folder / "enabled_plugins") == (
        "/etc/rabbitmq/enabled_plugins")
    plugins = erlang_atom_list((folder / "enabled_plugins").read_text())
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= set(plugins)
    with pytest.raises(ValueError, match="Erlang"):
        erlang_atom_list("[rabbitmq_management, rabbitmq_prometheus]")  # no final dot


def test_the_service_signs_in_as_the_defined_user(compose: dict[str, Any]) -> None:
    url = urlsplit(compose["services"]["gateway"]["environment"]["CLIENTKEYS_AMQP_URL"])
    definitions = _definitions()
    (user,) = [u for u in definitions["users"] if u["name"] == url.username]
    assert rabbitmq_password_matches(user, unquote(url.password or ""))
    assert not rabbitmq_password_matches(user, "guest")
    vhost = unquote(url.path[1:]) or "/"
    assert {(p["user"], p["vhost"]) for p in definitions["permissions"]} >= {(user["name"],
                                                                               vhost)}
