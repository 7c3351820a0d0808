"""deploy/rabbitmq/: the definitions against common.topology, and how RabbitMQ loads them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from common.topology import Topology
from tests.deployment import DEPLOY, TOPOLOGY, mount_target
from tests.rabbitmq_definitions import (
    BROKER_USERS,
    broker_needs,
    definitions_problems,
    erlang_atom_list,
    permission_problems,
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


def test_each_process_user_may_do_exactly_what_its_job_needs() -> None:
    assert permission_problems(_definitions(), TOPOLOGY) == []


def _grant(definitions: dict[str, Any], role: str) -> dict[str, str]:
    (grant,) = [p for p in definitions["permissions"] if p["user"] == BROKER_USERS[role]]
    found: dict[str, str] = grant
    return found


def _matches(definitions: dict[str, Any], role: str, permission: str, name: str) -> bool:
    return re.search(_grant(definitions, role)[permission], name) is not None


def test_the_attack_on_the_commands_exchange_is_refused_by_the_broker_users() -> None:
    definitions, t = _definitions(), TOPOLOGY
    # Only gateways write commands; subscribers read events through their own queues.
    assert [role for role in BROKER_USERS
            if _matches(definitions, role, "write", t.commands_exchange)] == ["gateway"]
    assert [role for role in BROKER_USERS
            if _matches(definitions, role, "write", t.events_exchange)] == ["worker"]
    assert [role for role in BROKER_USERS
            if _matches(definitions, role, "read", t.commands_queue)] == ["worker"]
    # The durable topology exists from the definitions: nobody may delete or redeclare it.
    for name in {e.name for e in t.exchanges} | {t.commands_queue, t.dead_letter_queue}:
        assert not any(_matches(definitions, role, "configure", name)
                       for role in BROKER_USERS), name
    # The monitoring user of the management UI has no permission in any vhost.
    assert {p["user"] for p in definitions["permissions"]} == set(BROKER_USERS.values())
    assert all("password_hash" not in user for user in definitions["users"])  # made by init


@pytest.mark.parametrize(("role", "permission", "regex"), [
    ("subscriber", "write", ".*"),                         # the attack: write anything
    ("worker", "write", "^clientkeys\\.(events|replies|commands)$"),
    ("gateway", "write", "^clientkeys\\.(commands|events)"),
    ("worker", "configure", "^clientkeys\\.commands$"),
    ("subscriber", "configure", "clientkeys\\.subscriber"),  # unanchored: x.clientkeys...
    ("gateway", "read", "^clientkeys\\.(replies|events|commands\\.dead)$"),  # own queues
])
def test_the_permission_check_rejects(role: str, permission: str, regex: str) -> None:
    definitions = _definitions()
    _grant(definitions, role)[permission] = regex
    assert permission_problems(definitions, TOPOLOGY) != []


def test_what_each_process_needs_is_named_by_the_topology() -> None:
    needs = broker_needs(TOPOLOGY)
    assert ("write", TOPOLOGY.commands_exchange) in needs["gateway"]
    assert ("write", TOPOLOGY.commands_exchange) not in needs["worker"] | needs["subscriber"]


def test_rabbitmq_loads_the_definitions_init_makes_and_the_plugins(
        compose: dict[str, Any]) -> None:
    folder = DEPLOY / "rabbitmq"
    config = sysctl_style((folder / "rabbitmq.conf").read_text())
    services = compose["services"]
    (made,) = [v["target"] for v in services["rabbitmq"]["volumes"]
               if v["type"] == "volume" and v["source"] == "rabbitmq-definitions"]
    assert config["load_definitions"] == f"{made}/definitions.json"
    # init writes that volume from the committed template, with the script it mounts
    # where init-secrets.sh looks for them.
    init_script = (DEPLOY / "compose" / "init-secrets.sh").read_text()
    for source in (folder / "definitions.json", DEPLOY / "compose" / "broker_users.py"):
        target = mount_target(compose, "init", source)
        assert target is not None and f"-{target}}}" in init_script, source
    assert mount_target(compose, "rabbitmq", folder / "rabbitmq.conf") == (
        "/etc/rabbitmq/conf.d/20-clientkeys.conf")
    assert mount_target(compose, "rabbitmq", folder / "enabled_plugins") == (
        "/etc/rabbitmq/enabled_plugins")
    plugins = erlang_atom_list((folder / "enabled_plugins").read_text())
    assert {"rabbitmq_management", "rabbitmq_prometheus"} <= set(plugins)
    with pytest.raises(ValueError, match="Erlang"):
        erlang_atom_list("[rabbitmq_management, rabbitmq_prometheus]")  # no final dot


def _make_users(broker_dir: Path) -> str:
    return subprocess.run(
        [sys.executable, str(DEPLOY / "compose" / "broker_users.py"),
         str(DEPLOY / "rabbitmq" / "definitions.json"), str(broker_dir)],
        capture_output=True, text=True, check=True, timeout=30).stdout


def test_init_gives_each_process_a_broker_user_of_its_own_with_a_new_password(
        tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    printed = _make_users(broker)
    made = json.loads((broker / "rabbitmq" / "definitions.json").read_text())
    users = {user["name"]: user for user in made["users"]}
    # The same topology and permissions as the template, users now with a password hash.
    template = _definitions()
    assert {k: v for k, v in made.items() if k != "users"} == {
        k: v for k, v in template.items() if k != "users"}
    assert definitions_problems(made, TOPOLOGY) == [] and permission_problems(made,
                                                                              TOPOLOGY) == []
    urls = {}
    for role, name in BROKER_USERS.items():
        url_file = broker / role / "url"
        assert url_file.stat().st_mode & 0o077 == 0, role
        url = urlsplit(url_file.read_text().strip())
        assert (url.username, url.hostname, url.port, url.path) == (name, "rabbitmq", 5672,
                                                                    "/")
        password = unquote(url.password or "")
        assert len(password) >= 32 and password not in printed
        assert rabbitmq_password_matches(users[name], password)
        assert not rabbitmq_password_matches(users[name], "guest")
        urls[role] = url_file.read_text()
    assert len({urlsplit(u).password for u in urls.values()}) == len(BROKER_USERS)
    # RabbitMQ's own user reads the definitions: password hashes only.
    assert (broker / "rabbitmq" / "definitions.json").stat().st_mode & 0o777 == 0o644
    admin_password = printed.split("password shown this once: ")[1].split()[0]
    assert rabbitmq_password_matches(users["clientkeys-admin"], admin_password)
    # A second start keeps every password and prints none.
    again = _make_users(broker)
    assert "shown this once" not in again
    remade = {u["name"]: u for u in json.loads(
        (broker / "rabbitmq" / "definitions.json").read_text())["users"]}
    assert rabbitmq_password_matches(remade["clientkeys-admin"], admin_password)
    for role, name in BROKER_USERS.items():
        assert (broker / role / "url").read_text() == urls[role]
        password = unquote(urlsplit(urls[role]).password or "")
        assert rabbitmq_password_matches(remade[name], password)
