"""Every process declares exactly what the table of common.topology lists, nothing else.

A recording fake of aio-pika's connection and channel stands in for RabbitMQ:
it knows which exchanges and queues exist, refuses a passive declare of one
that does not (as RabbitMQ does, with NOT_FOUND), and records every
declaration and binding, so each declaration site can be compared with the
table: the bus of a gateway or worker on a fresh broker and on one whose
topology exists, the events tail, and the dead-letter tool.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from aio_pika.exceptions import ChannelNotFoundEntity

from clientkeys.events_tail import tail_queue
from common.amqp_bus import AmqpBus
from common.settings import Settings, SettingsError
from common.topology import ALL_EVENTS, Binding, OwnQueue, Queue, Topology
from worker.dead_letters import checked_dead_letters

TOPOLOGY = Topology("ns")


@dataclass(frozen=True)
class Declared:
    what: str  # "exchange" or "queue"
    name: str
    passive: bool
    kind: str | None = None
    durable: bool = False
    exclusive: bool = False
    auto_delete: bool = False
    arguments: tuple[tuple[str, Any], ...] = ()


@dataclass
class Broker:
    exchanges: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    declared: list[Declared] = field(default_factory=list)
    bound: list[Binding] = field(default_factory=list)

    def configured(self) -> list[Declared]:
        """What needed configure permission: every declaration that was not passive."""
        return [d for d in self.declared if not d.passive]


@dataclass
class _Result:
    message_count: int = 0
    consumer_count: int = 0


@dataclass
class FakeExchange:
    name: str


class FakeQueue:
    def __init__(self, broker: Broker, name: str) -> None:
        self._broker, self.name = broker, name
        self.declaration_result = _Result()

    async def bind(self, exchange: FakeExchange, routing_key: str) -> None:
        assert exchange.name in self._broker.exchanges, f"bound to a missing {exchange.name}"
        self._broker.bound.append(Binding(exchange.name, self.name, routing_key))

    async def consume(self, callback: Any, no_ack: bool = False) -> str:
        return "consumer-tag"


class FakeChannel:
    is_closed = False

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    def __await__(self) -> Generator[Any, None, FakeChannel]:
        yield from []
        return self

    async def __aenter__(self) -> FakeChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def set_qos(self, prefetch_count: int) -> None:
        return None

    async def declare_exchange(self, name: str, type: Any = aio_pika.ExchangeType.DIRECT, *,
                               durable: bool = False, passive: bool = False,
                               **_: Any) -> FakeExchange:
        self._broker.declared.append(Declared("exchange", name, passive,
                                              kind=aio_pika.ExchangeType(type).value,
                                              durable=durable))
        if passive and name not in self._broker.exchanges:
            raise ChannelNotFoundEntity(f"no exchange {name}")
        self._broker.exchanges.add(name)
        return FakeExchange(name)

    async def declare_queue(self, name: str, *, durable: bool = False, exclusive: bool = False,
                            passive: bool = False, auto_delete: bool = False,
                            arguments: dict[str, Any] | None = None, **_: Any) -> FakeQueue:
        self._broker.declared.append(Declared(
            "queue", name, passive, durable=durable, exclusive=exclusive,
            auto_delete=auto_delete, arguments=tuple(sorted((arguments or {}).items()))))
        if passive and name not in self._broker.queues:
            raise ChannelNotFoundEntity(f"no queue {name}")
        self._broker.queues.add(name)
        return FakeQueue(self._broker, name)


class FakeConnection:
    is_closed = False

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    def channel(self, **_: Any) -> FakeChannel:
        return FakeChannel(self.broker)

    async def close(self) -> None:
        return None


def _channel(broker: Broker) -> AbstractChannel:
    return cast(AbstractChannel, FakeChannel(broker))


def _fresh() -> Broker:
    return Broker()


def _made_by_definitions() -> Broker:
    """A broker whose durable topology exists, as deploy/rabbitmq/definitions.json makes it."""
    return Broker(exchanges={e.name for e in TOPOLOGY.exchanges},
                  queues={q.name for q in TOPOLOGY.queues},
                  bound=list(TOPOLOGY.bindings))


def _as_declared(queue: Queue, *, passive: bool = False) -> Declared:
    return Declared("queue", queue.name, passive, durable=queue.durable,
                    exclusive=queue.exclusive, auto_delete=queue.exclusive,
                    arguments=tuple(sorted(queue.arguments.items())))


async def _connect(broker: Broker, monkeypatch: pytest.MonkeyPatch) -> AmqpBus:
    async def connect_robust(url: str, **_: Any) -> FakeConnection:
        return FakeConnection(broker)

    monkeypatch.setattr(aio_pika, "connect_robust", connect_robust)
    return await AmqpBus.connect("amqp://fake/", TOPOLOGY)


async def test_on_a_fresh_broker_the_bus_declares_exactly_the_durable_table(
        monkeypatch: pytest.MonkeyPatch) -> None:
    broker = _fresh()
    await _connect(broker, monkeypatch)
    assert {(d.name, d.kind, d.durable) for d in broker.configured()
            if d.what == "exchange"} == {(e.name, e.kind, True) for e in TOPOLOGY.exchanges}
    assert [d for d in broker.configured() if d.what == "queue"] == [
        _as_declared(queue) for queue in TOPOLOGY.queues]
    assert broker.bound == list(TOPOLOGY.bindings)


async def test_where_the_topology_exists_the_bus_only_checks_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    broker = _made_by_definitions()
    bus = await _connect(broker, monkeypatch)
    await bus.consume_commands(_no_command, prefetch=1)
    assert broker.configured() == []
    assert {d.name for d in broker.declared} == (
        {e.name for e in TOPOLOGY.exchanges} | {q.name for q in TOPOLOGY.queues})
    assert broker.bound == list(TOPOLOGY.bindings)


@pytest.mark.parametrize("made", [_fresh, _made_by_definitions])
async def test_a_gateway_declares_its_own_queues_as_the_table_says(
        made: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = made()
    bus = await _connect(broker, monkeypatch)
    durable = (len(broker.declared), len(broker.bound))
    reply_to = await bus.listen_for_replies(lambda body, headers: None)
    await bus.subscribe_events([ALL_EVENTS], _no_event)
    declared, bound = broker.declared[durable[0]:], broker.bound[durable[1]:]
    (events_queue,) = [d.name for d in declared
                       if d.what == "queue" and d.name != reply_to]
    own: list[OwnQueue] = [
        TOPOLOGY.own_reply_queue(reply_to.rsplit(".", 1)[-1]),
        TOPOLOGY.own_events_queue(events_queue, [ALL_EVENTS])]
    assert events_queue == TOPOLOGY.event_subscriber_queue(events_queue.rsplit(".", 1)[-1])
    assert [d for d in declared if d.what == "queue"] == [_as_declared(o.queue) for o in own]
    assert bound == [binding for o in own for binding in o.bindings]
    # The exchanges they are bound to are only checked where the topology exists.
    assert all(d.passive is (made is _made_by_definitions)
               for d in declared if d.what == "exchange")


async def test_the_events_tail_binds_a_subscriber_queue_and_only_checks_the_exchange() -> None:
    broker = _made_by_definitions()
    settings = Settings(namespace=TOPOLOGY.namespace)
    queue = await tail_queue(_channel(broker), settings, ["client.*.approved", "client.#"])
    own = TOPOLOGY.own_events_queue(queue.name, ["client.*.approved", "client.#"])
    assert queue.name.startswith(TOPOLOGY.subscriber_queue("tail."))
    assert broker.configured() == [_as_declared(own.queue)]
    assert broker.bound[len(TOPOLOGY.bindings):] == list(own.bindings)


async def test_the_events_tail_says_when_the_exchange_is_missing() -> None:
    broker = _fresh()
    with pytest.raises(SettingsError, match=r"has no exchange 'ns\.events'"):
        await tail_queue(_channel(broker), Settings(namespace="ns"), ["#"])
    assert broker.configured() == [] and broker.queues == set()


async def test_the_dead_letter_tool_only_checks_the_table() -> None:
    broker = _made_by_definitions()
    exchange, queue = await checked_dead_letters(_channel(broker), TOPOLOGY)
    assert (exchange.name, queue.name) == (TOPOLOGY.commands_exchange,
                                           TOPOLOGY.dead_letter_queue)
    assert broker.configured() == []
    with pytest.raises(SettingsError, match=r"has no 'ns\.commands' exchange"):
        await checked_dead_letters(_channel(_fresh()), TOPOLOGY)


async def _no_command(command: Any) -> None:
    raise AssertionError("no command is delivered here")


async def _no_event(routing_key: str, body: bytes, headers: Mapping[str, object]) -> None:
    raise AssertionError("no event is delivered here")
