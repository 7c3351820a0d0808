"""The worker's Prometheus figures, served on its own port (worker.health)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from common.command_mac import Rejection
from common.metrics import LATENCY_BUCKETS


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.commands_applied = Counter(
            "clientkeys_commands_applied",
            "Commands settled by this worker, by kind and outcome (succeeded: changed or "
            "already so; rejected: refused by a rule, a missing client or a stale version).",
            ["kind", "outcome"], registry=registry)
        self.commands_failed = Counter(
            "clientkeys_commands_failed",
            "Commands this worker set aside in the dead-letter queue, by kind.",
            ["kind"], registry=registry)
        self.commands_rejected = Counter(
            "clientkeys_worker_commands_rejected",
            "Command messages refused unread and dead-lettered because no key of the keyring "
            "vouches for them, by reason (missing: no MAC; unknown_key: its key is not, or "
            "no longer, in the keyring; bad_mac: a malformed or wrong MAC).",
            ["reason"], registry=registry)
        for rejection in Rejection:  # every reason at 0 from the start, for rate() and alerts
            self.commands_rejected.labels(rejection.value)
        self.command_duration = Histogram(
            "clientkeys_command_duration_seconds",
            "From the gateway accepting a command to its outcome being recorded, by kind.",
            ["kind"], buckets=LATENCY_BUCKETS, registry=registry)
        self.outbox_backlog = Gauge(
            "clientkeys_outbox_backlog",
            "Events stored but not yet confirmed by the broker (in the whole database).",
            registry=registry)
        self.event_publish = Histogram(
            "clientkeys_event_publish_seconds",
            "From an event being written to the broker confirming it.",
            buckets=LATENCY_BUCKETS, registry=registry)
        self.events_published = Counter(
            "clientkeys_events_published", "Events the broker confirmed, by type.",
            ["type"], registry=registry)
        self.consuming = Gauge(
            "clientkeys_worker_consuming",
            "1 while this worker's consumer is attached to the commands queue.",
            registry=registry)
