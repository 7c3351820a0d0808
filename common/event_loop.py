"""The event loop the long-lived processes run on: uvloop where it is installed.

`clientkeys gateway`, `worker` and `dev` spend their time in socket I/O, where
uvloop (libuv) is markedly faster than asyncio's own loop, with the same API.
It is a dependency everywhere but Windows, which it does not support; there,
asyncio's loop is used. Chosen when a process starts, never at import.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the loop of `new_event_loop`."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
