"""Logging: one JSON object per line, with the request id of whatever is being done.

Every module keeps logging through the standard library (`logging.getLogger`),
as the libraries we use do; structlog's `ProcessorFormatter` turns each record,
ours or a library's, into one line. What a piece of work is about is bound once
with `correlated(...)` (a context variable, so it follows the work across
awaits and into the tasks it starts) and appears on every line logged inside:
the gateway binds the request id for each HTTP request, the worker binds the
request id, command id and kind that came with each command.

Secrets never reach a log line: no code logs one, and `_redact` blanks any field
whose name says it holds one, should a library or a future change pass one in.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import Token
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

_SECRET_WORDS = ("secret", "password", "token", "authorization", "cookie")
REDACTED = "[redacted]"

# Libraries too chatty at INFO, or whose failures are already reported by us in one line.
_QUIET = {"aio_pika": logging.WARNING, "aiormq": logging.CRITICAL,
          "aiohttp.access": logging.WARNING, "pymongo": logging.WARNING}


def _redact(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for name in event:
        if name != "event" and any(word in name.lower() for word in _SECRET_WORDS):
            event[name] = REDACTED
    return event


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        # Fields passed as `extra={...}` become fields of the line.
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="time"),
        _redact,
    ]


def configure_logging(log_format: str = "json", level: str = "INFO",
                      stream: TextIO | None = None) -> None:
    """Route every log record of the process through one handler on `stream` (stderr)."""
    renderer: Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer(sort_keys=False)
        tail: list[Processor] = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        tail = []
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail,
                    renderer]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name, quiet in _QUIET.items():
        logging.getLogger(name).setLevel(max(quiet, root.level))


@contextmanager
def correlated(**ids: str | None) -> Iterator[None]:
    """Every line logged inside carries these ids (those that are not None); what they
    were before is back afterwards."""
    tokens = bind_ids(**ids)
    try:
        yield
    finally:
        unbind_ids(tokens)


def bind_ids(**ids: str | None) -> Mapping[str, Token[Any]]:
    """`correlated` without its context manager, for the gateway's every request: bind
    these ids (those that are not None); `unbind_ids` of the result puts back what was."""
    # structlog's `bound_contextvars` reads every context variable there is to save them;
    # the tokens of `bind_contextvars` restore the same for a few times less, per request.
    return structlog.contextvars.bind_contextvars(
        **{name: value for name, value in ids.items() if value is not None})


def unbind_ids(tokens: Mapping[str, Token[Any]]) -> None:
    structlog.contextvars.reset_contextvars(**tokens)


def current_ids() -> MutableMapping[str, Any]:
    """The ids bound by the enclosing `correlated` blocks."""
    return structlog.contextvars.get_contextvars()
