"""The results table: one row per figure, each beside the raw limit it depends on."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.measure import Measured


@dataclass(frozen=True)
class Row:
    """One figure. `met` is None where there is nothing to judge."""

    figure: str
    service: str
    raw: str
    ratio: str
    target: str
    met: bool | None


def rate(m: Measured) -> str:
    return f"{m.rate:,.0f}/s"


def latency(m: Measured) -> str:
    return f"p50 {m.p50_ms:.1f} ms, p99 {m.p99_ms:.1f} ms"


def described(m: Measured, *expected: int) -> str:
    text = f"{rate(m)}, {latency(m)}"
    unexpected = m.unexpected(*expected) if expected else m.errors
    if unexpected:
        kinds = [f"{n} with {status}" for status, n in sorted(m.statuses.items())
                 if status not in expected]
        if m.errors:
            kinds.append(f"{m.errors} without an answer")
        text += f", **{unexpected} failed** ({', '.join(kinds)})"
    return text


def compared(figure: str, service: Measured, expected: tuple[int, ...], raw_name: str,
             raw: Measured, *, at_least: float, p99_ms: float | None = None) -> Row:
    """A throughput figure as a share of its raw limit, and optionally a latency bound."""
    ratio = service.rate / raw.rate if raw.rate else 0.0
    met = ratio >= at_least and service.unexpected(*expected) == 0 and raw.errors == 0
    target = f"≥ {at_least:.0%}"
    if p99_ms is not None:
        met = met and service.p99_ms <= p99_ms
        target += f", p99 ≤ {p99_ms:g} ms"
    return Row(figure, described(service, *expected), f"{raw_name}: {described(raw)}",
               f"{ratio:.0%}", target, met)


def machine() -> str:
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text()
                     .splitlines() if line.startswith("MemTotal:"))
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                  .splitlines() if line.startswith("model name")), platform.machine())
    return (f"{os.cpu_count()} cores ({model}), {memory_kb / 1024 / 1024:.0f} GiB memory, "
            f"Python {platform.python_version()}, Linux {platform.release()}")


def commit() -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                          text=True, check=False, cwd=Path(__file__).parent)
    return done.stdout.strip() or "unknown"


def markdown(rows: list[Row], *, setup: str, details: str) -> str:
    mark = {True: "met", False: "**missed**", None: "—"}
    lines = [
        "# clientkeys benchmark",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · commit `{commit()}` · {machine()}",
        "",
        setup,
        "",
        "| figure | service | raw limit, same run | ratio | target | |",
        "|---|---|---|---|---|---|",
    ]
    lines += [f"| {r.figure} | {r.service} | {r.raw} | {r.ratio} | {r.target} | {mark[r.met]} |"
              for r in rows]
    return "\n".join([*lines, "", details, ""])
