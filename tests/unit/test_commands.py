"""Commands on the broker (common.commands): encoding, decoding and what is refused."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from common.clients import ClientType
from common.command_base import Answer
from common.commands import (
    COMMAND_TYPES,
    ApproveClient,
    Command,
    CreateClient,
    DisapproveClient,
    EndSecretGrace,
    RemoveClient,
    RotateSecret,
    UndecodableCommand,
    UpdateClient,
    decode_command,
    encode_command,
)
from common.keyring import Keyring, command_secret_aad, new_key_entry
from common.token_commands import CreateRegistrationToken, RevokeRegistrationToken

SECRET = "a-very-long-secret"
KEYRING = Keyring.parse(new_key_entry("k1"))
# One sealed value for every example: the wire form is tested here, not the binding.
AAD = command_secret_aad("op-1", CreateClient.kind)
SEALED = KEYRING.seal(SECRET, AAD)
# An initial access token travels as its SHA-256 digest only.
TOKEN = "cki_an-initial-access-token"
TOKEN_DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()

EXAMPLES: dict[str, list[Command]] = {
    "create_client": [
        CreateClient(id="op-1", actor="alice", request_id="req-1", type=ClientType.OIDC,
                     name="My app", secret=SEALED, redirect_uris=["https://app.example.com/cb"],
                     grant_types=["authorization_code", "refresh_token"],
                     response_types=["code id_token"]),
        CreateClient(id="op-2", actor="alice", request_id="req-1", type=ClientType.OAUTH1,
                     name="Legacy", secret=SEALED),
    ],
    "update_client": [
        UpdateClient(id="op-3", actor="alice", request_id="req-1", client_key="ck-1",
                     name="New name", secret=SEALED, redirect_uris=["https://b.example/cb"],
                     grant_types=["password"], response_types=["code"]),
        UpdateClient(id="op-4", actor="alice", request_id="req-1", client_key="ck-1",
                     name="Only the name"),
        UpdateClient(id="op-5", actor="alice", request_id="req-1", client_key="ck-1",
                     redirect_uris=[], response_types=[]),
        UpdateClient(id="op-6", actor="alice", request_id="req-1", client_key="ck-1",
                     secret=SEALED),
    ],
    "approve_client": [
        ApproveClient(id="op-7", actor="alice", request_id="req-1", client_key="ck-1")],
    "disapprove_client": [
        DisapproveClient(id="op-8", actor="alice", request_id="req-1", client_key="ck-1")],
    "remove_client": [
        RemoveClient(id="op-9", actor="alice", request_id="req-1", client_key="ck-1")],
    "rotate_secret": [
        RotateSecret(id="op-10", actor="alice", request_id="req-1", client_key="ck-1",
                     expected_version=3, secret=SEALED, grace_seconds=86400),
        RotateSecret(id="op-11", actor="alice", request_id="req-1", client_key="ck-1",
                     secret=SEALED, grace_seconds=0),
    ],
    "end_secret_grace": [
        EndSecretGrace(id="op-12", actor="alice", request_id="req-1", client_key="ck-1")],
    "create_registration_token": [
        CreateRegistrationToken(
            id="op-13", actor="alice", request_id="req-1", token_sha256=TOKEN_DIGEST,
            label="partner onboarding", expires_at=datetime(2031, 1, 31, tzinfo=UTC),
            max_uses=3, policy={"client_types": ["oidc"], "grant_types": [],
                                "redirect_uri_hosts": ["*.partner.example"],
                                "auto_approve": False})],
    "revoke_registration_token": [
        RevokeRegistrationToken(id="op-14", actor="alice", request_id="req-1",
                                token_id=TOKEN_DIGEST[:12])],
}


def test_examples_cover_every_command_type() -> None:
    assert set(EXAMPLES) == set(COMMAND_TYPES)
    for kind, commands in EXAMPLES.items():
        assert all(type(command) is COMMAND_TYPES[kind] for command in commands)


@pytest.mark.parametrize("kind", sorted(COMMAND_TYPES))
def test_round_trip(kind: str) -> None:
    for command in EXAMPLES[kind]:
        body = encode_command(command)
        assert isinstance(body, bytes)
        assert json.loads(body)["kind"] == kind
        decoded = decode_command(body)
        assert type(decoded) is type(command)
        assert decoded == command


@pytest.mark.parametrize("kind", sorted(COMMAND_TYPES))
def test_encoded_command_never_holds_the_plaintext_secret(kind: str) -> None:
    for command in EXAMPLES[kind]:
        body = encode_command(command)
        assert SECRET.encode() not in body and TOKEN.encode() not in body
        decoded = decode_command(body)
        secret = getattr(decoded, "secret", None)
        if secret is not None:
            assert KEYRING.open(secret, AAD) == SECRET


def test_update_keeps_none_and_empty_list_apart() -> None:
    decoded = decode_command(encode_command(EXAMPLES["update_client"][2]))
    assert isinstance(decoded, UpdateClient)
    assert decoded.redirect_uris == []
    assert decoded.response_types == []
    assert decoded.grant_types is None
    assert decoded.name is None
    assert decoded.secret is None


def _body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


VALID_APPROVE = {"kind": "approve_client", "id": "op-1", "actor": "a", "request_id": "r",
                 "client_key": "ck-1"}


@pytest.mark.parametrize(("body", "command_id"), [
    pytest.param(b"", None, id="empty"),
    pytest.param(b"not json", None, id="text"),
    pytest.param(b"{\"id\": \"op-1\"", None, id="truncated"),
    pytest.param(b"\xff\xfe\x00", None, id="not-utf8"),
    pytest.param(b"[" * 100_000, None, id="deeply-nested"),
    pytest.param(b"null", None, id="null"),
    pytest.param(b"42", None, id="number"),
    pytest.param(b"\"op-1\"", None, id="string"),
    pytest.param(b"[{\"id\": \"op-1\"}]", None, id="list"),
    pytest.param(_body(id="op-1"), "op-1", id="only-id"),
    pytest.param(_body(**{**VALID_APPROVE, "kind": "delete_everything"}), "op-1",
                 id="unknown-kind"),
    pytest.param(_body(**{k: v for k, v in VALID_APPROVE.items() if k != "kind"}), "op-1",
                 id="missing-kind"),
    pytest.param(_body(**{k: v for k, v in VALID_APPROVE.items() if k != "actor"}), "op-1",
                 id="missing-actor"),
    pytest.param(_body(**{k: v for k, v in VALID_APPROVE.items() if k != "client_key"}), "op-1",
                 id="approve-without-client-key"),
    pytest.param(_body(kind="create_client", id="op-2", actor="a", request_id="r"), "op-2",
                 id="create-without-type-name-secret"),
    pytest.param(_body(kind="create_client", id="op-3", actor="a", request_id="r", type="oidc",
                       name="App", secret="plain-text-secret"), "op-3", id="secret-not-sealed"),
    pytest.param(_body(kind="rotate_secret", id="op-4", actor="a", request_id="r",
                       client_key="ck-1", grace_seconds=60), "op-4",
                 id="rotate-without-secret"),
    pytest.param(_body(kind="rotate_secret", id="op-5", actor="a", request_id="r",
                       client_key="ck-1", secret=SEALED.to_wire(), grace_seconds=-1), "op-5",
                 id="rotate-with-negative-grace"),
    pytest.param(_body(**{**VALID_APPROVE, "id": 7}), None, id="id-not-a-string"),
    pytest.param(_body(**{k: v for k, v in VALID_APPROVE.items() if k != "id"}), None,
                 id="missing-id"),
])
def test_undecodable(body: bytes, command_id: str | None) -> None:
    with pytest.raises(UndecodableCommand) as info:
        decode_command(body)
    assert info.value.command_id == command_id
    assert str(info.value)


def test_valid_approve_body_decodes() -> None:
    assert decode_command(_body(**VALID_APPROVE)) == ApproveClient(
        id="op-1", actor="a", request_id="r", client_key="ck-1")


def _wire(**fields: object) -> bytes:
    """A body as the gateways before per-type schemas wrote it: fields spelled by hand."""
    return json.dumps(fields, separators=(",", ":")).encode()


@pytest.mark.parametrize(("body", "expected"), [
    pytest.param(_wire(kind="create_client", id="op-1", actor="alice", request_id="req-1",
                       type="oidc", name="My app", secret=SEALED.to_wire(),
                       redirect_uris=["https://app.example.com/cb"],
                       grant_types=["authorization_code"], response_types=["code"],
                       remote_addr="10.0.0.7", issued_at="2026-01-02T03:04:05.000006+00:00"),
                 CreateClient(id="op-1", actor="alice", request_id="req-1", type=ClientType.OIDC,
                              name="My app", secret=SEALED,
                              redirect_uris=["https://app.example.com/cb"],
                              grant_types=["authorization_code"], response_types=["code"],
                              remote_addr="10.0.0.7",
                              issued_at=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
                 id="create"),
    pytest.param(_wire(kind="create_client", id="op-2", actor="alice", request_id="req-1",
                       type="oauth1", name="Legacy", secret=SEALED.to_wire(),
                       redirect_uris=[], grant_types=[], response_types=[]),
                 CreateClient(id="op-2", actor="alice", request_id="req-1",
                              type=ClientType.OAUTH1, name="Legacy", secret=SEALED),
                 id="create-with-empty-lists"),
    pytest.param(_wire(kind="update_client", id="op-3", actor="a", request_id="r",
                       client_key="ck-1", expected_version=2, redirect_uris=[]),
                 UpdateClient(id="op-3", actor="a", request_id="r", client_key="ck-1",
                              expected_version=2, redirect_uris=[]),
                 id="update-clearing-a-list"),
    pytest.param(_wire(kind="rotate_secret", id="op-4", actor="a", request_id="r",
                       client_key="ck-1", secret=SEALED.to_wire(), grace_seconds=0),
                 RotateSecret(id="op-4", actor="a", request_id="r", client_key="ck-1",
                              secret=SEALED, grace_seconds=0),
                 id="rotate"),
    pytest.param(_wire(kind="end_secret_grace", id="op-5", actor="a", request_id="r",
                       client_key="ck-1", expected_version=7),
                 EndSecretGrace(id="op-5", actor="a", request_id="r", client_key="ck-1",
                                expected_version=7),
                 id="end-grace"),
    pytest.param(_wire(kind="remove_client", id="op-6", actor="a", request_id="r",
                       client_key="ck-1"),
                 RemoveClient(id="op-6", actor="a", request_id="r", client_key="ck-1"),
                 id="remove"),
])
def test_old_wire_bodies_still_decode_and_encode_the_same(body: bytes, expected: Command
                                                          ) -> None:
    assert decode_command(body) == expected
    assert json.loads(encode_command(expected)) == json.loads(body)


@pytest.mark.parametrize("body", [
    pytest.param(_wire(**VALID_APPROVE, grace_seconds=60), id="approve-with-grace"),
    pytest.param(_wire(**VALID_APPROVE, name="Renamed"), id="approve-with-name"),
    pytest.param(_wire(kind="create_client", id="op-1", actor="a", request_id="r",
                       type="oidc", name="App", secret=SEALED.to_wire(), expected_version=1),
                 id="create-with-expected-version"),
    pytest.param(_wire(kind="remove_client", id="op-1", actor="a", request_id="r",
                       client_key="ck-1", secret=SEALED.to_wire()), id="remove-with-secret"),
])
def test_a_field_of_another_command_type_is_refused(body: bytes) -> None:
    with pytest.raises(UndecodableCommand) as info:
        decode_command(body)
    assert info.value.command_id == "op-1"
    assert "Unknown field" in str(info.value)


@pytest.mark.parametrize(("command_type", "answer"), [
    (CreateClient, Answer(201, warnings=True)),
    (UpdateClient, Answer(200, warnings=True)),
    (ApproveClient, Answer(200)),
    (DisapproveClient, Answer(200)),
    (RemoveClient, Answer(204)),
    (RotateSecret, Answer(200)),
    (EndSecretGrace, Answer(200)),
])
def test_each_command_type_says_what_the_gateway_answers(
        command_type: type[Command], answer: Answer) -> None:
    assert command_type.answer == answer
    assert command_type.makes_client is (command_type is CreateClient)


@pytest.mark.parametrize(("command", "fields"), [
    pytest.param(EXAMPLES["create_client"][0], ["type", "name", "secret", "redirect_uris",
                                                "grant_types", "response_types"],
                 id="create-with-everything"),
    pytest.param(EXAMPLES["create_client"][1], ["type", "name", "secret"],
                 id="create-without-lists"),
    pytest.param(EXAMPLES["update_client"][1], ["name"], id="update-name"),
    pytest.param(EXAMPLES["update_client"][2], ["redirect_uris", "response_types"],
                 id="update-clearing-lists"),
    pytest.param(EXAMPLES["update_client"][3], ["secret"], id="update-secret"),
    pytest.param(EXAMPLES["approve_client"][0], [], id="approve"),
    pytest.param(EXAMPLES["remove_client"][0], [], id="remove"),
    pytest.param(EXAMPLES["rotate_secret"][0], ["secret"], id="rotate"),
    pytest.param(EXAMPLES["end_secret_grace"][0], ["previous_secrets"], id="end-grace"),
])
def test_each_command_type_says_what_the_audit_trail_records(
        command: Command, fields: list[str]) -> None:
    assert command.audited_fields() == fields


def test_a_token_create_takes_a_digest_and_nothing_else() -> None:
    body = json.loads(encode_command(EXAMPLES["create_registration_token"][0]))
    for tampered in ({**body, "token_sha256": TOKEN}, {**body, "token": TOKEN},
                     {**body, "max_uses": 0}, {**body, "policy": {"client_types": ["saml"]}}):
        with pytest.raises(UndecodableCommand):
            decode_command(json.dumps(tampered).encode())
