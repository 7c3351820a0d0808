"""Client secrets at rest and on the wire (common.keyring)."""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Callable

import pytest
from cryptography.exceptions import InvalidTag

from common.keyring import (
    Keyring,
    KeyringError,
    SealedSecret,
    generate_secret,
    new_key_entry,
)

SECRET = "a-very-long-client-secret"


def _material(entry: str) -> str:
    return entry.partition(":")[2]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("plaintext", [SECRET, "x" * 512, "ünïcödé-sécret-✓", ""])
def test_seal_open_round_trip(plaintext: str) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(plaintext)
    assert sealed.key_id == "k1"
    assert keyring.open(sealed) == plaintext


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET)
    assert SECRET.encode() not in sealed.ciphertext
    assert SECRET.encode() not in sealed.nonce
    assert SECRET not in repr(sealed.to_wire())
    assert SECRET.encode() not in repr(sealed.to_document()).encode()


def test_two_seals_of_the_same_secret_differ() -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    first, second = keyring.seal(SECRET), keyring.seal(SECRET)
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert keyring.open(first) == keyring.open(second) == SECRET


def test_new_first_key_still_opens_old_secrets() -> None:
    old, new = new_key_entry("old"), new_key_entry("new")
    sealed_before = Keyring.parse(old).seal(SECRET)
    rotated = Keyring.parse(f"{new},{old}")
    assert rotated.current_key_id == "new"
    assert rotated.open(sealed_before) == SECRET
    sealed_after = rotated.seal(SECRET)
    assert sealed_after.key_id == "new"
    assert rotated.open(sealed_after) == SECRET
    with pytest.raises(KeyringError):
        Keyring.parse(old).open(sealed_after)


def test_unknown_key_id_raises_keyring_error() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET)
    other = Keyring.parse(new_key_entry("k2"))
    with pytest.raises(KeyringError, match="k1"):
        other.open(sealed)


def _flip_last(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


@pytest.mark.parametrize("tamper", [
    pytest.param(lambda s: dataclasses.replace(s, ciphertext=_flip_last(s.ciphertext)),
                 id="ciphertext-last-byte"),
    pytest.param(lambda s: dataclasses.replace(
        s, ciphertext=bytes([s.ciphertext[0] ^ 0x80]) + s.ciphertext[1:]),
                 id="ciphertext-first-byte"),
    pytest.param(lambda s: dataclasses.replace(s, nonce=_flip_last(s.nonce)), id="nonce"),
    pytest.param(lambda s: dataclasses.replace(s, ciphertext=s.ciphertext[:-1]), id="truncated"),
])
def test_tampered_secret_fails_to_open(tamper: Callable[[SealedSecret], SealedSecret]) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(SECRET)
    tampered = tamper(sealed)
    assert tampered != sealed
    with pytest.raises(InvalidTag):
        keyring.open(tampered)


def test_same_key_id_with_other_key_fails_to_open() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET)
    with pytest.raises(InvalidTag):
        Keyring.parse(new_key_entry("k1")).open(sealed)


@pytest.mark.parametrize("to_and_from", ["wire", "document"])
def test_sealed_secret_serialisation_round_trip(to_and_from: str) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(SECRET)
    if to_and_from == "wire":
        again = SealedSecret.from_wire(sealed.to_wire())
    else:
        again = SealedSecret.from_document(sealed.to_document())
    assert again == sealed
    assert keyring.open(again) == SECRET


def test_parse_ignores_blank_entries_and_keeps_the_first_key_current() -> None:
    a, b = new_key_entry("a"), new_key_entry("b")
    keyring = Keyring.parse(f" , {a} ,, {b} , ")
    assert keyring.current_key_id == "a"
    sealed = keyring.seal(SECRET)
    assert sealed.key_id == "a"
    assert Keyring.parse(a).open(sealed) == SECRET
    assert keyring.open(Keyring.parse(b).seal(SECRET)) == SECRET


KEY_32 = _b64(os.urandom(32))
KEY_16 = _b64(os.urandom(16))
KEY_BAD_B64 = _b64(os.urandom(32)) + "xy"  # 45 characters: no base64 has that length
OTHER_32 = _b64(os.urandom(32))


@pytest.mark.parametrize(("text", "materials"), [
    pytest.param("", [], id="empty"),
    pytest.param("  ", [], id="blank"),
    pytest.param(" , ,", [], id="only-commas"),
    pytest.param(KEY_32, [KEY_32], id="missing-colon"),
    pytest.param(f"k1:{KEY_32},{OTHER_32}", [KEY_32, OTHER_32], id="second-missing-colon"),
    pytest.param(f":{KEY_32}", [KEY_32], id="missing-id"),
    pytest.param("k1:", [], id="missing-key"),
    pytest.param(f"k1:{KEY_BAD_B64}", [KEY_BAD_B64], id="bad-base64"),
    pytest.param(f"k1:{KEY_16}", [KEY_16], id="16-bytes"),
    pytest.param(f"k1:{KEY_32}{KEY_16}", [KEY_32, KEY_16], id="too-long"),
    pytest.param(f"k1:{KEY_32},k1:{OTHER_32}", [KEY_32, OTHER_32], id="duplicate-id"),
])
def test_parse_errors_never_show_key_material(text: str, materials: list[str]) -> None:
    with pytest.raises(KeyringError) as info:
        Keyring.parse(text)
    message = str(info.value)
    assert message
    for material in materials:
        assert material not in message
        assert material[:16] not in message


def test_bad_base64_is_named_as_such() -> None:
    with pytest.raises(KeyringError, match="base64"):
        Keyring.parse(f"k1:{KEY_BAD_B64}")


def test_duplicate_id_is_named() -> None:
    with pytest.raises(KeyringError, match="k1"):
        Keyring.parse(f"k1:{KEY_32},k1:{OTHER_32}")


def test_new_key_entry_parses() -> None:
    entry = new_key_entry("k9")
    assert entry.startswith("k9:")
    assert len(base64.urlsafe_b64decode(_material(entry) + "=")) == 32
    assert new_key_entry("k9") != entry


def test_generate_secret() -> None:
    values = {generate_secret() for _ in range(20)}
    assert len(values) == 20
    for value in values:
        assert len(value) >= 43
        assert re.fullmatch(r"[A-Za-z0-9_-]+", value)
