"""`make bench`: every figure of the table, each beside its raw limit, in one run.

Order: the half-peak latency needs the peak, and every figure waits until the
commands it queued are applied, so none loads the next one's database. The
worker's cost per command is measured first, on the freshly seeded database
with nothing else running (bench.worker_cost); scale-out with 1, 2 and 4
workers follows create (bench.scale_out). Approve and the list page come last:
what their requests leave running on the database would slow whatever came
after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from bench.assertions import assertion_rows, seed_signing_clients
from bench.authorization import authorization_rows
from bench.database import delete_topology, settled, write_probe
from bench.measure import Measured
from bench.reads import empty_gateway_mb, get_row, list_rows, memory_per_client
from bench.report import Row, compared, described, markdown
from bench.scale_out import scale_out
from bench.seed import Seeded, seed_clients
from bench.stack import AMQP_URL, REPO, Process, Stack, StackError
from bench.worker_cost import command_costs, command_throughput, create_writes
from bench.wrk import WrkError, run_wrk, write_requests
from common.clients import Status
from common.keyring import Keyring

T = TypeVar("T")
RESULTS = Path(__file__).with_name("results") / "latest.md"
MEMORY_LIMIT_MB = 150
# The write path's targets (a create costs several writes where the raw figure is one).
CREATE_AT_LEAST = 0.25
CREATE_HALF_P99_MS = 100
APPROVE_AT_LEAST = 0.5


@dataclass(frozen=True)
class Profile:
    clients: int
    with_secrets: int
    seconds: float
    connections: int


FULL = Profile(clients=100_000, with_secrets=2_000, seconds=10, connections=16)
# A few seconds: enough to show every part of the harness still works.
SMOKE = Profile(clients=300, with_secrets=40, seconds=1, connections=2)


def raw(what: str, profile: Profile, **options: str) -> Measured:
    """A raw limit, measured by a bare client in its own process (bench.raw)."""
    args = [f"--{name}={value}" for name, value in options.items()]
    done = subprocess.run(
        [sys.executable, "-m", "bench.raw", what, f"--concurrency={profile.connections}",
         f"--seconds={profile.seconds}", *args],
        capture_output=True, text=True, check=False, cwd=REPO)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"bench.raw {what} failed: {done.stderr[-1000:]}")
    return Measured.from_dict(json.loads(line[len("BENCH "):]))


class Bench:
    def __init__(self, stack: Stack, profile: Profile, seeded: Seeded, worker: Process) -> None:
        self.stack = stack
        self.worker = worker
        self.profile = profile
        self.seeded = seeded
        self.rows: list[Row] = []
        self.notes: list[str] = []
        # Figures that could not be measured: the run is not valid.
        self.problems: list[str] = []
        # Loads that completed nothing or got other answers than expected: shown in the
        # table; fatal in the smoke run, whose only job is to show every path works.
        self.refused: list[str] = []
        self._files = stack.folder / "requests"
        self._files.mkdir()

    def attempt(self, figure: str, measure: Callable[[], T]) -> T | None:
        """One figure; if it fails, the run goes on and reports why (and is not valid)."""
        try:
            return measure()
        except (StackError, WrkError, RuntimeError, OSError) as exc:
            reason = str(exc).splitlines()[0][:300]
            self.problems.append(f"{figure}: {exc}")
            self.rows.append(Row(figure, f"**not measured**: {reason}", "—", "—", "—", False))
            return None

    def load(self, target: Process, name: str, requests: list[tuple[str, str, str]],
             expected: int, *, delay_ms: float = 0, connections: int | None = None,
             timeout_s: float = 10) -> Measured:
        """wrk against `target`; every answer should have the `expected` status."""
        path = write_requests(self._files / f"{name}.txt", requests)
        measured = run_wrk(target.url, path, token=self.stack.token,
                           connections=connections or self.profile.connections,
                           seconds=self.profile.seconds, delay_ms=delay_ms,
                           timeout_s=timeout_s)
        if measured.operations == 0 or measured.unexpected(expected):
            self.refused.append(f"{name}: {measured.operations} requests, "
                                f"{measured.unexpected(expected)} not {expected}")
        return measured

    def creates(self, label: str) -> list[tuple[str, str, str]]:
        body = {"type": "oidc", "generate_secret": True,
                "redirect_uris": ["https://portal.example.com/callback"],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"]}
        return [("POST", "/v1/clients", json.dumps({**body, "name": f"{label} {n}"}))
                for n in range(2000)]

    def create(self, gateway: Process) -> Measured:
        """Create: the synchronous 201 path, its raw limit, and latency at half its peak."""
        insert = raw("insert", self.profile, uri=self.stack.mongodb_uri)
        peak = self.load(gateway, "create", self.creates("Created"), 201)
        self.rows.append(compared("create, synchronous 201", peak, (201,),
                                  "insert_one", insert, at_least=CREATE_AT_LEAST))
        self.at_half("create", gateway, self.creates("Half"), 201, peak,
                     p99_ms=CREATE_HALF_P99_MS)
        asyncio.run(settled(self.stack.namespace, self.stack.mongodb_uri))
        return peak

    def at_half(self, figure: str, gateway: Process, requests: list[tuple[str, str, str]],
                expected: int, peak: Measured, *, p99_ms: float) -> None:
        """Latency at half the peak rate: what a caller sees with headroom left.

        At the peak every connection waits in the server's queue, so its p99 is
        mostly queueing. Here each connection pauses between requests so that
        together they ask for half the peak: one request every connections/(peak/2) s.
        wrk pauses after each answer, so the rate also depends on how long answers
        take, and at half the load they take less than at the peak: a first run
        paced by the peak's latency asked for 58 creates a second and got 83. It only
        measures that latency; the figure is a second run whose pause is corrected by it.
        """
        wanted = peak.rate / 2
        cycle_ms = self.profile.connections / wanted * 1000 if wanted else 0.0
        pause_ms = max(0.0, cycle_ms - peak.p50_ms)
        half = self.load(gateway, f"{figure}-half", requests, expected, delay_ms=pause_ms)
        if wanted and half.rate > 0:
            answered_ms = self.profile.connections / half.rate * 1000 - pause_ms
            pause_ms = max(0.0, cycle_ms - answered_ms)
            half = self.load(gateway, f"{figure}-half", requests, expected, delay_ms=pause_ms)
        met = half.p99_ms <= p99_ms and half.unexpected(expected) == 0
        self.rows.append(Row(f"{figure} at half the peak", described(half, expected),
                             f"asked for {wanted:,.0f}/s", "—", f"p99 ≤ {p99_ms:g} ms", met))

    def accept(self) -> None:
        """Create on the 202 path: a gateway that does not wait for the worker.

        The workers are stopped meanwhile, so the figure is what the 202 path is
        for: taking a burst of commands in faster than they are applied (with them
        running it would only be the apply rate again, as all share one database).
        The queued commands are applied afterwards, before the next figure. The
        gateway runs for this figure only: every gateway reads each new client
        back into its read model, which would slow the other figures down.
        """
        publish = raw("publish", self.profile, uri=AMQP_URL)
        gateway = self.stack.gateway("gateway-accept", sync_wait_s="0")
        self.stack.stop(self.worker)
        try:
            accepted = self.load(gateway, "accept", self.creates("Accepted"), 202)
        finally:
            self.worker = self.stack.worker()
            self.stack.stop(gateway)
        self.rows.append(compared("create, 202 accepted (SYNC_WAIT_S=0), workers stopped",
                                  accepted, (202,), "confirmed persistent publish", publish,
                                  at_least=0.7))
        asyncio.run(settled(self.stack.namespace, self.stack.mongodb_uri))

    def approve(self, gateway: Process) -> None:
        update = raw("update", self.profile, uri=self.stack.mongodb_uri)
        keys = self.seeded.keys[Status.PENDING]
        # Every key approved, then every key disapproved, round and round: a key
        # comes back only after all the others, so no two requests race for one.
        requests = [("POST", f"/v1/clients/{key}/{action}", "")
                    for action in ("approve", "disapprove") for key in keys]
        measured = self.load(gateway, "approve", requests, 200)
        self.rows.append(compared("approve / disapprove", measured, (200,), "update_one",
                                  update, at_least=APPROVE_AT_LEAST))
        asyncio.run(settled(self.stack.namespace, self.stack.mongodb_uri))
        probe = asyncio.run(write_probe(self.stack.mongodb_uri,
                                         self.seeded.keys[Status.DISAPPROVED][:3]))
        self.notes.append(f"One write by key among {self.profile.clients:,} clients, alone: "
                          f"{probe}.")

    def verify(self, gateway: Process) -> None:
        constant = self.stack.constant_server()
        try:
            baseline = self.load(constant, "constant", [("POST", "/", '{"secret": "x"}')], 200)
        finally:
            self.stack.stop(constant)
        requests = [("POST", f"/v1/clients/{key}/verify", json.dumps({"secret": secret}))
                    for key, secret in self.seeded.secrets.items()]
        measured = self.load(gateway, "verify", requests, 200)
        self.rows.append(compared("verify a secret", measured, (200,),
                                  "constant JSON aiohttp handler", baseline, at_least=0.5,
                                  p99_ms=5))
        self.at_half("verify", gateway, requests, 200, measured, p99_ms=5)

    def memory(self, gateway: Process, loaded_mb: float, ready_s: float) -> None:
        now_mb = gateway.rss_mb()
        high = max(loaded_mb, now_mb)
        self.rows.append(Row(f"gateway memory, {self.profile.clients:,} clients loaded",
                             f"RSS {loaded_mb:.0f} MB once ready (after {ready_s:.0f} s), "
                             f"{now_mb:.0f} MB after the load",
                             "—", "—", f"≤ {MEMORY_LIMIT_MB} MB", high <= MEMORY_LIMIT_MB))


def worker_costs(bench: Bench, keyring: Keyring) -> None:
    """Round trips and database time of a create and an approve, before any load."""
    samples = 10 if bench.profile is SMOKE else 50
    pending = bench.seeded.keys[Status.PENDING][-samples:]
    costs = asyncio.run(command_costs(bench.stack.mongodb_uri, keyring, pending))
    bench.rows.extend(cost.row(bench.profile.clients) for cost in costs)
    # The worker's own limit, before the gateway's: 16 (20 times that) at a time. The
    # keys after the write probe's; approved then disapproved, they end as they began.
    keys = bench.seeded.keys[Status.DISAPPROVED][3:3 + 20 * bench.profile.connections]
    rates = asyncio.run(command_throughput(bench.stack.mongodb_uri, keyring, keys,
                                           in_flight=bench.profile.connections))
    insert = raw("insert", bench.profile, uri=bench.stack.mongodb_uri)
    update = raw("update", bench.profile, uri=bench.stack.mongodb_uri)
    create, change = rates
    bench.rows.append(create.row(bench.profile.connections, "insert_one", insert.rate))
    # The ceiling the database sets a create, whatever the service does around its writes.
    writes = asyncio.run(create_writes(bench.stack.mongodb_uri, keyring,
                                       20 * bench.profile.connections,
                                       in_flight=bench.profile.connections))
    bench.rows.append(writes.row(bench.profile.connections, "insert_one", insert.rate))
    bench.rows.append(change.row(bench.profile.connections, "update_one", update.rate))


# `--only writes`: the figures of the write path alone (worker cost, create, scale-out,
# approve), to compare two versions of the worker quickly, with fewer clients if asked.
WRITES = "writes"


def measure(profile: Profile, folder: Path, *, only: str | None = None
            ) -> tuple[list[Row], list[str], list[str], list[str]]:
    stack = Stack.start(folder)
    try:
        keyring = Keyring.parse((folder / "keyring").read_text())
        seeded = asyncio.run(seed_clients(stack.mongodb_uri, keyring, profile.clients,
                                          with_secrets=profile.with_secrets))
        signers = asyncio.run(seed_signing_clients(stack.mongodb_uri, keyring))
        bench = Bench(stack, profile, seeded, stack.worker())
        # Before any gateway: its worker publishes no event (an in-memory broker), so its
        # approvals reach a gateway's read model through the gateway's load, not later.
        bench.attempt("worker cost", lambda: worker_costs(bench, keyring))
        empty_mb = 0.0 if only == WRITES else empty_gateway_mb(stack)
        gateway = stack.gateway()
        loaded_mb = gateway.rss_mb()
        bench.attempt("create", lambda: bench.create(gateway))
        if only != WRITES:
            bench.attempt("create, 202", bench.accept)
        bench.attempt("scale-out", lambda: scale_out(
            bench, gateway, (1, 2) if profile is SMOKE else (1, 2, 4)))
        if only == WRITES:
            bench.attempt("approve / disapprove", lambda: bench.approve(gateway))
            return bench.rows, bench.notes, bench.problems, bench.refused
        bench.attempt("get one client", lambda: get_row(bench, gateway))
        bench.attempt("verify a secret", lambda: bench.verify(gateway))
        bench.attempt("authorization server calls",
                      lambda: authorization_rows(bench, gateway))
        bench.attempt("client assertions",
                      lambda: assertion_rows(bench, gateway, signers))
        bench.memory(gateway, loaded_mb, gateway.ready_s or 0.0)
        bench.rows.append(memory_per_client(loaded_mb, empty_mb, profile.clients))
        # The database's slowest figures last: what they leave running loads nothing after.
        bench.attempt("approve / disapprove", lambda: bench.approve(gateway))
        bench.attempt("list", lambda: list_rows(bench, gateway))
        return bench.rows, bench.notes, bench.problems, bench.refused
    finally:
        stack.close()
        asyncio.run(delete_topology(stack.namespace))


def keep_logs(folder: Path) -> Path:
    """The logs of a run whose figures failed (the gateway's, the workers', the
    database server's), copied out of its folder, which is removed: they say why."""
    kept = Path(tempfile.mkdtemp(prefix="clientkeys-bench-logs-"))
    for log in folder.glob("*.log"):
        shutil.copy2(log, kept / log.name)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true",
                        help="a few seconds with few clients: checks the harness, not speed")
    parser.add_argument("--out", type=Path, help=f"where to write the table (default {RESULTS}; "
                        "with --smoke, nowhere)")
    parser.add_argument("--only", choices=[WRITES],
                        help="only the write path: worker cost, create, scale-out, approve")
    parser.add_argument("--clients", type=int,
                        help=f"how many clients to seed (default {FULL.clients:,})")
    args = parser.parse_args(argv)
    profile = SMOKE if args.smoke else FULL
    if args.clients:
        profile = replace(profile, clients=args.clients,
                          with_secrets=min(profile.with_secrets, args.clients // 10))
    with tempfile.TemporaryDirectory(prefix="clientkeys-bench-") as folder:
        rows, notes, problems, refused = measure(profile, Path(folder), only=args.only)
        kept = keep_logs(Path(folder)) if problems or refused else None
    setup = (f"{profile.clients:,} clients seeded; wrk and each bare client at "
             f"{profile.connections} concurrent requests for {profile.seconds:g} s per figure; "
             "gateway and worker with production settings (JSON logs at INFO).")
    table = markdown(rows, setup=setup, details="\n\n".join(notes))
    print(table)
    # Only the full table, as the README quotes it, replaces the latest results.
    partial = args.smoke or args.only or args.clients
    out = args.out or (None if partial else RESULTS)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(table)
    for problem in problems:
        print(f"bench: not measured: {problem}", file=sys.stderr)
    for answer in refused:
        print(f"bench: failed requests: {answer}", file=sys.stderr)
    if kept is not None:
        print(f"bench: the processes' logs of this run are kept in {kept}", file=sys.stderr)
    return 1 if problems or (args.smoke and refused) else 0
