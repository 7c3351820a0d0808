"""A private_key_jwt client (RFC 7523): it signs a client assertion with its private key,
which never leaves it, and sends the assertion in its token request's form.

    python examples/private_key_jwt_client.py keygen key.pem kid-2026-12 > jwks.json
    python examples/private_key_jwt_client.py sign key.pem kid-2026-12 CLIENT_ID TOKEN_URL

`keygen` makes an EC P-256 key pair: the private key in key.pem, the public JWK Set on
standard output, to register as the client's `jwks` (or to publish at its `jwks_uri`).
`sign` prints the two form fields of a token request, as JSON; each run signs a new
assertion (a new `jti`, valid for 60 seconds): an assertion is accepted once.
"""

import json
import sys
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def keygen(key_file: Path, kid: str) -> dict[str, object]:
    private = ec.generate_private_key(ec.SECP256R1())
    key_file.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    key_file.chmod(0o600)
    public = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    public.pop("key_ops", None)
    return {"keys": [{**public, "kid": kid, "alg": "ES256", "use": "sig"}]}


def client_assertion(key_file: Path, kid: str, client_id: str, token_url: str) -> str:
    """RFC 7523 section 3: iss and sub the client, aud the token endpoint, a short exp,
    a unique jti; signed with ES256 and the kid that names the key."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": now,
              "exp": now + 60, "jti": uuid.uuid4().hex}
    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    return jwt.encode(claims, private, algorithm="ES256",  # type: ignore[arg-type]
                      headers={"kid": kid})


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[1] == "keygen":
        print(json.dumps(keygen(Path(argv[2]), argv[3])))
        return 0
    if len(argv) == 6 and argv[1] == "sign":
        assertion = client_assertion(Path(argv[2]), argv[3], argv[4], argv[5])
        print(json.dumps({"client_assertion_type": JWT_BEARER, "client_assertion": assertion}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
