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

    def __init__(self, clock_phase: float = 0.0, **postfix: float) -> None:
        self.params = Postfix(**postfix)
        self.env = simpy.Environment()
        self.recorder = ColumnarRecorder()
        self.agent = Agent()
        ctx = RunContext(self.env, Streams(1), self.recorder)
        p = self.params
        retry = PostfixRetry(
            p.minimal_backoff_time, p.maximal_backoff_time, p.maximal_queue_lifetime
        )
        self.qmgr = QueueManager(
            "out",
            ctx,
            p,
            self.agent.deliver,
            retry=retry,
            bounce_retry=retry,
            clock_phase=clock_phase,
        )
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
    dead = host.dest
    host.at(10.0 + backoff + 0.001)
    # slow open: none under way, so the initial concurrency; with nothing to do the
    # destination is then forgotten (qmgr_queue.c, qmgr_queue_unthrottle_wrapper:
    # "safe to discard this in-core queue when it is empty and ... not dead")
    assert not dead.dead and dead.concurrency.window == 5
    assert DOMAIN not in host.qmgr.destinations
    host.submit()
    assert len(host.agent.requests) == 6 and len(host.suspended()) == 1
    assert host.dest is not dead and host.dest.concurrency.window == 5


def test_a_success_under_way_revives_at_once_and_the_old_timer_is_void() -> None:
    host = Host()
    host.submit(5)
    host.at(10.0)
    requests = host.agent.requests
    for request in requests[:3]:
        host.agent.end(request, site_failure=True)  # dead at t = 10, 2 under way
    host.at(20.0)
    host.agent.end(requests[3], site_failure=False)
    # back at once with as many as are under way, the ending one included (two:
    # qmgr_queue_unthrottle sets window = busy_refcount before qmgr_entry_done)
    assert not host.dest.dead and host.dest.concurrency.window == 2
    host.submit(2)  # one more under way, one waiting
    assert host.dest.busy == 2 and len(host.dest.queue) == 1
    host.at(30.0)
    host.agent.end(requests[4], site_failure=True)  # 2 -> 1, fail_cohorts 1/2
    assert not host.dest.dead and host.dest.concurrency.window == 1
    host.agent.end(host.in_flight()[0], site_failure=True)  # + 1/1: dead again at t = 30
    assert host.dest.dead and host.dest.deaths == 2
    backoff = host.params.minimal_backoff_time
    host.at(10.0 + backoff + 0.001)  # the first death's timer has run out: it does nothing
    assert host.dest.dead
    dead = host.dest
    host.at(30.0 + backoff + 0.001)
    assert not dead.dead and DOMAIN not in host.qmgr.destinations  # revived, then idle


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


def test_the_window_grows_with_the_ending_delivery_still_counted_busy() -> None:
    """qmgr_deliver.c (qmgr_deliver_update) gives positive feedback through
    qmgr_queue_unthrottle before qmgr_entry_done takes the entry off the busy list, so
    the growth test ``window < busy_refcount + init_dest_concurrency`` counts the
    delivery that just ended: one delivery at a time from window 5 reaches 6."""
    host = Host()
    host.submit(1)
    host.at(1.0)
    dest = host.dest
    # one under way, window 5: its success grows the window (5 < 1 + 5); with the
    # ending delivery not counted it would be 5 < 0 + 5, no growth
    host.agent.end(host.in_flight()[0], site_failure=False)
    assert dest.busy == 0 and dest.concurrency.window == 6


def test_an_idle_destination_is_forgotten_with_its_counters() -> None:
    """qmgr_entry.c, qmgr_entry_done: "When the in-core queue for this site is empty
    and when this site is not dead or suspended, discard the in-core queue". Two site
    failures (window 5 -> 3 -> 2, fail_cohorts 1/5 + 1/3) with nothing left: the
    destination goes, and the next mail starts at the initial concurrency with no
    failed cohorts; kept, a third failure would have made it dead (+ 1/2 >= 1)."""
    host = Host()
    host.submit(2)
    host.at(1.0)
    a, b = host.in_flight()
    host.agent.end(a, site_failure=True)
    assert (host.dest.concurrency.window, host.dest.busy) == (3, 1)
    host.agent.end(b, site_failure=True)
    assert DOMAIN not in host.qmgr.destinations
    host.submit(1)
    fresh = host.dest
    assert (fresh.concurrency.window, fresh.concurrency.fail_cohorts) == (5, 0.0)
    host.agent.end(host.in_flight()[0], site_failure=True)
    assert not fresh.dead and host.suspended() == []


def test_a_dead_destination_is_kept_while_idle() -> None:
    """The same rule keeps a dead site (its timer holds it, qmgr_queue.c): new mail
    for it is deferred without a connection until minimal_backoff_time has passed."""
    host = Host()
    host.submit(3)
    host.at(1.0)
    for request in host.in_flight():
        host.agent.end(request, site_failure=True)
    assert host.dest.dead and host.dest.busy == 0 and not host.dest.queue
    host.submit(1)
    assert len(host.agent.requests) == 3 and len(host.suspended()) == 1


