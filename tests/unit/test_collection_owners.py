"""Each MongoDB collection has one owner: only the modules named here touch it.

Read from every module's source (ast): a module that names a collection
(`common.store.OPERATIONS`, ...) holds a handle on it, so it is the owner or
one of the few readers listed. Everyone else goes through the owner, which
alone knows the document's shape. `common.store` declares the names and the
indexes, and is left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "worker", "common", "clientkeys", "bench")
# Collection name in common.store -> the modules that may hold a handle on it.
OWNERS: dict[str, frozenset[str]] = {
    "OPERATIONS": frozenset({"common.operations_store"}),
    "AUDIT": frozenset({"common.audit_store"}),
    "SECRET_USAGE": frozenset({"api.verify.secret_usage"}),
    # Initial access tokens: written by the workers alone (commands make and revoke them,
    # a self-registration's create takes a use), read by the gateway.
    "REGISTRATION_TOKENS": frozenset({"worker.token_store", "api.registration.token_reads"}),
    "ASSERTION_JTIS": frozenset({"api.verify.assertion_replay"}),
    # worker.rekey re-seals every sealed value, wherever it is stored.
    "IDEMPOTENCY_KEYS": frozenset({"api.views.idempotency_records", "worker.rekey"}),
    # The worker writes clients; the gateway reads them (RFC 7592's read with the digest of
    # the registration access token); rekey re-seals their secrets; the benchmark seeds,
    # times and counts them.
    "CLIENTS": frozenset({"worker.repository", "api.views.queries", "api.verify.read_model",
                          "api.registration.client_access", "worker.pending_sweep",
                          "api.views.stats", "worker.rekey", "bench.seed", "bench.assertions",
                          "bench.database", "bench.reads"}),
}


# Collections with one writer among their owners: the others only read.
WRITERS: dict[str, str] = {"REGISTRATION_TOKENS": "worker.token_store"}
_WRITES = frozenset({"insert_one", "insert_many", "update_one", "update_many", "replace_one",
                     "delete_one", "delete_many", "bulk_write", "find_one_and_update",
                     "find_one_and_replace", "find_one_and_delete", "drop"})


def writes_in(source: str) -> set[str]:
    """The collection-writing methods a module's source calls."""
    return {node.func.attr for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in _WRITES}


def collections_named(source: str) -> set[str]:
    """The collections of common.store a module's source names, imported or as attributes."""
    named: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module == "common.store":
            named.update(alias.name for alias in node.names if alias.name in OWNERS)
        elif (isinstance(node, ast.Attribute) and node.attr in OWNERS
              and isinstance(node.value, ast.Name) and node.value.id == "store"):
            named.add(node.attr)
    return named


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


@pytest.mark.parametrize(("source", "expected"), [
    ("from common.store import OPERATIONS, Document", {"OPERATIONS"}),
    ("from common import store\nstore.AUDIT", {"AUDIT"}),
    ("def f():\n    from common.store import CLIENTS", {"CLIENTS"}),
    ("from common.store import Document, now", set()),
    ("from common.operations_store import get_operation", set()),
])
def test_a_collection_is_found_however_it_is_named(source: str, expected: set[str]) -> None:
    assert collections_named(source) == expected


def test_only_its_owners_touch_a_collection() -> None:
    strays = {(module, name) for module, path in modules() if module != "common.store"
              for name in collections_named(path.read_text()) if module not in OWNERS[name]}
    assert not strays, f"go through the collection's owner instead: {sorted(strays)}"


def test_every_owner_named_exists() -> None:
    known = {module for module, _ in modules()}
    assert {m for owners in OWNERS.values() for m in owners} <= known


def test_the_write_finder_finds_what_it_looks_for() -> None:
    assert writes_in("db[X].update_one({}, {})\ncoll.find_one({})\nc.insert_one({})") == {
        "update_one", "insert_one"}


def test_a_collection_with_one_writer_is_only_read_by_its_other_owners() -> None:
    paths = dict(modules())
    for name, writer in WRITERS.items():
        assert writer in OWNERS[name]
        readers = OWNERS[name] - {writer}
        writing = {module: writes_in(paths[module].read_text()) for module in readers}
        assert not any(writing.values()), f"{name} is written by {writer} alone: {writing}"
