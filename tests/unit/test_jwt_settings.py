"""The identity provider's settings: key files, the shared secret, issuer and audience."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api.auth.jwt_tokens import read_hs256_secret, read_public_key, verifier_from_settings
from common.settings import Settings, SettingsError, load_settings
from tests.identity_provider import AUDIENCE, HS256_SECRET, ISSUER, SigningKey


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.rs256()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_public_key_file_must_hold_an_rsa_or_p256_public_key(tmp_path: Path,
                                                             rsa_key: SigningKey) -> None:
    assert isinstance(read_public_key(write(tmp_path / "ok.pem", rsa_key.public_pem())),
                      rsa.RSAPublicKey)
    private_pem = rsa_key.private.private_bytes(serialization.Encoding.PEM,
                                                serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption())
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    for name, data in [
        ("private.pem", private_pem), ("garbage.pem", b"not a key"),
        ("small.pem", small.public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)),
        ("p384.pem", p384.public_bytes(serialization.Encoding.PEM,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)),
    ]:
        with pytest.raises(SettingsError, match="CLIENTKEYS_JWT_PUBLIC_KEY_FILE") as info:
            read_public_key(write(tmp_path / name, data))
        assert "\n" not in str(info.value) and "PRIVATE" not in str(info.value)
    with pytest.raises(SettingsError, match="CLIENTKEYS_JWT_PUBLIC_KEY_FILE: cannot read"):
        read_public_key(tmp_path / "missing.pem")


def test_hs256_secret_file_refuses_short_secrets_without_showing_them(
        tmp_path: Path, rsa_key: SigningKey) -> None:
    assert read_hs256_secret(write(tmp_path / "ok", HS256_SECRET + b"\n")) == HS256_SECRET
    short = b"short-but-secret-31-bytes-long!"
    with pytest.raises(SettingsError, match="CLIENTKEYS_JWT_HS256_SECRET_FILE") as info:
        read_hs256_secret(write(tmp_path / "short", short))
    assert short.decode() not in str(info.value) and "32 bytes" in str(info.value)
    with pytest.raises(SettingsError, match="holds a public key"):
        read_hs256_secret(write(tmp_path / "pem", rsa_key.public_pem()))


def test_verifier_from_settings(tmp_path: Path, rsa_key: SigningKey) -> None:
    assert verifier_from_settings(Settings()) is None
    pem = write(tmp_path / "idp.pem", rsa_key.public_pem())
    secret = write(tmp_path / "hs256", HS256_SECRET)
    verifier = verifier_from_settings(Settings(jwt_public_key_file=pem,
                                               jwt_hs256_secret_file=secret,
                                               jwt_issuer=ISSUER, jwt_audience=AUDIENCE))
    assert verifier is not None and verifier.algorithms == {"RS256", "HS256"}
    jwks = verifier_from_settings(Settings(jwt_jwks_url="https://idp.example.test/jwks",
                                           jwt_audience=AUDIENCE, jwt_issuer=ISSUER))
    assert jwks is not None and jwks.algorithms == {"RS256", "ES256"}


@pytest.mark.parametrize("source", [
    {"jwt_jwks_url": "https://idp.example.test/jwks"},
    {"jwt_public_key_file": "idp.pem"},
    {"jwt_hs256_secret_file": "hs256"},
])
@pytest.mark.parametrize(("given", "named"), [
    ({}, "CLIENTKEYS_JWT_ISSUER and CLIENTKEYS_JWT_AUDIENCE must be set"),
    ({"jwt_issuer": ISSUER}, "CLIENTKEYS_JWT_AUDIENCE must be set"),
    ({"jwt_audience": AUDIENCE}, "CLIENTKEYS_JWT_ISSUER must be set"),
])
def test_every_jwt_source_requires_an_issuer_and_an_audience(
        tmp_path: Path, rsa_key: SigningKey, source: dict[str, str], given: dict[str, str],
        named: str) -> None:
    write(tmp_path / "idp.pem", rsa_key.public_pem())
    write(tmp_path / "hs256", HS256_SECRET)
    files = {name: (value if name == "jwt_jwks_url" else tmp_path / value)
             for name, value in source.items()}
    with pytest.raises(SettingsError, match=named) as info:
        verifier_from_settings(Settings().with_overrides(**files, **given))
    assert "\n" not in str(info.value)


def test_jwt_settings_are_read_from_the_environment() -> None:
    settings = load_settings({
        "CLIENTKEYS_JWT_JWKS_URL": "https://idp.example.test/jwks",
        "CLIENTKEYS_JWT_PUBLIC_KEY_FILE": "/etc/ck/idp.pem",
        "CLIENTKEYS_JWT_HS256_SECRET_FILE": "/etc/ck/hs256",
        "CLIENTKEYS_JWT_ISSUER": ISSUER,
        "CLIENTKEYS_JWT_AUDIENCE": AUDIENCE,
        "CLIENTKEYS_JWT_PERMISSIONS_CLAIM": "scope",
        "CLIENTKEYS_JWT_SUBJECT_CLAIM": "client_id",
        "CLIENTKEYS_JWT_LEEWAY_S": "5",
        "CLIENTKEYS_JWT_MAX_LIFETIME_S": "3600",
    })
    assert settings.jwt_max_lifetime_s == 3600
    assert (settings.jwt_jwks_url, settings.jwt_issuer, settings.jwt_audience) == (
        "https://idp.example.test/jwks", ISSUER, AUDIENCE)
    assert settings.jwt_public_key_file == Path("/etc/ck/idp.pem")
    assert settings.jwt_hs256_secret_file == Path("/etc/ck/hs256")
    assert (settings.jwt_permissions_claim, settings.jwt_subject_claim) == ("scope", "client_id")
    assert settings.jwt_leeway_s == 5
    defaults = load_settings({})
    assert not defaults.jwt_configured
    assert (defaults.jwt_permissions_claim, defaults.jwt_subject_claim,
            defaults.jwt_leeway_s, defaults.jwt_max_lifetime_s) == ("permissions", "sub", 30,
                                                                     86400)
    assert load_settings({"CLIENTKEYS_JWT_JWKS_URL": "http://localhost:8081/jwks"}
                         ).jwt_configured


@pytest.mark.parametrize(("name", "value"), [
    ("JWT_JWKS_URL", "http://idp.example.test/jwks"),
    ("JWT_JWKS_URL", "ftp://idp.example.test/jwks"),
    ("JWT_JWKS_URL", "https://"),
    ("JWT_JWKS_URL", "https://[::1/jwks"),
    ("JWT_LEEWAY_S", "-1"),
    ("JWT_LEEWAY_S", "301"),
    ("JWT_LEEWAY_S", "soon"),
    ("JWT_MAX_LIFETIME_S", "59"),
    ("JWT_MAX_LIFETIME_S", "a day"),
])
def test_bad_jwt_settings_name_the_variable(name: str, value: str) -> None:
    variable = f"CLIENTKEYS_{name}"
    with pytest.raises(SettingsError, match=re.escape(variable)) as info:
        load_settings({variable: value})
    assert "\n" not in str(info.value)
