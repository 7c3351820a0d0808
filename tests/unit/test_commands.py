"""Commands on the broker (common.commands): encoding, decoding and what is refused."""

from __future__ import annotations

import json

import pytest

from common.clients import ClientType
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

SECRET = "a-very-long-secret"
KEYRING = Keyring.parse(new_key_entry("k1"))
# One sealed value for every example: the wire form is tested here, not the binding.
AAD = command_secret_aad("op-1", CreateClient.kind)
SEALED = KEYRING.seal(SECRET, AAD)

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
        assert SECRET.encode() not in body
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
