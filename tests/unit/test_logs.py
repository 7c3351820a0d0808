"""Log lines: one JSON object each, with the bound ids, and never a secret's value."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from common.logs import REDACTED, configure_logging, correlated, current_ids


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream)
    yield stream
    root.handlers[:], root.level = saved


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_standard_library_record_becomes_one_json_line(captured: io.StringIO) -> None:
    logging.getLogger("worker.consumer").info("applied %s", "create_client",
                                              extra={"client_key": "ck_1"})
    [line] = lines(captured)
    assert line["event"] == "applied create_client"
    assert line["level"] == "info" and line["logger"] == "worker.consumer"
    assert line["client_key"] == "ck_1"
    assert line["time"].endswith("Z")


def test_ids_bound_by_correlated_reach_every_line_inside_and_no_line_after(
        captured: io.StringIO) -> None:
    log = logging.getLogger("clientkeys.test")
    with correlated(request_id="r-1", command_id="c-1", kind=None):
        assert dict(current_ids()) == {"request_id": "r-1", "command_id": "c-1"}
        log.info("inside")
    log.info("after")
    inside, after = lines(captured)
    assert (inside["request_id"], inside["command_id"]) == ("r-1", "c-1")
    assert "kind" not in inside
    assert "request_id" not in after


def test_an_inner_correlated_block_gives_the_outer_ids_back() -> None:
    with correlated(request_id="outer", command_id="c-1"):
        with correlated(request_id="inner", kind="approve"):
            assert dict(current_ids()) == {"request_id": "inner", "command_id": "c-1",
                                           "kind": "approve"}
        assert dict(current_ids()) == {"request_id": "outer", "command_id": "c-1"}
    assert dict(current_ids()) == {}


def test_a_field_named_like_a_secret_is_redacted(captured: io.StringIO) -> None:
    logging.getLogger("x").warning("careless", extra={
        "secret": "hunter2-value", "client_secret": "hunter2-value",
        "Authorization": "Bearer ck_abc", "new_password": "pw", "client_key": "ck_1"})
    [line] = lines(captured)
    assert "hunter2" not in captured.getvalue() and "ck_abc" not in captured.getvalue()
    assert line["secret"] == line["client_secret"] == line["Authorization"] == REDACTED
    assert line["new_password"] == REDACTED
    assert line["client_key"] == "ck_1"


def test_an_exception_is_in_its_line(captured: io.StringIO) -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("x").exception("failed")
    [line] = lines(captured)
    assert "RuntimeError: boom" in line["exception"]


def test_the_level_filters_and_chatty_libraries_are_quieter(captured: io.StringIO) -> None:
    logging.getLogger("x").debug("hidden")
    logging.getLogger("aio_pika.robust_connection").info("hidden too")
    logging.getLogger("aio_pika").warning("shown")
    assert [line["event"] for line in lines(captured)] == ["shown"]


def test_console_format_is_text(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    stream = io.StringIO()
    try:
        configure_logging("console", "INFO", stream=stream)
        logging.getLogger("x").info("hello", extra={"secret": "s"})
    finally:
        root.handlers[:], root.level = saved
    text = stream.getvalue()
    assert "hello" in text and not text.startswith("{")
    assert "secret=" in text and REDACTED in text
