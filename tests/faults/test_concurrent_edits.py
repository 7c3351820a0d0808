"""Two administrators edit the same version at once: one wins, the other gets 412."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.conftest import Service, oidc_client
from tests.faults.conftest import Figures

ROUNDS = 20


@pytest.mark.timeout(120)
async def test_concurrent_patches_with_the_same_if_match(service: Service) -> None:
    figures = Figures("concurrent If-Match")
    created = await service.create(oidc_client())
    path = f"/v1/clients/{created['key']}"
    for round_ in range(ROUNDS):
        headers = {**service.admin, "If-Match": f'"{round_ + 1}"'}
        first, second = await asyncio.gather(
            service.request("PATCH", path, json={"name": f"alice {round_}"}, headers=headers),
            service.request("PATCH", path, json={"name": f"bob {round_}"}, headers=headers))
        statuses = sorted((first.status, second.status))
        figures.add(rounds=1, **{f"http_{s}": 1 for s in statuses})
        assert statuses == [200, 412], statuses
        winner = first if first.status == 200 else second
        current = await (await service.request("GET", path)).json()
        assert current["name"] == (await winner.json())["name"]
        assert current["version"] == round_ + 2
    figures.show()
