"""The scale-out figures are measured there and back, so a steady drift cancels."""

from __future__ import annotations

from collections import Counter

from bench.measure import Measured
from bench.scale_out import CpuShares, Run, mean_rate, order_of_runs, runs_described


def run(rate: float, p99_ms: float, statuses: dict[int, int] | None = None) -> Run:
    return Run(Measured(round(rate * 10), 10.0, p99_ms / 2, p99_ms, Counter(statuses or {})),
               CpuShares(0.9, 0.3, 0.2))


def test_counts_are_run_there_and_back() -> None:
    assert order_of_runs((1, 2, 4)) == (1, 2, 4, 2, 1)
    assert order_of_runs((1, 2)) == (1, 2, 1)


def test_a_steady_drift_cancels_between_the_first_two_counts() -> None:
    # A database 5 % slower at each run, and two workers exactly as fast as one.
    rates = [100 * 0.95 ** n for n in range(5)]
    # Run n of the order (1, 2, 4, 2, 1) is slowed by 0.95 ** n.
    one, two = [run(rates[0], 1), run(rates[4], 1)], [run(rates[1], 1), run(rates[3], 1)]
    assert abs(mean_rate(two) / mean_rate(one) - 1) < 0.01
    assert rates[1] / rates[0] < 0.96  # what a single pass in order would have shown


def test_the_description_gives_each_run_and_the_worst_latency() -> None:
    text = runs_described([run(100, 200), run(90, 300, {201: 900, 503: 2})], 201)
    assert text.startswith("95/s (runs: 100/s and 90/s), p50 150.0 ms, p99 300.0 ms")
    assert "2 failed" in text
