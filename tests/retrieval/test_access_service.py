"""The access service and its clients, scripted on a bare SimPy environment: exact
fetch times for known draws (``smtpsim.mta.access_service``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import simpy

from smtpsim.metrics.recorder import ColumnarRecorder
from smtpsim.mta.access_service import AccessService, ClientKind


def fetched_at(rec: ColumnarRecorder) -> dict[int, float]:
    """The fetches the service recorded: row -> time, each row once."""
    rows, times = list(rec.f_row), list(rec.f_t)
    assert len(set(rows)) == len(rows), f"a row fetched twice: {rows}"
    return dict(zip(rows, times, strict=True))


def draws(*values: float) -> Callable[[], float]:
    it: Iterator[float] = iter(values)
    return lambda: next(it)


def service(
    env: simpy.Environment, kind: ClientKind, *, processing: float = 0.0, capacity: int = 10
) -> tuple[AccessService, ColumnarRecorder]:
    rec = ColumnarRecorder()  # the service calls only fetched()
    svc = AccessService(
        "mx",
        env,
        rec,
        protocol="imap",
        capacity=capacity,
        processing=lambda: processing,
        kinds=[kind],
    )
    return svc, rec


def deliver_at(env: simpy.Environment, svc: AccessService, *steps: tuple[float, int, str]):
    def process():
        for t, row, address in steps:
            yield env.timeout(t - env.now)
            svc.delivered(row, address, env.now)

    env.process(process())


def test_an_idle_client_told_of_a_later_delivery_first_fetches_then() -> None:
    # A at 0 is pushed after 10 s, B at 2 s after 1 s: the client hears of B at 3 s and
    # synchronises the mailbox, fetching both then
    env = simpy.Environment()
    svc, rec = service(env, ClientKind(1.0, None, None, draws(10.0, 1.0), 60.0))
    deliver_at(env, svc, (0.0, 0, "u@d"), (2.0, 1, "u@d"))
    env.run(until=100)
    assert fetched_at(rec) == {0: 3.0, 1: 3.0}
    assert svc.sessions == 1


def test_a_polling_client_skips_the_checks_of_an_empty_mailbox() -> None:
    # checks every 100 s from phase 30 s: 30, 130, 230, ...; mail at 250 is fetched at
    # 330 with the same schedule as if every empty check had run
    env = simpy.Environment()
    every = draws(*([100.0] * 10))
    svc, rec = service(env, ClientKind(1.0, every, lambda: 30.0, None, 60.0))
    deliver_at(env, svc, (250.0, 0, "u@d"), (260.0, 1, "u@d"), (331.0, 2, "u@d"))
    env.run(until=1000)
    assert fetched_at(rec) == {0: 330.0, 1: 330.0, 2: 430.0}


def test_a_session_fetches_what_was_there_when_it_was_taken_up() -> None:
    # one slot, 5 s sessions: v's check at 100 waits for u's session (100-105), then takes
    # what v has at 105; mail for v delivered during its own session waits for the next check
    env = simpy.Environment()
    svc, rec = service(
        env,
        ClientKind(1.0, draws(*([100.0] * 10)), lambda: 100.0, None, 60.0),
        processing=5.0,
        capacity=1,
    )
    deliver_at(env, svc, (50.0, 0, "u@d"), (60.0, 1, "v@d"), (107.0, 2, "v@d"))
    env.run(until=1000)
    assert fetched_at(rec)[0] == 105.0
    assert fetched_at(rec)[1] == 110.0
    assert fetched_at(rec)[2] == 205.0


def test_outage_cuts_a_session_and_idle_reconnects() -> None:
    env = simpy.Environment()
    svc, rec = service(env, ClientKind(1.0, None, None, draws(1.0), 30.0), processing=4.0)
    deliver_at(env, svc, (0.0, 0, "u@d"))

    def outage():
        yield env.timeout(3.0)  # the session started at 1 s: cut at 3 s
        svc.go_down()
        yield env.timeout(50.0)
        svc.come_up()  # at 53 s

    env.process(outage())
    env.run(until=200)
    # the cut is seen at 3 s; reconnects at 33 s (still down) and 63 s (up: 63-67 s)
    assert fetched_at(rec) == {0: 67.0}
    assert svc.failed == 2 and svc.sessions == 1
