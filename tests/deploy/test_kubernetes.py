"""deploy/k8s/ through the Kubernetes schemas, and the settings, probes and scaling it gives."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import pytest

from common.keyring import KeyringError
from common.keyring_file import parse_keyring_file
from common.settings import load_settings
from tests.deployment import (
    HTTP_PORTS,
    K8S_DIR,
    SETTING_NAMES,
    TOPOLOGY,
    cli_problems,
    kubernetes_manifests,
    kubernetes_problems,
    load_yaml,
)
from tests.rabbitmq_definitions import BROKER_USERS


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
    assert "CLIENTKEYS_AMQP_URL" not in secret  # each process has a broker user of its own
    for component in HTTP_PORTS:
        broker = _one(resources, "Secret", f"clientkeys-{component}-broker")["stringData"]
        assert set(broker) == {"CLIENTKEYS_AMQP_URL"}
        user = urlsplit(load_settings(broker).amqp_url).username
        assert user == BROKER_USERS[component]
    settings = load_settings({**config, **secret, **broker})  # every value parses
    assert set(config) | set(secret) <= SETTING_NAMES
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
                           {"secretRef": {"name": "clientkeys-connections"}},
                           {"secretRef": {"name": f"clientkeys-{component}-broker"}}]


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