@pytest.mark.parametrize(
    ("submitted", "failed", "retried"),
    [
        # deferred at 0.6 s: stamp 0 + 10 = 10, taken by the scan at 10 s (computed from
        # the end of the attempt, 10.6 s, it would wait for the scan at 15 s)
        (0.5, 0.6, 10.0),
        # deferred at 1.7 s: stamp 1 + max(1 - 0, 10) = 11, at most 1 s ahead of the
        # scan at 10 s: taken then, 8.3 s after the failure
        (0.5, 1.7, 10.0),
        # deferred at 2.2 s: stamp 12, more than 1 s ahead at 10 s: the scan at 15 s
        (0.5, 2.2, 15.0),
    ],
)
def test_a_retry_comes_at_the_first_scan_within_a_second_of_its_whole_second_stamp(
    submitted: float, failed: float, retried: float
) -> None:
    """Postfix qmgr_active.c: the deferred file's stamp is event_time() + delay in
    whole seconds (qmgr_active_defer; delay = event_time() - create_time, clamped to
    minimal_backoff_time, qmgr_active_done_3_generic), and a scan skips a file only
    when ``st_mtime > time() + 1`` (qmgr_active_feed). Scans every 5 s, backoff 10 s."""
    host = Host(queue_run_delay=5.0, minimal_backoff_time=10.0, maximal_backoff_time=20.0)
    host.at(submitted)
    host.submit(1)
    host.at(failed)
    host.agent.end(host.in_flight()[0], site_failure=True)
    host.at(retried - 0.001)
    assert len(host.agent.requests) == 1
    host.at(retried + 0.001)
    assert len(host.agent.requests) == 2 and host.agent.requests[1].t_queued == retried


@pytest.mark.parametrize(("phase", "retried"), [(0.0, 10.0), (0.4, 10.0), (0.6, 15.0)])
def test_the_whole_seconds_are_those_of_the_hosts_clock(phase: float, retried: float) -> None:
    """Postfix's qmgr scans every queue_run_delay from its own start (qmgr.c,
    qmgr_deferred_run_event), anywhere within a second, and counts in whole seconds
    of its clock (event_time()). A failure at 1.5 s of simulated time reads 1.5 + phase
    on a host whose clock is ``phase`` past a whole second at time 0: stamped
    floor(1.5 + phase) + 10, taken from 1 s before that, i.e. at the scan of 10 s
    while 1.5 + phase < 2, else at the scan of 15 s."""
    host = Host(phase, queue_run_delay=5.0, minimal_backoff_time=10.0, maximal_backoff_time=20.0)
    host.at(1.0)
    host.submit(1)
    host.at(1.5)
    host.agent.end(host.in_flight()[0], site_failure=True)
    host.at(retried - 0.001)
    assert len(host.agent.requests) == 1
    host.at(retried + 0.001)
    assert len(host.agent.requests) == 2


@pytest.mark.parametrize(("scan", "backoff"), [(5.0, 10.0), (300.0, 300.0)])
def test_a_dead_destination_is_back_for_the_scan_of_the_second_its_timer_ends(
    scan: float, backoff: float
) -> None:
    """Postfix's timers count whole seconds: qmgr_queue_throttle asks for
    ``event_request_timer(qmgr_queue_unthrottle_wrapper, queue, var_min_backoff_time)``
    (qmgr_queue.c), due at ``event_present + delay`` with ``event_present = time()``
    (events.c, event_request_timer), and event_loop runs every timer due by the
    current whole second before it returns; a deferred scan's timer only opens the
    directory (qmgr_scan.c, qmgr_scan_request), qmgr_loop feeds the files afterwards
    (qmgr.c, qmgr_active_feed). A destination that a scan's batch killed at 0.01 s
    past second S is so alive again when the scan of second S + minimal_backoff_time
    feeds the files deferred with it (stamped S + backoff, qmgr_active.c): they are
    tried, not suspended. With scan and backoff both 300 s (Postfix's defaults) that
    scan's own timer was set before the death; the order of the timers does not matter."""
    host = Host(
        queue_run_delay=scan, minimal_backoff_time=backoff, maximal_backoff_time=4 * backoff
    )
    host.at(scan + 0.01)
    host.submit(3)
    for request in host.in_flight():
        host.agent.end(request, site_failure=True)  # windows 5, 3, 2: dead at scan + 0.01
    assert host.dest.dead and host.dest.deaths == 1
    host.at(scan + backoff + 0.001)  # the scan of second scan + backoff has run
    assert not host.dest.dead
    assert len(host.agent.requests) == 6 and host.suspended() == []


@pytest.mark.parametrize(("phase", "died", "back"), [(0.0, 12.7, 22.0), (0.5, 12.7, 23.0)])
def test_a_dead_destinations_timer_ends_at_a_whole_second_of_the_hosts_clock(
    phase: float, died: float, back: float
) -> None:
    """The timer of qmgr_queue_throttle is due at ``time() + minimal_backoff_time`` in
    whole seconds (events.c): a destination dead at 12.7 s on a host whose clock is on
    the whole second comes back at 22 s, 9.3 s later. With the clock 0.5 s past it,
    the death reads 13.2 and the timer ends at 23.0 of the clock; the queue manager
    runs it where its scans run, 0.5 s into that second: 23 s of simulated time."""
    host = Host(phase, queue_run_delay=5.0, minimal_backoff_time=10.0)
    host.at(died)
    host.submit(3)
    for request in host.in_flight():
        host.agent.end(request, site_failure=True)
    dead = host.dest
    assert dead.dead
    host.at(back - 0.001)
    assert dead.dead
    host.at(back + 0.001)
    assert not dead.dead
