"""Scale-out: create and approve with 1, 2 and 4 workers, each beside who was busy.

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
from collections.abc import Callable
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


def scale_out(bench: Bench, gateway: Process, counts: tuple[int, ...]) -> None:
    """Rows for create and approve with each number of workers in `counts`.

    Approvals go to seeded disapproved clients, each run to its own share of
    them, so none finds its work already done by an earlier one.
    """
    keys = bench.seeded.keys[Status.DISAPPROVED][_PROBED:]
    share = len(keys) // len(counts)
    first: dict[str, float] = {}
    for run, count in enumerate(counts):
        extra = [bench.stack.worker(f"worker-{count}-{n}") for n in range(1, count)]
        workers = [bench.worker.popen.pid, *(p.popen.pid for p in extra)]
        figures = [("create", bench.creates(f"Scaled {count}"), 201),
                   ("approve / disapprove",
                    _approvals(keys[run * share:(run + 1) * share]), 200)]
        try:
            for figure, requests, expected in figures:
                load = functools.partial(bench.load, gateway,
                                         f"{figure.split()[0]}-{count}-workers", requests,
                                         expected)
                measured, cpu = while_running(load, bench.stack.database.pid, workers,
                                              gateway.popen.pid)
                base = first.setdefault(figure, measured.rate)
                ratio = measured.rate / base if base else 0.0
                met = None if count == 1 else (ratio >= 1.0 if count == 2 else None)
                bench.rows.append(Row(
                    f"scale-out: {figure} with {count} worker{'s' if count > 1 else ''}",
                    described(measured, expected), str(cpu),
                    "—" if count == 1 else f"{ratio:.2f} times 1 worker",
                    "2 workers ≥ 1" if count == 2 else "printed", met))
                asyncio.run(settled(bench.stack.namespace, bench.stack.mongodb_uri))
        finally:
            for process in extra:
                bench.stack.stop(process)
