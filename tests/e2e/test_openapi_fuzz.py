"""The gateway keeps to its own OpenAPI document, whatever it is sent.

Schemathesis reads `/openapi.json` from the running gateway (real workers,
RabbitMQ and the MongoDB-wire server behind it) and sends it generated
requests, valid and invalid, with a token holding every permission. Every answer must be no 5xx,
a documented status with a documented content type, the documented headers and
a body matching the documented schema.

The gateway runs in this test's event loop, so Schemathesis runs as its own
process (its command line is its most stable interface) while the loop serves
it. A few clients exist beforehand, and Schemathesis draws path parameters
from them half the time (and secrets from one value, so that a secret and its
confirmation can agree), so generated requests reach the workers instead of
stopping at 404 or 400. The run is bounded (examples per operation, no
time-based repetition) and deterministic, so it is the same run every time.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

from api import keys
from tests.e2e.conftest import Service, oauth1_client, oidc_client

CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
MAX_EXAMPLES = 50
RUN_LIMIT_S = 240  # far above a normal run; only a hung run reaches it
FUZZ_SECRET = "a-secret-for-fuzzing"


async def _config(service: Service, folder: Path) -> Path:
    """A Schemathesis config: dictionaries of real keys and operation ids to draw from."""
    created = [await service.create(body) for body in
               (oidc_client("Fuzz portal"), oidc_client("Fuzz portal 2"), oauth1_client())]
    operations = await service.http.app[keys.DB]["operations"].find({}, {"_id": 1}).to_list()
    config = folder / "schemathesis.toml"
    config.write_text("\n".join((
        "[dictionaries.keys]",
        f"values = {json.dumps([c['key'] for c in created])}",
        "[dictionaries.operations]",
        f"values = {json.dumps([o['_id'] for o in operations])}",
        "[dictionaries.secrets]",
        f"values = {json.dumps([FUZZ_SECRET])}",
        "[parameters]",
        '"path.key" = { dictionary = "keys", probability = 0.5 }',
        '"path.id" = { dictionary = "operations", probability = 0.5 }',
        '"body.secret" = { dictionary = "secrets", probability = 0.9 }',
        '"body.secret_confirmation" = { dictionary = "secrets", probability = 0.9 }',
    )) + "\n")
    return config


async def test_every_answer_matches_the_document(service: Service, tmp_path: Path) -> None:
    config = await _config(service, tmp_path)
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
        str(service.http.make_url("/openapi.json")),
        "--checks", ",".join(CHECKS),
        "--header", f"Authorization:{service.everything['Authorization']}",
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers", "1",
        "--request-timeout", "20",
        "--no-color",
        # An endless stream: tested by tests/e2e/test_live_events.py instead.
        "--exclude-operation-id", "event_stream",
    ]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), RUN_LIMIT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = output.decode(errors="replace")
    print(text)  # shown with -s, and by pytest on failure
    assert process.returncode == 0, text[-20_000:]
    assert re.search(r"(\d+) generated, \1 passed", text), text[-5_000:]
