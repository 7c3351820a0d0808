"""HTTP load from a separate process: wrk, driven by bench/load.lua."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.measure import Measured

SCRIPT = Path(__file__).with_name("load.lua")
THREADS = 2
_SUMMARY = "BENCH "


class WrkError(RuntimeError):
    pass


def wrk_command() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise WrkError("wrk is not installed: `make bench` installs it (Debian package wrk)")
    return found


def write_requests(path: Path, requests: list[tuple[str, str, str]]) -> Path:
    """The file load.lua reads: METHOD<TAB>PATH<TAB>BODY per line."""
    if not requests:
        raise WrkError(f"no requests for {path.name}")
    with path.open("w") as out:
        for method, target, body in requests:
            if "\t" in target + body or "\n" in target + body:
                raise WrkError("a request holds a tab or a newline")
            out.write(f"{method}\t{target}\t{body}\n")
    return path


def run_wrk(url: str, requests: Path, *, token: str, connections: int, seconds: float,
            delay_ms: float = 0, timeout_s: float = 10) -> Measured:
    threads = min(THREADS, connections)
    env = dict(os.environ, BENCH_REQUESTS=str(requests), BENCH_TOKEN=token,
               BENCH_THREADS=str(threads), BENCH_DELAY_MS=str(round(delay_ms)))
    done = subprocess.run(
        [wrk_command(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
         "--timeout", f"{round(timeout_s)}s", "-s", str(SCRIPT), url],
        env=env, capture_output=True, text=True, check=False)
    summary = next((line[len(_SUMMARY):] for line in done.stdout.splitlines()
                    if line.startswith(_SUMMARY)), None)
    if done.returncode != 0 or summary is None:
        raise WrkError(f"wrk failed ({done.returncode}): {(done.stderr or done.stdout)[-500:]}")
    data = json.loads(summary)
    statuses: Counter[int] = Counter()
    for per_thread in data["statuses"]:
        statuses.update({int(k): v for k, v in per_thread.items()})
    return Measured(data["requests"], data["duration_us"] / 1e6, data["p50_us"] / 1000,
                    data["p99_us"] / 1000, statuses, data["socket_errors"])
