"""An authorization server's two calls, each beside a constant aiohttp handler.

`POST /v1/client-authentication` (client_secret_basic, the right secret) and
`GET /v1/clients/{key}/profile` are both answered from the gateway's memory, so the
constant handler, measured in the same run on the same machine, is their raw limit.
Each is also measured at half its peak, for the p99 a token endpoint would see.
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING
from urllib.parse import quote_plus

from bench.report import compared
from bench.stack import Process
from common.clients import Status

if TYPE_CHECKING:
    from bench.run import Bench

AT_LEAST = 0.4
P99_MS = 5


def _basic(key: str, secret: str) -> str:
    pair = f"{quote_plus(key)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def authorization_rows(bench: Bench, gateway: Process) -> None:
    constant = bench.stack.constant_server()
    try:
        posted = bench.load(constant, "constant-post", [("POST", "/", '{"x": 1}')], 200)
        got = bench.load(constant, "constant-get-profile", [("GET", "/", "")], 200)
    finally:
        bench.stack.stop(constant)
    authentications = [
        ("POST", "/v1/client-authentication",
         json.dumps({"authorization": _basic(key, secret), "remote_addr": "198.51.100.7"}))
        for key, secret in bench.seeded.secrets.items()]
    measured = bench.load(gateway, "client-authentication", authentications, 200)
    bench.rows.append(compared("client-authentication (basic)", measured, (200,),
                               "constant JSON aiohttp handler", posted, at_least=AT_LEAST,
                               p99_ms=P99_MS))
    bench.at_half("client-authentication", gateway, authentications, 200, measured,
                  p99_ms=P99_MS)
    keys = [key for status in Status for key in bench.seeded.keys[status]]
    profiles = [("GET", f"/v1/clients/{key}/profile", "") for key in keys]
    measured = bench.load(gateway, "profile", profiles, 200)
    bench.rows.append(compared("client profile", measured, (200,),
                               "constant JSON aiohttp handler", got, at_least=AT_LEAST,
                               p99_ms=P99_MS))
    bench.at_half("profile", gateway, profiles, 200, measured, p99_ms=P99_MS)
