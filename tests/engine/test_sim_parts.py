"""The runtime's smallest parts on their own: the slot pool (``sim/slots.py``) and the
named random streams (``sim/streams.py``)."""

from __future__ import annotations

import numpy as np
import pytest

from smtpsim.sim.slots import SlotPool
from smtpsim.sim.streams import Streams


def test_slots_are_taken_while_free_then_handed_over_first_come_first_served() -> None:
    pool = SlotPool(2)
    assert pool.try_acquire() and pool.try_acquire()
    assert not pool.try_acquire() and pool.busy == 2
    served: list[str] = []
    first, second, third = (
        (lambda: served.append("a")),
        (lambda: served.append("b")),
        (lambda: served.append("c")),
    )
    for waiter in (first, second, third):
        pool.wait(waiter)
    assert pool.cancel(second) and not pool.cancel(second)  # no longer waiting
    pool.release()  # straight to the first waiter: the slot stays busy
    assert served == ["a"] and pool.busy == 2 and pool.waiting == 1
    pool.release()
    assert served == ["a", "c"] and pool.waiting == 0
    assert not pool.cancel(first)  # it already got its slot
    pool.release()
    pool.release()
    assert pool.busy == 0 and pool.try_acquire()
    with pytest.raises(ValueError, match="at least 1"):
        SlotPool(0)


def test_a_stream_depends_on_the_seed_and_its_name_only() -> None:
    a = Streams(7).generator("workload.staff.arrivals").random(5)
    again = Streams(7)
    again.generator("link.out-mx1.latency").random(100)  # another part draws first
    assert np.array_equal(again.generator("workload.staff.arrivals").random(5), a)
    assert not np.array_equal(Streams(8).generator("workload.staff.arrivals").random(5), a)
    assert not np.array_equal(Streams(7).generator("workload.other.arrivals").random(5), a)


def test_asking_twice_for_one_stream_is_refused() -> None:
    streams = Streams(7)
    streams.generator("workload.staff.arrivals")
    with pytest.raises(ValueError, match="requested twice"):
        streams.generator("workload.staff.arrivals")  # two parts would share draws
