"""`clientkeys tokens create|list|revoke` keep the tokens file the gateway reads."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from api.auth.principals import CLIENTS_READ, CLIENTS_VERIFY, CONFIGURE_SERVER
from api.auth.token_admin import TOKEN_PREFIX, create_token, list_tokens, revoke_tokens
from api.auth.tokens import TokensFileError, TokenStore
from clientkeys.cli import main


def test_a_created_token_authenticates_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    token, entry = create_token(path, "ops-dashboard", [CLIENTS_READ, CLIENTS_VERIFY])
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    principal = TokenStore(path).authenticate(token)
    assert principal is not None and principal.subject == "ops-dashboard"
    assert principal.permissions == {CLIENTS_READ, CLIENTS_VERIFY}
    assert token not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [e.id for e in list_tokens(path)] == [entry.id]


def test_revoke_by_id_or_subject_and_a_running_store_notices(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    first, one = create_token(path, "alice", [CONFIGURE_SERVER])
    second, _ = create_token(path, "bob", [CLIENTS_READ])
    third, _ = create_token(path, "bob", [CLIENTS_READ])
    store = TokenStore(path)
    assert store.authenticate(first) is not None
    assert [e.subject for e in revoke_tokens(path, ids=[one.id])] == ["alice"]
    assert [e.subject for e in revoke_tokens(path, subject="bob")] == ["bob", "bob"]
    assert revoke_tokens(path, subject="nobody") == []
    assert list_tokens(path) == []
    store.reload()  # the same as a request after the file changed
    assert all(store.authenticate(t) is None for t in (first, second, third))


def test_concurrent_creates_lose_no_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: create_token(path, f"svc-{i}", [CLIENTS_READ])[0],
                             range(40)))
    store = TokenStore(path)
    assert all(store.authenticate(token) is not None for token in made)
    assert len(json.loads(path.read_text())) == 40


@pytest.mark.parametrize(("subject", "permissions"), [
    ("", [CLIENTS_READ]), ("-leading-dash", [CLIENTS_READ]), ("x" * 200, [CLIENTS_READ]),
    ("ok", []), ("ok", ["root"]),
])
def test_bad_subjects_and_permissions_are_refused(tmp_path: Path, subject: str,
                                                  permissions: list[str]) -> None:
    path = tmp_path / "tokens.json"
    with pytest.raises(TokensFileError):
        create_token(path, subject, permissions)
    assert not path.exists()


def test_a_broken_file_is_not_built_upon(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("[{broken")
    with pytest.raises(TokensFileError):
        create_token(path, "alice", [CLIENTS_READ])
    assert path.read_text() == "[{broken"


def test_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "tokens.json"
    monkeypatch.setenv("CLIENTKEYS_TOKENS_FILE", str(path))
    assert main(["tokens", "create", "--subject", "ops", "--permission", CLIENTS_READ]) == 0
    token = capsys.readouterr().out.strip()
    assert TokenStore(path).authenticate(token) is not None
    assert main(["tokens", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["subject"] == "ops" and token not in json.dumps(listed)
    assert main(["tokens", "revoke"]) == 2
    assert main(["tokens", "revoke", "000000000000"]) == 1
    assert main(["tokens", "revoke", listed["id"]]) == 0
    assert TokenStore(path).authenticate(token) is None
    path.write_text("not json")
    assert main(["tokens", "list"]) == 2
    assert "not JSON" in capsys.readouterr().err
