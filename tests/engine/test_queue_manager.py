"""The queue manager's concurrency feedback on its own (``smtpsim.mta.queue_manager``
on a fresh SimPy environment, with a stand-in delivery agent): how many deliveries a
destination gets under way as its deliveries succeed or fail at the site, when it is
declared dead, what happens to its mail meanwhile, and when it comes back.

The numbers follow from Postfix's defaults (postconf(5)) and its scheduler
(SCHEDULER_README, "Postfix 2.5 concurrency scheduler"; ``src/qmgr/qmgr_queue.c``):
``initial_destination_concurrency = 5``, ``default_destination_concurrency_limit =
20``, feedback +1 per delivery without site trouble and -1 per delivery with it,
``default_destination_concurrency_failed_cohort_limit = 1``, dead for
``minimal_backoff_time = 300s``. The window arithmetic alone is checked entry by
entry in ``test_concurrency_feedback.py``; here it is the queue manager's use of it."""

from __future__ import annotations

import pytest
import simpy

from smtpsim.mail.retry import PostfixRetry
from smtpsim.metrics.recorder import ColumnarRecorder
from smtpsim.metrics.result import RunResult
from smtpsim.mta.message import Deferral, QueuedMessage
from smtpsim.mta.queue_manager import DeliveryRequest, QueueManager
from smtpsim.protocol import Reply
from smtpsim.scenario import Postfix
from smtpsim.sim import RunContext, Streams

DOMAIN = "dest.example"
REFUSED = Deferral.of(Reply(421, "4.4.2", "mx.dest.example[192.0.2.1] said: too busy"))


class Agent:
    """Stands in for the SMTP delivery agent: keeps the requests handed to it, and
    ends them as the test says (as ``DeliveryAgent`` does: a success is final, a site
    failure defers the recipients and tells the destination why)."""

    def __init__(self) -> None:
        self.requests: list[DeliveryRequest] = []
        self.ended: set[int] = set()
        self.qmgr: QueueManager | None = None

    def deliver(self, request: DeliveryRequest) -> None:
        self.requests.append(request)

    def end(self, request: DeliveryRequest, *, site_failure: bool) -> None:
        assert self.qmgr is not None and id(request) not in self.ended
        self.ended.add(id(request))
        msg, now = request.msg, self.qmgr.env.now
        for i in request.idx:
            if site_failure:
                msg.errors[i] = REFUSED
                msg.deferred.append(i)
            else:
                self.qmgr.recorder.final(msg.rows[i], "delivered", now, "2.0.0", "250 ok")
        if site_failure:
            request.dest.last_reason = REFUSED
        self.qmgr.request_done(request, site_failure, now)


class Host:
    """One host's queue manager with Postfix's defaults, on a fresh environment."""

    def __init__(self, **postfix: float) -> None:
        self.params = Postfix(**postfix)
        self.env = simpy.Environment()
        self.recorder = ColumnarRecorder()
        self.agent = Agent()
        ctx = RunContext(self.env, Streams(1), self.recorder)
        p = self.params
        retry = PostfixRetry(
            p.minimal_backoff_time, p.maximal_backoff_time, p.maximal_queue_lifetime
        )
        self.qmgr = QueueManager("out", ctx, p, self.agent.deliver, retry=retry, bounce_retry=retry)
        self.agent.qmgr = self.qmgr
        self.messages: list[QueuedMessage] = []

    def submit(self, n: int = 1) -> None:
        """``n`` one-recipient messages to ``DOMAIN``, now."""
        now = self.env.now
        for _ in range(n):
            msg_id = self.recorder.message("a@corp.example", 2000, 1, now, "t")
            row = self.recorder.recipient(msg_id, f"u@{DOMAIN}", DOMAIN, "out")
            msg = QueuedMessage(msg_id, "a@corp.example", 2000, [f"u@{DOMAIN}"], [row], now, 0, "t")
            self.messages.append(msg)
            self.qmgr.receive(msg, now)

    def at(self, t: float) -> None:
        self.env.run(until=t)

    @property
    def dest(self):
        return self.qmgr.destinations[DOMAIN]

    def in_flight(self) -> list[DeliveryRequest]:
        return [r for r in self.agent.requests if id(r) not in self.agent.ended]

    def suspended(self) -> list[tuple[int, str, str]]:
        """The attempts the queue manager deferred itself, without a connection
        (``relay=none``): code, DSN and peer."""
        attempts = RunResult.from_recorder(self.recorder, {"warmup_s": 0.0, "seed": 1}).attempts
        own = attempts[attempts["phase"].astype(str) == "qmgr"]
        return [
            (int(c), str(d), str(p))
            for c, d, p in zip(own["code"], own["dsn"], own["peer"], strict=True)
        ]


