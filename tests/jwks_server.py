"""A client's jwks_uri served over https on 127.0.0.1 by the test itself, with a
certificate made here (cryptography) for 127.0.0.1 and localhost, which the gateway is
told to trust through OUTBOUND_CA_FILE."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) files of a certificate for 127.0.0.1 and localhost."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwks test server")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "jwks-cert.pem", directory / "jwks-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


@dataclass
class JwksServer:
    """What the server answers at /jwks (change `jwks` to rotate), and how often it was asked."""

    port: int
    jwks: dict[str, Any]
    cache_control: str = "max-age=3600"
    fetches: list[str] = field(default_factory=list)
    status: int = 200
    body: bytes | None = None  # answered instead of `jwks` when set

    def uri(self, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.port}/jwks"


@asynccontextmanager
async def serving_jwks(cert_file: Path, key_file: Path, jwks: dict[str, Any]
                       ) -> AsyncIterator[JwksServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    served = JwksServer(0, jwks)

    async def answer(request: web.Request) -> web.Response:
        served.fetches.append(request.path)
        headers = {"Cache-Control": served.cache_control}
        if served.body is not None or served.status != 200:
            return web.Response(body=served.body or b"{}", status=served.status,
                                headers=headers, content_type="application/json")
        return web.json_response(served.jwks, headers=headers)

    app = web.Application()
    app.router.add_get("/jwks", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    served.port = runner.addresses[0][1]
    try:
        yield served
    finally:
        await runner.cleanup()
