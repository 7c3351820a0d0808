"""Prometheus's scrape jobs, and Grafana's provisioning and dashboard against the metrics."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from api.gateway_metrics import GatewayMetrics
from common.metrics import new_registry
from tests.deployment import (
    DASHBOARD_FILE,
    DEPLOY,
    HTTP_PORTS,
    dashboard_metric_problems,
    dashboard_queries,
    load_dashboard,
    load_yaml,
    mount_target,
    selected_metrics,
)
from worker.worker_metrics import WorkerMetrics


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
    uids = {panel["datasource"]["uid"] for panel, _ in dashboard_queries(load_dashboard())}
    assert uids == {source["uid"]}



def test_dashboard_asks_only_for_published_metrics() -> None:
    dashboard = load_dashboard()
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
    dashboard = load_dashboard()
    dashboard["panels"][1]["targets"][0]["expr"] = expr
    assert dashboard_metric_problems(dashboard, METRICS_BY_JOB) != []


def test_every_panel_says_what_it_means() -> None:
    panels = [panel for panel in load_dashboard()["panels"] if panel["type"] != "row"]
    assert all(len(panel.get("description", "")) > 40 for panel in panels)
    every = load_dashboard()["panels"]
    assert len({panel["id"] for panel in every}) == len(every)
