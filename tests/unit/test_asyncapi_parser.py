"""The AsyncAPI document as the AsyncAPI Initiative's own parser reads it.

`tests/asyncapi_contract.py` checks the rules the document relies on from Python, and
messages against its schemas; here the parser every AsyncAPI tool is built on
(`@asyncapi/parser`, from npm, pinned by `tests/asyncapi_parser/package-lock.json` and
installed by `make asyncapi-parser`) reads the document as served: the specification's
JSON Schema, the AMQP bindings' schemas and its rules. Node.js runs it.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.docs.asyncapi import document_body

PARSER = Path(__file__).resolve().parents[1] / "asyncapi_parser"


def parsed(document: dict[str, Any], folder: Path) -> tuple[int, dict[str, Any]]:
    """The parser's exit code and its verdict on `document`."""
    node = shutil.which("node")
    if node is None or not (PARSER / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail("the AsyncAPI parser is not installed: run `make asyncapi-parser`")
    path = folder / "asyncapi.json"
    path.write_text(json.dumps(document))
    done = subprocess.run([node, str(PARSER / "check.mjs"), str(path)], cwd=PARSER,
                          capture_output=True, text=True, timeout=120, check=False)
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-2000:]
    verdict: dict[str, Any] = json.loads(lines[-1])
    return done.returncode, verdict


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    served: dict[str, Any] = json.loads(document_body("clientkeys"))
    return served


def test_the_served_document_parses_without_an_error(document: dict[str, Any],
                                                     tmp_path: Path) -> None:
    code, verdict = parsed(document, tmp_path)
    assert verdict["errors"] == [] and verdict["parsed"] and code == 0, verdict


def test_the_parser_refuses_a_broken_document(document: dict[str, Any], tmp_path: Path) -> None:
    """The check can fail: a dangling channel and a binding of no kind AMQP knows."""
    broken = copy.deepcopy(document)
    broken["operations"]["sendOutcomeReply"]["channel"] = {"$ref": "#/channels/nowhere"}
    broken["channels"]["commands"]["bindings"]["amqp"]["is"] = "exchange"
    code, verdict = parsed(broken, tmp_path)
    assert code == 1 and not verdict["parsed"]
    found = {(error["code"], tuple(error["path"])) for error in verdict["errors"]}
    assert ("invalid-ref", ("operations", "sendOutcomeReply", "channel", "$ref")) in found
    assert any(path == ("channels", "commands", "bindings", "amqp", "is")
               for _, path in found), verdict
