"""The service as the benchmark runs it: real processes with production settings.

One SecantusDB server (the MongoDB-wire server of the tests, a separate
process), the machine's RabbitMQ, and `clientkeys gateway` / `clientkeys worker`
processes started exactly as an operator would start them: JSON logs at INFO,
to a file. Everything lives in one temporary folder and one namespace, both
removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from api.auth.principals import PERMISSIONS
from api.auth.tokens import token_digest
from clientkeys.devdb import DevDatabase, free_port
from common.keyring import new_key_entry

CLI = [sys.executable, "-m", "clientkeys.cli"]
# The repository root, so that `python -m bench.raw` finds the bench package.
REPO = Path(__file__).resolve().parents[1]
# A gateway is ready once its read model holds every client.
READY_TIMEOUT_S = 600
PORT_ATTEMPTS = 3
AMQP_URL = os.environ.get("CLIENTKEYS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")


class StackError(RuntimeError):
    """A process did not start; the message names its log file."""


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise StackError(f"no VmRSS for process {pid}")


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    """Poll a /readyz until it answers 200."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"exited with code {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise StackError(f"{url} not ready after {timeout_s:.0f}s; see {log}")


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int
    started: float = field(default_factory=time.monotonic)
    ready_s: float | None = None  # from start to a ready /readyz

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        return rss_mb(self.popen.pid)

    def stop(self) -> int:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(40)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Stack:
    """The folder, database server, token and settings every process shares."""

    folder: Path
    database: DevDatabase
    namespace: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}")
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    processes: list[Process] = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path) -> Stack:
        database = DevDatabase(folder / "db", folder / "secantusd.log")
        stack = cls(folder, database)
        (folder / "tokens.json").write_text(json.dumps([{
            "subject": "bench", "sha256": token_digest(stack.token),
            "permissions": list(PERMISSIONS)}]))
        (folder / "keyring").write_text(new_key_entry("bench1"))
        os.chmod(folder / "keyring", 0o600)
        return stack

    @property
    def mongodb_uri(self) -> str:
        return self.database.uri(self.namespace.replace("-", "_"))

    def environment(self, **settings: str) -> dict[str, str]:
        """Production settings (JSON logs at INFO) plus `settings`, CLIENTKEYS_-prefixed."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENTKEYS_")}
        env.update({
            "CLIENTKEYS_AMQP_URL": AMQP_URL,
            "CLIENTKEYS_MONGODB_URI": self.mongodb_uri,
            "CLIENTKEYS_NAMESPACE": self.namespace,
            "CLIENTKEYS_TOKENS_FILE": str(self.folder / "tokens.json"),
            "CLIENTKEYS_ENCRYPTION_KEYS_FILE": str(self.folder / "keyring"),
            "CLIENTKEYS_LOG_FORMAT": "json",
        })
        env.update({f"CLIENTKEYS_{name.upper()}": value for name, value in settings.items()})
        return env

    def _spawn(self, name: str, command: Callable[[int], tuple[list[str], dict[str, str]]]
               ) -> Process:
        """Start `command(port)` on a free port; again on another if that one was taken
        meanwhile (a port found free can be handed to an outgoing connection)."""
        for attempt in range(PORT_ATTEMPTS):
            port = free_port()
            argv, env = command(port)
            log = self.folder / f"{name}.log"
            with log.open("ab") as out:
                popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=REPO)
            process = Process(name, popen, log, port)
            self.processes.append(process)
            try:
                self.ready(process)
                return process
            except StackError:
                self.processes.remove(process)
                process.stop()
                taken = any(sign in log.read_text(errors="replace").lower()
                            for sign in ("address already in use", "cannot be used"))
                if not taken or attempt == PORT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def ready(self, process: Process) -> None:
        """Wait for the process's /readyz; note how long it took since its start."""
        try:
            wait_ready(f"{process.url}/readyz", process.popen, process.log, READY_TIMEOUT_S)
        except StackError as exc:
            tail = process.log.read_text(errors="replace")[-1500:]
            raise StackError(f"{process.name} {exc}; its log ends:\n{tail}") from None
        process.ready_s = time.monotonic() - process.started

    def gateway(self, name: str = "gateway", **settings: str) -> Process:
        """A gateway; with 100 000 clients its read model takes a while to load."""
        return self._spawn(name, lambda port: (
            [*CLI, "gateway"], self.environment(http_port=str(port), **settings)))

    def worker(self, name: str = "worker", **settings: str) -> Process:
        return self._spawn(name, lambda port: (
            [*CLI, "worker"], self.environment(worker_http_port=str(port), **settings)))

    def constant_server(self) -> Process:
        """The raw limit of the verify path (bench.raw constant); any path answers."""
        return self._spawn("constant", lambda port: (
            [sys.executable, "-m", "bench.raw", "constant", f"--port={port}"],
            self.environment()))

    def stop(self, process: Process) -> None:
        code = process.stop()
        self.processes.remove(process)
        if code != 0:
            raise StackError(f"{process.name} stopped with exit code {code}; see {process.log}")

    def close(self) -> None:
        """Stop every process, then the database server (even after an error)."""
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()
        self.database.stop()
