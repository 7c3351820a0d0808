"""The fan-out behind GET /v1/events: bounded per stream, refused past its limit, closable."""

from __future__ import annotations

import json

import pytest

from api.problems import Problem
from api.views.live_events import QUEUE_SIZE, RESYNC, LiveEvents
from common.events import ClientEvent, ClientEventType, encode_event


def _event(number: int) -> bytes:
    """Event number `number`, as a worker publishes it under `client.oidc.created`."""
    return encode_event(ClientEvent(ClientEventType.CREATED, {"key": f"k{number}", "type": "oidc"},
                                    "alice", f"c{number}", id=f"e{number}"), "ns")


async def test_each_listener_gets_every_event_in_order() -> None:
    live = LiveEvents()
    with live.listen() as first, live.listen() as second:
        for number in range(3):
            await live.on_event("client.oidc.created", _event(number))
        for listener in (first, second):
            got = [listener.queue.get_nowait() for _ in range(3)]
            assert [e.id for e in got] == ["e0", "e1", "e2"]
            assert json.loads(got[0].data)["type"] == "clientkeys.client.created"
    assert live.open_streams == 0


async def test_a_slow_listener_is_told_to_resync_instead_of_holding_memory() -> None:
    live = LiveEvents()
    with live.listen() as slow:
        for number in range(QUEUE_SIZE + 5):
            await live.on_event("client.oidc.created", _event(number))
        assert slow.queue.qsize() <= QUEUE_SIZE
        drained = [slow.queue.get_nowait() for _ in range(slow.queue.qsize())]
        assert RESYNC in drained


async def test_an_unreadable_event_is_not_forwarded() -> None:
    live = LiveEvents()
    with live.listen() as listener:
        await live.on_event("client.oidc.created", b"not json")
        await live.on_event("client.oidc.created", b'{"no": "id"}')
        await live.on_event("client.oidc.approved", _event(1))  # not its routing key
        assert listener.queue.empty()


def test_past_its_limit_a_gateway_refuses_more_streams() -> None:
    live = LiveEvents(max_streams=1)
    with live.listen(), pytest.raises(Problem) as refused, live.listen():
        pass
    assert refused.value.status == 503
    assert "Retry-After" in refused.value.headers
    with live.listen():  # the first one ended: room again
        pass


def test_closing_stops_every_stream_and_refuses_new_ones() -> None:
    live = LiveEvents()
    stopped: list[int] = []
    with live.listen() as first, live.listen() as second:
        first.stop = lambda: stopped.append(1)
        second.stop = lambda: stopped.append(2)
        live.close()
    assert sorted(stopped) == [1, 2]
    with pytest.raises(Problem) as refused, live.listen():
        pass
    assert refused.value.status == 503


def test_each_caller_has_its_own_share_of_streams() -> None:
    live = LiveEvents(per_caller=2)
    with live.listen("alice"), live.listen("alice"):
        with pytest.raises(Problem) as refused, live.listen("alice"):
            pass
        assert refused.value.status == 429
        assert "Retry-After" in refused.value.headers
        assert "2 event streams" in str(refused.value.detail)
        with live.listen("bob"), live.listen("bob"):  # others are not held back
            assert live.open_streams == 4
    with live.listen("alice"):  # closing frees the slot
        pass


def test_the_gateway_cap_still_holds_under_the_callers_cap() -> None:
    live = LiveEvents(max_streams=2, per_caller=5)
    with live.listen("alice"), live.listen("bob"), pytest.raises(Problem) as refused, \
            live.listen("carol"):
        pass
    assert refused.value.status == 503


def test_a_stream_whose_reader_left_frees_its_slot_at_once() -> None:
    live = LiveEvents(per_caller=1)
    reader_there = [True]
    stopped: list[str] = []
    with live.listen("alice", lambda: reader_there[0]) as gone:
        gone.stop = lambda: stopped.append("gone")
        with pytest.raises(Problem), live.listen("alice"):
            pass
        assert stopped == []
        reader_there[0] = False  # the connection dropped; its handler has not noticed yet
        with live.listen("alice") as fresh:
            assert stopped == ["gone"]  # told to end now rather than at its next ping
            assert live.open_streams == 1
            assert fresh is not gone
