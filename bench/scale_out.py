"""Scale-out: create and approve with 1, 2 and 4 workers, each beside who was busy.

The counts are measured there and back (1, 2, 4, 2, 1), and a count's rate is the
mean of its runs: a run of the database server gets slower as its collections grow
(SecantusDB's TTL monitor reads each expiring collection whole once a minute, and the
operations and audit trail grow by one document a command), so one pass in order
would put every later count at a disadvantage. Measured both ways, a steady drift
cancels between 1 and 2 workers.

Beside each rate stands the CPU each process used while it ran, as a share
of one core (from /proc/<pid>/stat): the database server, the workers
together, the gateway. When the database is near a full core (SecantusDB
serves on one) more workers cannot help and the database is the limit; when
the workers are, adding one should add throughput; on a machine with few
cores, all of them together show when the machine itself is the limit.
"""

from __future__ import annotations

import asyncio
import functools
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from bench.database import settled
from bench.measure import Measured
from bench.report import Row, described
from bench.seed import Seeded
from bench.stack import Process, Stack
from common.clients import Status

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
# The first keys of the seeded disapproved ones are the write probe's (bench.database).
_PROBED = 3


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (fields 14 and 15 of its stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


@dataclass(frozen=True)
class CpuShares:
    database: float
    workers: float
    gateway: float

    def __str__(self) -> str:
        return (f"CPU, share of one core: database {self.database:.0%}, "
                f"workers {self.workers:.0%}, gateway {self.gateway:.0%}")


def while_running(load: Callable[[], Measured], database: int, workers: list[int],
                  gateway: int) -> tuple[Measured, CpuShares]:
    """Run `load`, and the CPU each process used meanwhile per second of it."""
    pids = [database, *workers, gateway]
    before = [cpu_seconds(pid) for pid in pids]
    began = time.monotonic()
    measured = load()
    seconds = time.monotonic() - began
    used = [(cpu_seconds(pid) - b) / seconds for pid, b in zip(pids, before, strict=True)]
    return measured, CpuShares(used[0], sum(used[1:-1]), used[-1])


class Bench(Protocol):
    """What this needs of bench.run's Bench."""

    stack: Stack
    worker: Process
    rows: list[Row]
    seeded: Seeded

    def load(self, target: Process, name: str, requests: list[tuple[str, str, str]],
             expected: int) -> Measured: ...

    def creates(self, label: str) -> list[tuple[str, str, str]]: ...


def _approvals(keys: list[str]) -> list[tuple[str, str, str]]:
    """Each key approved then disapproved: every request a real change (they start disapproved)."""
    return [("POST", f"/v1/clients/{key}/{action}", "")
            for action in ("approve", "disapprove") for key in keys]


def order_of_runs(counts: tuple[int, ...]) -> tuple[int, ...]:
    """There and back: (1, 2, 4) is run as 1, 2, 4, 2, 1."""
    return counts + tuple(reversed(counts[:-1]))


@dataclass(frozen=True)
class Run:
    measured: Measured
    cpu: CpuShares


def mean_rate(runs: Sequence[Run]) -> float:
    return sum(run.measured.rate for run in runs) / len(runs)


def runs_described(runs: Sequence[Run], expected: int) -> str:
    """The mean rate with each run's, the worst p50 and p99 of them, and any failures."""
    rates = " and ".join(f"{run.measured.rate:,.0f}/s" for run in runs)
    text = f"{mean_rate(runs):,.0f}/s" + (f" (runs: {rates})" if len(runs) > 1 else "")
    text += f", p50 {max(r.measured.p50_ms for r in runs):.1f} ms, " \
        f"p99 {max(r.measured.p99_ms for r in runs):.1f} ms"
    failed = [described(run.measured, expected) for run in runs
              if run.measured.unexpected(expected)]
    return text + "".join(f"; {failure}" for failure in failed)


def mean_cpu(runs: Sequence[Run]) -> CpuShares:
    n = len(runs)
    return CpuShares(sum(r.cpu.database for r in runs) / n, sum(r.cpu.workers for r in runs) / n,
                     sum(r.cpu.gateway for r in runs) / n)


def scale_out(bench: Bench, gateway: Process, counts: tuple[int, ...]) -> None:
    """Rows for create and approve with each number of workers in `counts`.

    Approvals go to seeded disapproved clients, each run to its own share of
    them, so none finds its work already done by an earlier one.
    """
    order = order_of_runs(counts)
    keys = bench.seeded.keys[Status.DISAPPROVED][_PROBED:]
    share = len(keys) // len(order)
    runs: dict[tuple[str, int], list[Run]] = {}
    for run, count in enumerate(order):
        extra = [bench.stack.worker(f"worker-{count}-{run}-{n}") for n in range(1, count)]
        workers = [bench.worker.popen.pid, *(p.popen.pid for p in extra)]
        figures = [("create", bench.creates(f"Scaled {count} {run}"), 201),
                   ("approve / disapprove",
                    _approvals(keys[run * share:(run + 1) * share]), 200)]
        try:
            for figure, requests, expected in figures:
                load = functools.partial(bench.load, gateway,
                                         f"{figure.split()[0]}-{count}-workers-{run}",
                                         requests, expected)
                measured, cpu = while_running(load, bench.stack.database.pid, workers,
                                              gateway.popen.pid)
                runs.setdefault((figure, count), []).append(Run(measured, cpu))
                asyncio.run(settled(bench.stack.namespace, bench.stack.mongodb_uri))
        finally:
            for process in extra:
                bench.stack.stop(process)
    for count in counts:
        for figure, expected in (("create", 201), ("approve / disapprove", 200)):
            these = runs[figure, count]
            base = mean_rate(runs[figure, counts[0]])
            ratio = mean_rate(these) / base if base else 0.0
            failed = any(run.measured.unexpected(expected) for run in these)
            met = ratio >= 1.0 and not failed if count == 2 else None
            bench.rows.append(Row(
                f"scale-out: {figure} with {count} worker{'s' if count > 1 else ''}",
                runs_described(these, expected), str(mean_cpu(these)),
                "—" if count == counts[0] else f"{ratio:.2f} times 1 worker",
                "2 workers ≥ 1" if count == 2 else "printed", met))
