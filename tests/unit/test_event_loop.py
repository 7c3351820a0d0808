"""The long-lived processes run on uvloop when it is installed, on asyncio's loop otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from common.event_loop import new_event_loop, run


async def _loop_type() -> type[asyncio.AbstractEventLoop]:
    return type(asyncio.get_running_loop())


def test_run_uses_uvloop_where_it_is_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    assert run(_loop_type()) is uvloop.Loop


def test_without_uvloop_it_is_asyncio_s_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    loop = new_event_loop()
    try:
        assert not type(loop).__module__.startswith("uvloop")
        assert isinstance(loop, asyncio.BaseEventLoop)
    finally:
        loop.close()
    assert run(_loop_type()).__module__.startswith("asyncio")
