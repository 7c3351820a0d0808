"""What one load run measured, whoever made the load: wrk or a bare client."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Measured:
    """Completed operations per second and latency, over one run."""

    operations: int
    seconds: float
    p50_ms: float
    p99_ms: float
    # HTTP status -> count (empty for a bare client); failed operations or socket errors.
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds > 0 else 0.0

    def unexpected(self, *expected: int) -> int:
        """Answers with a status other than `expected`, plus errors."""
        return self.errors + sum(n for status, n in self.statuses.items()
                                 if status not in expected)

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "seconds": self.seconds,
                "p50_ms": self.p50_ms, "p99_ms": self.p99_ms,
                "statuses": {str(k): v for k, v in self.statuses.items()},
                "errors": self.errors}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Measured:
        return cls(int(data["operations"]), float(data["seconds"]), float(data["p50_ms"]),
                   float(data["p99_ms"]),
                   Counter({int(k): int(v) for k, v in data.get("statuses", {}).items()}),
                   int(data.get("errors", 0)))

    @classmethod
    def of_latencies(cls, latencies_s: list[float], seconds: float, errors: int) -> Measured:
        """From the latency of every completed operation of a bare client."""
        if len(latencies_s) < 2:
            p50 = p99 = latencies_s[0] if latencies_s else 0.0
        else:
            cuts = statistics.quantiles(latencies_s, n=100, method="inclusive")
            p50, p99 = cuts[49], cuts[98]
        return cls(len(latencies_s), seconds, p50 * 1000, p99 * 1000, Counter(), errors)
