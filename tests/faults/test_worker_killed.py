"""Stop a worker in the middle of 300 creates: nothing lost, nothing doubled.

SIGKILL is the crash; SIGTERM is the orderly stop, which must also exit 0
after finishing and acknowledging the commands it holds.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from api import keys
from api.app import create_app
from api.auth.principals import CONFIGURE_SERVER
from common.settings import Settings
from tests.e2e.conftest import AiohttpClient, oauth1_client
from tests.faults.conftest import (
    Figures,
    created_events,
    pending_operations,
    wait_until,
    worker_process,
)
from tests.harness import add_token, bearer, event_tap

CREATES = 300


@pytest.mark.timeout(240)
@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["kill", "term"])
async def test_a_stopped_worker_loses_nothing(
        settings: Settings, aiohttp_client: AiohttpClient, topology_cleanup: None,
        tmp_path: Path, stop_signal: signal.Signals) -> None:
    figures = Figures(f"worker {stop_signal.name}")
    settings = settings.with_overrides(sync_wait_s=0.0)
    admin = bearer(add_token(settings, "alice", CONFIGURE_SERVER))
    http = await aiohttp_client(create_app(settings))
    db = http.app[keys.DB]
    async with event_tap(settings) as tap:
        first = worker_process(settings, tmp_path / "worker-1.log")
        try:
            responses = await asyncio.gather(*(
                http.post("/v1/clients", json=oauth1_client(f"c{i}"), headers=admin)
                for i in range(CREATES)))
            statuses = [r.status for r in responses]
            figures.add(sent=CREATES, acknowledged=statuses.count(202))
            assert statuses == [202] * CREATES

            async def some_applied() -> bool:
                return bool(await db["clients"].count_documents({}) >= 30)

            await wait_until(some_applied, 60, "the first worker to apply some creates")
        finally:
            first.send_signal(stop_signal)
            code = first.wait(30)
        figures.add(applied_before_stop=await db["clients"].count_documents({}))
        second = worker_process(settings, tmp_path / "worker-2.log")
        try:
            async def all_finished() -> bool:
                return await pending_operations(db) == 0

            await wait_until(all_finished, 120, "every operation to finish")
            await tap.wait_for(CREATES, timeout_s=60)  # the relay sends what was left
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(30) == 0

    clients = await db["clients"].count_documents({})
    operations = await db["operations"].find({}).to_list()
    per_client, duplicates = created_events(tap.bodies())
    figures.add(applied=clients, events=sum(per_client.values()), duplicates=duplicates)
    figures.show()
    if stop_signal is signal.SIGTERM:
        assert code == 0
    assert clients == CREATES
    assert len(operations) == CREATES
    assert {o["status"] for o in operations} == {"succeeded"}
    assert len(per_client) == CREATES
    assert set(per_client.values()) == {1}  # exactly one created event per client, by id
