"""A service that subscribes to clientkeys events (the README's example, run by its tests).

AMQP_URL, CLIENTKEYS_NAMESPACE and QUEUE come from the environment; Ctrl-C stops it.
"""

import asyncio
import contextlib
import json
import os

import aio_pika

AMQP_URL = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NAMESPACE = os.environ.get("CLIENTKEYS_NAMESPACE", "clientkeys")
# Your service's own queue, of the prefix a subscriber's broker user may declare and read.
QUEUE = os.environ.get("QUEUE", f"{NAMESPACE}.subscriber.billing")


async def main() -> None:
    connection = await aio_pika.connect_robust(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=20)
        # Looked up, not declared: a subscriber may read the exchange, never configure it.
        events = await channel.get_exchange(f"{NAMESPACE}.events")
        # Durable, so events published while this service is down wait for it.
        queue = await channel.declare_queue(
            QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        for routing_key in ("client.*.approved", "client.*.removed"):
            await queue.bind(events, routing_key)
        print(f"waiting for events on {QUEUE}", flush=True)
        seen: set[str] = set()  # keep these with your data, in the same transaction
        async with queue.iterator() as messages:
            async for message in messages:
                async with message.process(requeue=True):  # ack when done; requeue on error
                    event = json.loads(message.body)
                    if event["id"] in seen:
                        continue  # delivered twice: same id
                    seen.add(event["id"])
                    client = event["data"]["client"]
                    print(event["type"], client["key"], client["status"], flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C
        asyncio.run(main())
