"""The gateway's Prometheus figures (the worker's are in `worker.worker_metrics`).

The gauges about the whole service (clients by type and status, pending
approvals, the commands queue) are refreshed by `api.views.stats.StatsPoller`; every
gateway reports the same figures, so dashboards take their maximum.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from common.metrics import LATENCY_BUCKETS


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # (route, method, status) -> its two series: looked up once, not per request.
        self._request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.http_requests = Counter(
            "clientkeys_http_requests", "HTTP requests answered, by route and status.",
            ["route", "method", "status"], registry=registry)
        self.http_duration = Histogram(
            "clientkeys_http_request_duration_seconds",
            "Time from a request's arrival to its answer, by route and status.",
            ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=registry)
        self.commands_published = Counter(
            "clientkeys_commands_published",
            "Commands the broker confirmed, by kind.", ["kind"], registry=registry)
        self.clients = Gauge(
            "clientkeys_clients", "Stored clients, by type and status (removed ones excluded).",
            ["type", "status"], registry=registry)
        self.pending_approvals = Gauge(
            "clientkeys_pending_approvals", "Clients waiting for approval.", registry=registry)
        self.oldest_pending_age = Gauge(
            "clientkeys_oldest_pending_approval_age_seconds",
            "How long the longest-waiting client has waited for approval (0 when none).",
            registry=registry)
        self.secrets_expiring = Gauge(
            "clientkeys_client_secrets_expiring",
            "Current client secrets that expire within 14 days (not yet expired).",
            registry=registry)
        self.secrets_expired = Gauge(
            "clientkeys_client_secrets_expired",
            "Current client secrets past their expiry, which no longer verify.",
            registry=registry)
        self.commands_waiting = Gauge(
            "clientkeys_commands_waiting",
            "Commands in the queue, not yet handed to a worker.", registry=registry)
        self.command_consumers = Gauge(
            "clientkeys_command_consumers",
            "Workers consuming from the commands queue.", registry=registry)
        self.dead_lettered = Gauge(
            "clientkeys_dead_lettered_commands",
            "Commands set aside in the dead-letter queue for an operator.", registry=registry)

        self.messages_rejected = Counter(
            "clientkeys_gateway_messages_rejected",
            "Events and outcome replies no key of the keyring vouches for, not applied, by "
            "kind (event, reply) and reason (missing, unknown_key, bad_mac).",
            ["kind", "reason"], registry=registry)
        self.client_assertions = Counter(
            "clientkeys_client_assertions",
            "private_key_jwt client assertions checked, by reason (ok or why refused).",
            ["reason"], registry=registry)
        self.jwks_fetches = Counter(
            "clientkeys_jwks_fetches",
            "Fetches of clients' jwks_uri, by outcome (ok, refused_address, http_error, "
            "too_large, invalid, unreachable).", ["outcome"], registry=registry)

    def request_answered(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count and time one answered request (the route's name, never its path)."""
        series = self._request_series.get((route, method, status))
        if series is None:
            labels = (route, method, str(status))
            series = (self.http_requests.labels(*labels), self.http_duration.labels(*labels))
            self._request_series[(route, method, status)] = series
        series[0].inc()
        series[1].observe(seconds)
