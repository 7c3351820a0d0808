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
    LEGACY_AAD,
    Keyring,
    KeyringError,
    SealedSecret,
    SecretSlot,
    client_secret_aad,
    command_secret_aad,
    generate_secret,
    idempotent_response_aad,
    new_key_entry,
)

SECRET = "a-very-long-client-secret"
AAD = client_secret_aad("client-a", SecretSlot.CURRENT)


def _material(entry: str) -> str:
    return entry.partition(":")[2]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize("plaintext", [SECRET, "x" * 512, "ünïcödé-sécret-✓", ""])
def test_seal_open_round_trip(plaintext: str) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(plaintext, AAD)
    assert sealed.key_id == "k1"
    assert keyring.open(sealed, AAD) == plaintext


def test_ciphertext_does_not_contain_the_plaintext() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET, AAD)
    assert SECRET.encode() not in sealed.ciphertext
    assert SECRET.encode() not in sealed.nonce
    assert SECRET not in repr(sealed.to_wire())
    assert SECRET.encode() not in repr(sealed.to_document()).encode()


def test_two_seals_of_the_same_secret_differ() -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    first, second = keyring.seal(SECRET, AAD), keyring.seal(SECRET, AAD)
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext
    assert keyring.open(first, AAD) == keyring.open(second, AAD) == SECRET


def test_new_first_key_still_opens_old_secrets() -> None:
    old, new = new_key_entry("old"), new_key_entry("new")
    sealed_before = Keyring.parse(old).seal(SECRET, AAD)
    rotated = Keyring.parse(f"{new},{old}")
    assert rotated.current_key_id == "new"
    assert rotated.open(sealed_before, AAD) == SECRET
    sealed_after = rotated.seal(SECRET, AAD)
    assert sealed_after.key_id == "new"
    assert rotated.open(sealed_after, AAD) == SECRET
    with pytest.raises(KeyringError):
        Keyring.parse(old).open(sealed_after, AAD)


def test_unknown_key_id_raises_keyring_error() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET, AAD)
    other = Keyring.parse(new_key_entry("k2"))
    with pytest.raises(KeyringError, match="k1"):
        other.open(sealed, AAD)


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
    sealed = keyring.seal(SECRET, AAD)
    tampered = tamper(sealed)
    assert tampered != sealed
    with pytest.raises(InvalidTag):
        keyring.open(tampered, AAD)


def test_same_key_id_with_other_key_fails_to_open() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET, AAD)
    with pytest.raises(InvalidTag):
        Keyring.parse(new_key_entry("k1")).open(sealed, AAD)


@pytest.mark.parametrize("to_and_from", ["wire", "document"])
def test_sealed_secret_serialisation_round_trip(to_and_from: str) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(SECRET, AAD)
    if to_and_from == "wire":
        again = SealedSecret.from_wire(sealed.to_wire())
    else:
        again = SealedSecret.from_document(sealed.to_document())
    assert again == sealed
    assert keyring.open(again, AAD) == SECRET


# Binding: a sealed value opens only for the associated data it was sealed with ------------

A_CURRENT = client_secret_aad("client-a", SecretSlot.CURRENT)
ELSEWHERE = {
    "another client, same slot": client_secret_aad("client-b", SecretSlot.CURRENT),
    "same client, previous slot": client_secret_aad("client-a", SecretSlot.PREVIOUS),
    "a key that only extends it": client_secret_aad("client-a2", SecretSlot.CURRENT),
    "the empty key": client_secret_aad("", SecretSlot.CURRENT),
    "a command with the same id": command_secret_aad("client-a", "create_client"),
    "an idempotency record with the same id": idempotent_response_aad("client-a"),
    "the legacy constant": LEGACY_AAD,
}


@pytest.mark.parametrize("elsewhere", list(ELSEWHERE.values()), ids=list(ELSEWHERE))
def test_a_secret_sealed_for_one_place_does_not_open_in_another(elsewhere: bytes) -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    sealed = keyring.seal(SECRET, A_CURRENT)
    assert keyring.open(sealed, A_CURRENT) == SECRET
    with pytest.raises(InvalidTag):
        keyring.open(sealed, elsewhere)


def test_the_builders_give_every_place_its_own_associated_data() -> None:
    places = [client_secret_aad(key, slot) for key in ("a", "b", "a\0current")
              for slot in SecretSlot]
    places += [command_secret_aad("c1", "create_client"), command_secret_aad("c1", "rotate_secret"),
               command_secret_aad("c2", "create_client"), idempotent_response_aad("c1"),
               LEGACY_AAD]
    assert len(set(places)) == len(places)


def test_a_bound_value_says_so_in_its_document_and_on_the_wire() -> None:
    sealed = Keyring.parse(new_key_entry("k1")).seal(SECRET, A_CURRENT)
    assert sealed.bound
    assert sealed.to_document()["v"] == sealed.to_wire()["v"] == 2
    assert SealedSecret.from_document(sealed.to_document()).bound
    assert SealedSecret.from_wire(sealed.to_wire()).bound


def legacy(keyring: Keyring, plaintext: str) -> SealedSecret:
    """A value as a keyring sealed it before values were bound: with the constant, no `v`."""
    return dataclasses.replace(keyring.seal(plaintext, LEGACY_AAD), bound=False)


def test_a_legacy_value_opens_with_the_legacy_constant_whatever_its_place() -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    document = legacy(keyring, SECRET).to_document()
    assert "v" not in document
    stored = SealedSecret.from_document(document)
    assert not stored.bound
    assert keyring.open(stored, A_CURRENT) == SECRET
    assert keyring.open(SealedSecret.from_wire(stored.to_wire()), A_CURRENT) == SECRET


def test_a_bound_value_marked_legacy_does_not_open() -> None:
    keyring = Keyring.parse(new_key_entry("k1"))
    document = keyring.seal(SECRET, A_CURRENT).to_document()
    del document["v"]
    with pytest.raises(InvalidTag):
        keyring.open(SealedSecret.from_document(document), A_CURRENT)


def test_parse_ignores_blank_entries_and_keeps_the_first_key_current() -> None:
    a, b = new_key_entry("a"), new_key_entry("b")
    keyring = Keyring.parse(f" , {a} ,, {b} , ")
    assert keyring.current_key_id == "a"
    sealed = keyring.seal(SECRET, AAD)
    assert sealed.key_id == "a"
    assert Keyring.parse(a).open(sealed, AAD) == SECRET
    assert keyring.open(Keyring.parse(b).seal(SECRET, AAD), AAD) == SECRET


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
