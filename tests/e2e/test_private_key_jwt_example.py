"""examples/private_key_jwt_client.py, run as its own process: the key pair it makes
registers a client, and each assertion it signs authenticates that client once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from api.auth.principals import CLIENTS_VERIFY
from tests.e2e.conftest import Service
from tests.harness import add_token, bearer
from tests.processes import REPO, clean_env

EXAMPLE = REPO / "examples" / "private_key_jwt_client.py"
TOKEN_URL = "https://as.example.com/oauth2/token"


def run(*args: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLE), *args], capture_output=True,
                          text=True, env=clean_env(), timeout=60, check=True)
    return done.stdout


async def test_the_example_client_signs_assertions_that_authenticate_once(
        service: Service, tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    public = json.loads(run("keygen", str(key_file), "example-kid"))
    assert "d" not in public["keys"][0] and public["keys"][0]["kid"] == "example-kid"
    created = await service.create({
        "type": "oidc", "name": "Signed client", "redirect_uris": ["https://a.example/cb"],
        "grant_types": ["authorization_code"], "response_types": ["code"],
        "token_endpoint_auth_method": "private_key_jwt", "jwks": public})
    key = created["key"]
    assert (await service.request("POST", f"/v1/clients/{key}/approve")).status == 200
    verifier = bearer(add_token(service.settings, "authz", CLIENTS_VERIFY))
    form = json.loads(run("sign", str(key_file), "example-kid", key, TOKEN_URL))
    reasons = []
    for _ in range(2):
        response = await service.request("POST", "/v1/client-authentication",
                                         headers=verifier,
                                         json={"form": form, "audiences": [TOKEN_URL]})
        reasons.append((await response.json())["reason"])
    assert reasons == ["ok", "replayed_jti"]
    fresh = json.loads(run("sign", str(key_file), "example-kid", key, TOKEN_URL))
    response = await service.request("POST", "/v1/client-authentication", headers=verifier,
                                     json={"form": fresh, "audiences": [TOKEN_URL]})
    answer = await response.json()
    assert (answer["valid"], answer["method"], answer["client"]["client_id"]) == (
        True, "private_key_jwt", key)
