"""The keyring file (common.keyring_file) and how settings choose a keyring."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest

from common.keyring import KeyringError, SecretSlot, client_secret_aad, new_key_entry
from common.keyring_file import FileKeyring, add_primary_key, read_keyring_file
from common.settings import Settings, SettingsError, load_settings

AAD = client_secret_aad("client-a", SecretSlot.CURRENT)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def keyring_file(tmp_path: Path, *key_ids: str, extra: str = "") -> Path:
    path = tmp_path / "keyring"
    path.write_text("".join(new_key_entry(k) + "\n" for k in key_ids) + extra)
    return path


def test_one_entry_a_line_with_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "keyring"
    path.write_text(f"# rotated 2026-11\n\n{new_key_entry('new')}\n  {new_key_entry('old')}\n")
    keyring = read_keyring_file(path)
    assert keyring.key_ids == ("new", "old")
    assert keyring.current_key_id == "new"


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("not-an-entry\n", "line 1 is not of the form"),
    (f"{new_key_entry('a')}\n{new_key_entry('a')}\n", "appears twice"),
    ("a:c2hvcnQ\n", "must be 32 bytes"),
])
def test_a_broken_file_is_refused_by_line_never_showing_a_key(
        tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keyring"
    path.write_text(text)
    with pytest.raises(KeyringError, match=message) as caught:
        read_keyring_file(path)
    assert str(path) in str(caught.value)
    for material in (line.partition(":")[2] for line in text.splitlines()):
        assert not material or material not in str(caught.value)


def test_a_new_key_goes_first_and_the_file_stays_private(tmp_path: Path) -> None:
    path = keyring_file(tmp_path, "k1", extra="# a note\n")
    before = path.read_text()
    keyring = add_primary_key(path, "k2")
    assert keyring.key_ids == ("k2", "k1")
    assert read_keyring_file(path).key_ids == ("k2", "k1")
    assert path.read_text().endswith(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


@pytest.mark.parametrize("key_id", ["k1", "", "a:b", "a,b", " padded"])
def test_a_new_key_needs_a_new_plain_id(tmp_path: Path, key_id: str) -> None:
    path = keyring_file(tmp_path, "k1")
    before = path.read_text()
    with pytest.raises(KeyringError):
        add_primary_key(path, key_id)
    assert path.read_text() == before


def test_a_running_process_follows_the_file_at_most_once_per_interval(
        tmp_path: Path) -> None:
    path = keyring_file(tmp_path, "k1")
    clock = Clock()
    keyring = FileKeyring(path, check_interval_s=1.0, clock=clock)
    add_primary_key(path, "k2")
    assert keyring.seal("x", AAD).key_id == "k1"  # not looked at yet
    clock.now = 1.0
    sealed = keyring.seal("x", AAD)
    assert sealed.key_id == "k2"
    assert keyring.open(sealed, AAD) == "x"


def test_an_unknown_key_id_makes_it_look_at_once(tmp_path: Path) -> None:
    path = keyring_file(tmp_path, "k1")
    keyring = FileKeyring(path, check_interval_s=3600, clock=Clock())
    sealed = add_primary_key(path, "k2").seal("sealed elsewhere", AAD)
    assert keyring.open(sealed, AAD) == "sealed elsewhere"
    assert keyring.fingerprint(b"x", "k2") == read_keyring_file(path).fingerprint(b"x", "k2")
    assert keyring.current_key_id == "k2"


def test_a_broken_file_keeps_the_last_good_keys_and_says_so_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = keyring_file(tmp_path, "k1")
    keyring = FileKeyring(path, check_interval_s=0)
    path.write_text("k2:not-a-key\n")
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert keyring.seal("x", AAD).key_id == "k1"
        path.unlink()
        assert keyring.seal("x", AAD).key_id == "k1"
    assert len([r for r in caplog.records if "not reloaded" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if "not readable" in r.getMessage()]) == 1


def test_settings_take_the_file_or_the_variable_not_both(tmp_path: Path) -> None:
    path = keyring_file(tmp_path, "from-file")
    env = {"CLIENTKEYS_ENCRYPTION_KEYS_FILE": str(path)}
    settings = load_settings(env)
    assert settings.keyring().current_key_id == "from-file"
    assert isinstance(settings.live_keyring(), FileKeyring)
    both = load_settings({**env, "CLIENTKEYS_ENCRYPTION_KEYS": new_key_entry("from-env")})
    with pytest.raises(SettingsError, match="not both"):
        both.keyring()
    with pytest.raises(SettingsError, match="not both"):
        both.live_keyring()
    missing = Settings(encryption_keys_file=tmp_path / "absent")
    with pytest.raises(SettingsError, match="ENCRYPTION_KEYS_FILE: cannot read"):
        missing.live_keyring()
