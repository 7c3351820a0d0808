"""The service's processes as tests start them: `python -m clientkeys.cli <command>`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "clientkeys.cli"]
REPO = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any CLIENTKEYS_ setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTKEYS_")}
    env.update(extra)
    return env


def stop(process: subprocess.Popen[str]) -> int:
    """SIGTERM, and its exit code; killed if it has not exited within 30 s (and the wait's
    TimeoutExpired raised), so that a test never leaves it running."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


def wait_for_line(process: subprocess.Popen[str], prefix: str, timeout_s: float = 60) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no line starting {prefix!r}; exit code {process.poll()}")


def json_lines(log_file: Path) -> list[dict[str, Any]]:
    """Every line of a JSON log; fails on a line that is not one JSON object."""
    lines = []
    for number, line in enumerate(log_file.read_text().splitlines(), 1):
        if line.strip():
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"log line {number} is not JSON: {line[:200]}") from None
    return lines


def wait_for_log(log_file: Path, event: str, process: subprocess.Popen[Any],
                 timeout_s: float = 60) -> dict[str, Any]:
    """The first JSON log line whose event starts with `event`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in json_lines(log_file):
            if str(line.get("event", "")).startswith(event):
                return line
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"no log line {event!r}; exit code {process.poll()}:\n"
                         f"{log_file.read_text()[-2000:]}")
