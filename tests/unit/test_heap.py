"""The gateway's heap is frozen once its read model has loaded, and again only after
a quarter of the model has been made anew."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from api.verify.heap import FrozenHeap


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    # Freezing changes the whole test process: leave it as it was found.
    gc.unfreeze()
    yield
    gc.unfreeze()


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_the_first_settle_collects_then_freezes_what_is_alive() -> None:
    alive = Cycle()
    dead = Cycle()
    collected = weakref.ref(dead)
    del dead
    assert FrozenHeap().settled(held=100, made_since=100)
    assert gc.get_freeze_count() > 0
    # The garbage cycle was collected before the freeze, not kept forever.
    assert collected() is None
    # What is alive is frozen: collections no longer walk it.
    assert not any(o is alive for generation in range(3) for o in gc.get_objects(generation))


def test_it_freezes_again_only_when_a_quarter_of_the_model_is_new() -> None:
    heap = FrozenHeap()
    assert heap.settled(held=1000, made_since=1000)
    assert not heap.settled(held=1000, made_since=0)
    assert not heap.settled(held=1000, made_since=249)
    assert heap.settled(held=1000, made_since=250)