def test_each_delivery_without_site_trouble_opens_the_window_by_one() -> None:
    host = Host()
    host.submit(60)
    initial, limit = 5, 20  # initial_destination_concurrency, ..._concurrency_limit
    assert len(host.agent.requests) == initial and host.dest.concurrency.window == initial
    for k in range(1, 30):
        host.agent.end(host.in_flight()[0], site_failure=False)
        # +1 per success (busy + initial is always above the window here), capped at
        # the limit; the freed slot and the new one are filled at once
        window = min(initial + k, limit)
        assert host.dest.concurrency.window == window, k
        assert host.dest.busy == window, k
        assert len(host.agent.requests) == k + window, k


def test_site_failures_close_the_window_then_kill_the_destination() -> None:
    host = Host()
    host.submit(40)
    host.at(10.0)
    first = list(host.agent.requests)
    # -1 per failure with Postfix's rounding margin: 5 -> 3 -> 2; fail_cohorts
    # 1/5 + 1/3 + 1/2 >= 1 (one pseudo-cohort) at the third failure: dead then
    host.agent.end(first[0], site_failure=True)
    assert (host.dest.concurrency.window, host.dest.busy, host.dest.dead) == (3, 4, False)
    host.agent.end(first[1], site_failure=True)
    assert (host.dest.concurrency.window, host.dest.busy, host.dest.dead) == (2, 3, False)
    assert len(host.agent.requests) == 5 and not host.suspended()  # none started, none deferred
    host.agent.end(first[2], site_failure=True)
    assert host.dest.dead
    # the 35 waiting are deferred at once, without a connection, with the reason
    assert len(host.agent.requests) == 5 and not host.dest.queue
    assert host.suspended() == [(421, "4.4.2", "none")] * 35
    waited = [msg for msg in host.messages if id(msg) not in {id(r.msg) for r in first}]
    assert {msg.errors[0].reply.text for msg in waited} == {
        f"delivery temporarily suspended: {REFUSED.reply.text}"
    }
    # the two still under way go on; a failure while dead changes nothing
    host.agent.end(first[3], site_failure=True)
    assert host.dest.dead and host.dest.deaths == 1 and host.dest.busy == 1


def test_a_dead_destination_comes_back_after_minimal_backoff_time() -> None:
    host = Host()
    host.submit(5)
    host.at(10.0)
    for request in host.agent.requests[:3]:
        host.agent.end(request, site_failure=True)  # dead at t = 10, 2 still under way
    for request in host.agent.requests[3:]:
        host.agent.end(request, site_failure=True)  # end while dead: no revival
    assert host.dest.dead and host.dest.busy == 0
    backoff = host.params.minimal_backoff_time
    host.at(10.0 + backoff - 0.001)
    host.submit()  # still dead: deferred without a connection
    assert len(host.agent.requests) == 5 and len(host.suspended()) == 1
    host.at(10.0 + backoff + 0.001)
    # slow open: none under way, so the initial concurrency
    assert not host.dest.dead and host.dest.concurrency.window == 5
    host.submit()
    assert len(host.agent.requests) == 6 and len(host.suspended()) == 1


def test_a_success_under_way_revives_at_once_and_the_old_timer_is_void() -> None:
    host = Host()
    host.submit(5)
    host.at(10.0)
    requests = host.agent.requests
    for request in requests[:3]:
        host.agent.end(request, site_failure=True)  # dead at t = 10, 2 under way
    host.at(20.0)
    host.agent.end(requests[3], site_failure=False)
    # back at once with as many as are under way (one); fail that one: 1/1 is a whole
    # pseudo-cohort, dead again at t = 20
    assert not host.dest.dead and host.dest.concurrency.window == 1
    host.at(30.0)
    host.agent.end(requests[4], site_failure=True)
    assert host.dest.dead and host.dest.deaths == 2
    backoff = host.params.minimal_backoff_time
    host.at(10.0 + backoff + 0.001)  # the first death's timer has run out: it does nothing
    assert host.dest.dead
    host.at(30.0 + backoff + 0.001)
    assert not host.dest.dead


@pytest.mark.parametrize("limit", [0, 2])
def test_no_cohort_limit_never_kills(limit: int) -> None:
    """``failed_cohort_limit = 0`` never declares a destination dead (postconf(5)); a
    limit of 2 needs twice the failures of 1."""
    host = Host(default_destination_concurrency_failed_cohort_limit=limit)
    host.submit(40)
    failures = 0
    while not host.dest.dead and failures < 30:
        host.agent.end(host.in_flight()[0], site_failure=True)
        failures += 1
    if limit == 0:
        assert not host.dest.dead and host.dest.concurrency.window == 1
    else:
        # windows 5, 3, 2, 1, 1: fail_cohorts 1/5 + 1/3 + 1/2 + 1 >= 2 at the fourth
        assert host.dest.dead and failures == 4
