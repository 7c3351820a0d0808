"""The RabbitMQ definitions as tests read them: topology, broker users and their permissions.

Like the checks in tests/deployment.py, each takes a parsed document and returns its
problems, one line each, so a test can hand it a broken copy and see it complain.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from common.topology import Topology


def _typed(arguments: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    # 10 and 10.0 compare equal in Python but not in RabbitMQ's equivalence check.
    return {key: (type(value).__name__, value) for key, value in arguments.items()}


def definitions_problems(definitions: dict[str, Any], topology: Topology) -> list[str]:
    """The definitions declare exactly the durable part of `topology`'s table, which
    `common.amqp_bus` declares where it is missing.

    Anything else and the service's own declarations fail with PRECONDITION_FAILED.
    """
    problems = []
    exchanges = {e["name"]: e for e in definitions.get("exchanges", [])}
    want_exchanges = {e.name: e.kind for e in topology.exchanges}
    if set(exchanges) != set(want_exchanges):
        problems.append(f"exchanges {sorted(exchanges)}, want {sorted(want_exchanges)}")
    for name, kind in want_exchanges.items():
        got = exchanges.get(name)
        if got is not None and (got["type"], got["durable"], got["auto_delete"],
                                got.get("internal", False), got.get("arguments", {}),
                                got["vhost"]) != (kind, True, False, False, {}, "/"):
            problems.append(f"exchange {name}: want a durable {kind} exchange in /, "
                            "no arguments")
    queues = {q["name"]: q for q in definitions.get("queues", [])}
    want_queues = {queue.name: dict(queue.arguments) for queue in topology.queues}
    if set(queues) != set(want_queues):
        problems.append(f"queues {sorted(queues)}, want {sorted(want_queues)}")
    for name, arguments in want_queues.items():
        got = queues.get(name)
        if got is not None and ((got["durable"], got["auto_delete"], got["vhost"])
                                != (True, False, "/")
                                or _typed(got.get("arguments", {})) != _typed(arguments)):
            problems.append(f"queue {name}: want durable in / with arguments {arguments}, "
                            f"not {got.get('arguments')}")
    bindings = {(b["source"], b["destination_type"], b["destination"], b["routing_key"],
                 b["vhost"]) for b in definitions.get("bindings", [])}
    want_bindings = {(b.exchange, "queue", b.queue, b.routing_key, "/")
                     for b in topology.bindings}
    if bindings != want_bindings:
        problems.append(f"bindings {sorted(bindings)}, want {sorted(want_bindings)}")
    return problems


# The broker user of each kind of process in deploy/rabbitmq/definitions.json.
BROKER_USERS = {"gateway": "clientkeys-gateway", "worker": "clientkeys-worker",
                "subscriber": "clientkeys-subscriber"}
PERMISSIONS = ("configure", "write", "read")
# What a process's own queue names end with: a uuid4's 32 hex digits.
_OWN = "0123456789abcdef0123456789abcdef"


def broker_needs(topology: Topology) -> dict[str, set[tuple[str, str]]]:
    """(permission, resource) each kind of process needs, from what its code does.

    RabbitMQ's rules: declaring (not passively) needs configure on the queue;
    binding needs write on the queue and read on the exchange; publishing, write
    on the exchange; consuming or getting, read on the queue. The durable
    topology exists already (the definitions), so it is only declared passively,
    which needs nothing.
    """
    own_queues = (topology.reply_queue(_OWN), topology.event_subscriber_queue(_OWN))
    subscriber_queues = (topology.subscriber_queue(f"tail.{_OWN}"),
                         topology.subscriber_queue("billing"))
    return {
        # api: publish commands, its reply and read-model queues; `clientkeys dlq`.
        "gateway": {("write", topology.commands_exchange),
                    ("read", topology.replies_exchange), ("read", topology.events_exchange),
                    ("read", topology.dead_letter_queue),
                    *((permission, queue) for queue in own_queues
                      for permission in PERMISSIONS)},
        # worker: consume commands, publish events and replies.
        "worker": {("read", topology.commands_queue), ("write", topology.events_exchange),
                   ("write", topology.replies_exchange)},
        # `clientkeys events tail` and any service subscribing: queues of its own prefix.
        "subscriber": {("read", topology.events_exchange),
                       *((permission, queue) for queue in subscriber_queues
                         for permission in PERMISSIONS)},
    }


def broker_resources(topology: Topology) -> set[str]:
    """Every name a permission could be asked for: the topology, each process's own
    queues, and near misses of them."""
    ns = topology.namespace
    named = {name for needs in broker_needs(topology).values() for _, name in needs}
    return named | {exchange.name for exchange in topology.exchanges} | {
        topology.commands_queue, topology.dead_letter_queue, "amq.default", "amq.topic",
        "amq.gen-JzTY20BRgKO-HjmUJj0wLg",
        topology.reply_queue("not-hex"), topology.event_subscriber_queue(_OWN + "0"),
        f"{ns}.subscriber", f"{ns}.commands2", f"x{ns}.commands", f"other.{ns}.events",
        f"{ns}.commands.dead.x", f"{ns}xcommands"}


def permission_problems(definitions: dict[str, Any], topology: Topology) -> list[str]:
    """Each process's user is granted exactly what its job needs, nothing more.

    RabbitMQ matches a permission's regular expression anywhere in the name
    (Erlang's re:run), as re.search does.
    """
    granted = {(p["user"], p["vhost"]): p for p in definitions.get("permissions", [])}
    problems = []
    for role, needs in broker_needs(topology).items():
        user = BROKER_USERS[role]
        grant = granted.pop((user, "/"), None)
        if grant is None:
            problems.append(f"{user}: no permissions in /")
            continue
        for permission in PERMISSIONS:
            for resource in sorted(broker_resources(topology)):
                allowed = re.search(grant[permission], resource) is not None
                if allowed != ((permission, resource) in needs):
                    problems.append(f"{user} {'may' if allowed else 'may not'} {permission} "
                                    f"{resource!r}")
    problems += [f"{user}: permissions no process needs" for user, _ in granted]
    return problems


def rabbitmq_password_matches(user: dict[str, Any], password: str) -> bool:
    """RabbitMQ's SHA-256 scheme: base64(salt[4] + sha256(salt + password))."""
    if user.get("hashing_algorithm") != "rabbit_password_hashing_sha256":
        return False
    raw = base64.b64decode(user["password_hash"])
    salt, digest = raw[:4], raw[4:]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def erlang_atom_list(text: str) -> list[str]:
    """`[a,b].`, the enabled_plugins file's form."""
    match = re.fullmatch(r"\s*\[([a-z0-9_,\s]*)\]\.\s*", text)
    if match is None:
        raise ValueError(f"not an Erlang list of atoms: {text!r}")
    return [atom.strip() for atom in match.group(1).split(",") if atom.strip()]


def sysctl_style(text: str) -> dict[str, str]:
    """`key = value` lines, as in rabbitmq.conf."""
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}
