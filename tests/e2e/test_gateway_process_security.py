"""The gateway process as an operator starts it: what it refuses to start with, and
what of a caller's `Authorization` header it never repeats (answers and log lines)."""

from __future__ import annotations

import re
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.auth.principals import CONFIGURE_SERVER
from api.auth.tokens import token_digest
from clientkeys.devdb import free_port
from common.keyring import new_key_entry
from tests.identity_provider import SigningKey
from tests.processes import CLI, REPO, clean_env, json_lines, stop

PIECE = 8  # no piece of a token this long may appear anywhere


@pytest.fixture
def gateway_env(tmp_path: Path, mongodb_uri: str, amqp_url: str, namespace: str,
                topology_cleanup: None) -> dict[str, str]:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(f'[{{"subject": "ops", "sha256": "{token_digest("t" * 32)}", '
                      f'"permissions": ["{CONFIGURE_SERVER}"]}}]')
    return clean_env(CLIENTKEYS_MONGODB_URI=mongodb_uri, CLIENTKEYS_AMQP_URL=amqp_url,
                     CLIENTKEYS_NAMESPACE=namespace, CLIENTKEYS_TOKENS_FILE=str(tokens),
                     CLIENTKEYS_ENCRYPTION_KEYS=new_key_entry("k1"),
                     CLIENTKEYS_HTTP_PORT=str(free_port()), CLIENTKEYS_LOG_LEVEL="DEBUG",
                     PYTHONPATH=str(REPO))


def jwt_sources(folder: Path) -> dict[str, dict[str, str]]:
    pem = folder / "idp.pem"
    pem.write_bytes(SigningKey.rs256().public_pem())
    secret = folder / "hs256"
    secret.write_text(secrets.token_urlsafe(48))
    return {"public key file": {"CLIENTKEYS_JWT_PUBLIC_KEY_FILE": str(pem)},
            "HS256 secret": {"CLIENTKEYS_JWT_HS256_SECRET_FILE": str(secret)},
            "JWKS URL": {"CLIENTKEYS_JWT_JWKS_URL": "https://idp.example.test/jwks"}}


@pytest.mark.parametrize("source", ["public key file", "HS256 secret", "JWKS URL"])
@pytest.mark.parametrize(("given", "named"), [
    ({}, ("CLIENTKEYS_JWT_ISSUER", "CLIENTKEYS_JWT_AUDIENCE")),
    ({"CLIENTKEYS_JWT_ISSUER": "https://idp.example.test"}, ("CLIENTKEYS_JWT_AUDIENCE",)),
    ({"CLIENTKEYS_JWT_AUDIENCE": "clientkeys"}, ("CLIENTKEYS_JWT_ISSUER",)),
])
def test_a_jwt_source_without_issuer_and_audience_does_not_start(
        tmp_path: Path, gateway_env: dict[str, str], source: str, given: dict[str, str],
        named: tuple[str, ...]) -> None:
    env = {**gateway_env, **jwt_sources(tmp_path)[source], **given}
    result = subprocess.run([*CLI, "gateway"], env=env, text=True, capture_output=True,
                            timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(name in lines[0] for name in named)
    assert "Traceback" not in result.stderr


@pytest.fixture
def gateway(gateway_env: dict[str, str], tmp_path: Path
            ) -> Iterator[tuple[int, Path, subprocess.Popen[str]]]:
    log_file = tmp_path / "gateway.log"
    with log_file.open("w") as log:
        process = subprocess.Popen([*CLI, "gateway"], env=gateway_env, text=True,
                                   stdout=subprocess.DEVNULL, stderr=log)
    port = int(gateway_env["CLIENTKEYS_HTTP_PORT"])
    try:
        deadline = time.monotonic() + 60
        while not any(line.get("event", "").startswith("gateway listening")
                      for line in json_lines(log_file)):
            assert process.poll() is None and time.monotonic() < deadline, \
                log_file.read_text()[-2000:]
            time.sleep(0.1)
        yield port, log_file, process
    finally:
        if process.poll() is None:
            stop(process)


def exchange(port: int, request: bytes) -> bytes:
    """One raw HTTP/1.1 exchange: what the gateway sent back, until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)  # no half-close: aiohttp does not answer one
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def get_with(authorization: bytes) -> bytes:
    return (b"GET /v1/clients HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
            b"Authorization: " + authorization + b"\r\n\r\n")


def pieces(token: str) -> set[str]:
    return {token[i:i + PIECE] for i in range(len(token) - PIECE + 1)}


def test_nothing_of_an_authorization_header_reaches_an_answer_or_a_log_line(
        gateway: tuple[int, Path, subprocess.Popen[str]]) -> None:
    port, log_file, process = gateway
    too_long = secrets.token_urlsafe(9000)
    bad_char = secrets.token_urlsafe(40)
    plain = secrets.token_urlsafe(40)
    answers = {
        "too long": exchange(port, get_with(b"Bearer " + too_long.encode())),
        "bad character": exchange(port, get_with(
            b"Bearer " + bad_char[:20].encode() + b"\x01" + bad_char[20:].encode())),
        "wrong token": exchange(port, get_with(b"Bearer " + plain.encode())),
        "other scheme": exchange(port, get_with(b"Basic " + plain.encode())),
    }
    head, _, body = answers["too long"].partition(b"\r\n\r\n")
    assert re.match(rb"HTTP/1\.[01] 431 ", head), head[:100]
    assert b"Content-Type: application/problem+json" in head
    assert b"Cache-Control: no-store" in head
    assert b'"detail":"The request line or a header of the request is too large."' in body
    assert re.match(rb"HTTP/1\.[01] 400 ", answers["bad character"])
    assert b'"detail":"The request is not valid HTTP."' in answers["bad character"]
    assert answers["wrong token"].startswith(b"HTTP/1.1 401 ")
    assert answers["other scheme"].startswith(b"HTTP/1.1 401 ")
    assert stop(process) == 0
    logged = log_file.read_text()
    assert "unreadable request" in logged  # the parse failures were logged, as one line each
    lines = json_lines(log_file)
    assert any(line.get("status") == 401 for line in lines)
    for token in (too_long, bad_char, plain):
        for piece in pieces(token):
            assert piece not in logged, f"{piece!r} of a token is in the log"
            for answer in answers.values():
                assert piece.encode() not in answer, f"{piece!r} of a token is in an answer"
