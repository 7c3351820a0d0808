"""Static API tokens: hashed on disk, looked up by digest, re-read on change."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from api.auth.principals import CLIENTS_READ, CLIENTS_VERIFY, CONFIGURE_SERVER, Principal
from api.auth.tokens import RECHECK_S, TokensFileError, TokenStore, token_digest


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, entries: list[dict[str, object]], mtime: float) -> None:
    path.write_text(json.dumps(entries))
    os.utime(path, (mtime, mtime))


def entry(subject: str, token: str, *permissions: str) -> dict[str, object]:
    return {"subject": subject, "sha256": token_digest(token), "permissions": list(permissions)}


def test_tokens_authenticate_by_hash_and_carry_permissions(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    write(path, [entry("alice", "tok-a", CONFIGURE_SERVER), entry("dash", "tok-d", CLIENTS_READ)],
          1000)
    store = TokenStore(path)
    alice, dash = store.authenticate("tok-a"), store.authenticate("tok-d")
    assert alice is not None and alice.subject == "alice"
    assert alice.allows(CLIENTS_READ) and alice.allows(CONFIGURE_SERVER)
    assert dash is not None and dash.allows(CLIENTS_READ)
    assert not dash.allows(CONFIGURE_SERVER)
    assert store.authenticate("tok-x") is None
    assert "tok-a" not in path.read_text()


def test_a_changed_file_is_picked_up_and_a_broken_one_is_reported(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path, clock = tmp_path / "tokens.json", Clock()
    write(path, [entry("alice", "tok-a", CONFIGURE_SERVER)], 1000)
    store = TokenStore(path, clock=clock)
    write(path, [entry("bob", "tok-b", CLIENTS_READ)], 2000)
    clock.now += RECHECK_S * 1.1
    assert store.authenticate("tok-a") is None  # revoked
    assert store.authenticate("tok-b") is not None
    path.write_text("[{broken")
    os.utime(path, (3000, 3000))
    clock.now += RECHECK_S * 1.1
    assert store.authenticate("tok-b") is not None  # last good tokens stay
    clock.now += RECHECK_S * 1.1
    assert store.authenticate("tok-b") is not None
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1  # once per change, not once per request
    assert "not reloaded" in errors[0].getMessage()


def test_an_added_token_works_at_once_and_a_revocation_within_the_recheck(
        tmp_path: Path) -> None:
    path, clock = tmp_path / "tokens.json", Clock()
    write(path, [entry("alice", "tok-a", CONFIGURE_SERVER)], 1000)
    store = TokenStore(path, clock=clock)
    assert store.authenticate("tok-a") is not None
    # Added: not known yet, so the file is looked at again, whatever the clock says.
    write(path, [entry("alice", "tok-a", CONFIGURE_SERVER), entry("bob", "tok-b", CLIENTS_READ)],
          2000)
    bob = store.authenticate("tok-b")
    assert bob is not None and bob.subject == "bob"
    # Revoked: a known token is taken until the recheck is due, and no longer after.
    write(path, [entry("bob", "tok-b", CLIENTS_READ)], 3000)
    assert store.authenticate("tok-a") is not None
    clock.now += RECHECK_S * 0.9
    assert store.authenticate("tok-a") is not None
    clock.now += RECHECK_S * 0.2
    assert store.authenticate("tok-a") is None
    assert store.authenticate("tok-b") is not None


@pytest.mark.parametrize("content", [
    "not json", "{}", "[1]", '[{"sha256": "' + "a" * 64 + '", "permissions": []}]',
    '[{"subject": "x", "sha256": "short", "permissions": []}]',
    '[{"subject": "x", "sha256": "' + "a" * 64 + '", "permissions": ["root"]}]',
])
def test_bad_tokens_files_are_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(content)
    with pytest.raises(TokensFileError):
        TokenStore(path)


@pytest.mark.parametrize(("held", "asked", "allowed"), [
    (CONFIGURE_SERVER, CONFIGURE_SERVER, True),
    (CONFIGURE_SERVER, CLIENTS_READ, True),
    # Verifying credentials is its own right: an admin token is no secret oracle.
    (CONFIGURE_SERVER, CLIENTS_VERIFY, False),
    (CLIENTS_READ, CLIENTS_READ, True),
    (CLIENTS_READ, CONFIGURE_SERVER, False),
    (CLIENTS_READ, CLIENTS_VERIFY, False),
    (CLIENTS_VERIFY, CLIENTS_VERIFY, True),
    (CLIENTS_VERIFY, CLIENTS_READ, False),
])
def test_what_each_permission_allows(held: str, asked: str, allowed: bool) -> None:
    assert Principal("p", frozenset({held}), "token:p").allows(asked) is allowed
