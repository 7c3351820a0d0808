"""The README's example subscriber: the same code as examples/subscriber.py, and it works."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys

import aio_pika

from common.events import ClientEventType
from tests.e2e.conftest import Service, oauth1_client, oidc_client
from tests.harness import event_tap
from tests.processes import REPO, clean_env

EXAMPLE = REPO / "examples" / "subscriber.py"
WAIT_S = 30


def readme_section() -> str:
    readme = (REPO / "README.md").read_text()
    return readme.split("\n## Subscribing to events\n", 1)[1].split("\n## ", 1)[0]


def test_the_readme_shows_the_example_file_and_every_event_type() -> None:
    section = readme_section()
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)
    example = EXAMPLE.read_text()
    assert code == example.split('"""', 2)[2].lstrip("\n")
    for event_type in ClientEventType:
        assert f"`{event_type}`" in section, event_type


async def test_the_example_prints_each_bound_event_once(service: Service) -> None:
    namespace = service.settings.namespace
    queue = f"{namespace}.subscriber.example"
    env = clean_env(AMQP_URL=service.settings.amqp_url, CLIENTKEYS_NAMESPACE=namespace,
                    QUEUE=queue)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), env=env, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        ready = await asyncio.wait_for(process.stdout.readline(), WAIT_S)
        assert ready.decode() == f"waiting for events on {queue}\n"
        async with event_tap(service.settings, "client.*.approved") as tap:
            key = (await service.create(oidc_client()))["key"]
            await service.create(oauth1_client())  # created: not bound, not printed
            response = await service.request("POST", f"/v1/clients/{key}/approve")
            assert response.status == 200
            [approved] = await tap.wait_for(1)
        # The same event again, as a redelivery would bring it: dropped by its id.
        connection = await aio_pika.connect(service.settings.amqp_url)
        async with connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(f"{namespace}.events")
            await exchange.publish(aio_pika.Message(json.dumps(approved).encode(),
                                                    message_id=approved["id"]),
                                   routing_key="client.oidc.approved")
        response = await service.request("DELETE", f"/v1/clients/{key}")
        assert response.status == 204
        lines = [(await asyncio.wait_for(process.stdout.readline(), WAIT_S)).decode()
                 for _ in range(2)]
        process.send_signal(signal.SIGINT)
        rest, _ = await asyncio.wait_for(process.communicate(), WAIT_S)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        connection = await aio_pika.connect(service.settings.amqp_url)
        async with connection:
            await (await connection.channel()).queue_delete(queue)
    assert lines == [f"clientkeys.client.approved {key} approved\n",
                     f"clientkeys.client.removed {key} approved\n"]
    assert rest == b""
    assert process.returncode == 0
