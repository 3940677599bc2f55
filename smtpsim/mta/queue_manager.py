"""Postfix's queue manager (qmgr), in simulated time (Postfix qmgr(8), SCHEDULER_README).

- Queues: ``incoming`` (new mail), ``active`` (at most ``qmgr_message_active_limit``
  messages), ``deferred`` (waiting for their retry time). When the active queue has
  room it takes from incoming and from the due part of deferred alternately, so a
  backlog cannot starve new mail (qmgr(8)).
- Each active message's recipients are grouped by next hop into delivery requests of
  at most ``default_destination_recipient_limit`` recipients; destinations are
  served round-robin, each within its concurrency window, all within the transport's
  ``default_process_limit``.
- The deferred queue is scanned every ``queue_run_delay``; a deferred message is due
  ``clamp(age, minimal_backoff_time, maximal_backoff_time)`` after its attempt, age
  counted from its arrival in this queue, all in whole seconds (Postfix
  ``qmgr_active.c``: the queue file's time stamp), and a scan takes it unless that
  time is more than 1 s ahead of the scan's whole second (``qmgr_active_feed``): a
  retry can so come up to about 2 s before the nominal backoff, never a scan late.
  Another retry policy (Exim's rules, a provider-like profile:
  ``smtpsim.mail.retry``) may decide the due time instead, taken at the first scan
  after it.
- After an attempt in which something failed, a message older than
  ``maximal_queue_lifetime`` (``bounce_queue_lifetime`` for bounces) expires (or
  when the retry policy gives up): its remaining recipients are returned to the
  sender with their last error.
- Concurrency per destination starts at ``initial_destination_concurrency`` and moves
  with the feedback of Postfix 2.5's scheduler (``smtpsim.mta.concurrency``: +1/-1 per
  delivery by default, or less-than-1 feedback such as ``1/concurrency``); a
  pseudo-cohort of consecutive site failures (connect or handshake) makes the
  destination dead for ``minimal_backoff_time``, or until a delivery still under way
  succeeds, during which its mail is deferred without a connection ("delivery
  temporarily suspended", Postfix SCHEDULER_README, qmgr_queue.c). Its timer, as
  every qmgr timer, ends at a whole second of the host's clock (``events.c``), and
  runs before a scan of that second feeds its files (``_revival_time``). A destination
  with nothing waiting, nothing under way and not dead is forgotten with its window
  and counters (``qmgr_entry.c``): the next mail for it starts afresh.
- A message that has crossed more than ``hopcount_limit`` hops bounces with 5.4.6.
- A crash stops everything; the queue is either kept (at restart the messages that
  were active or waiting go back to incoming, deferred ones keep their times) or
  lost (every recipient it held is recorded ``lost``).
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING

from ..mail.retry import RetryPolicy
from ..protocol import Reply
from ..sim import RunContext, call_later
from ..sim.dsn import DELAY, SUCCESS
from ..sim.trace import BOUNCE, BOUNCED, DEFERRED, DELIVERED, EXPIRED, LOST
from .concurrency import ConcurrencyWindow, WindowRules
from .message import Deferral, QueuedMessage, make_bounce, make_notice

if TYPE_CHECKING:  # types only (docs/architecture.md, section 2)
    import simpy

    from ..scenario import Postfix

__all__ = ["DeliveryRequest", "Destination", "QueueManager"]

_LOOP = Reply(554, "5.4.6", "Too many hops: mail forwarding loop")
_SUSPENDED = "delivery temporarily suspended: "


class DeliveryRequest:
    """Recipients of one message for one next hop: one delivery agent's job."""

    __slots__ = ("dest", "idx", "msg", "t_queued")

    def __init__(self, msg: QueuedMessage, dest: Destination, idx: list[int], t_queued: float):
        self.msg = msg
        self.dest = dest
        self.idx = idx
        self.t_queued = t_queued


class Destination:
    """A next hop (a domain, or ``[host]`` for a relay host) and its scheduling state:
    its waiting requests, how many are under way (``busy``) and its concurrency
    window (``smtpsim.mta.concurrency``)."""

    __slots__ = ("busy", "concurrency", "deaths", "last_reason", "name", "queue", "revive_at")

    def __init__(self, name: str, rules: WindowRules) -> None:
        self.name = name
        self.queue: deque[DeliveryRequest] = deque()
        self.busy = 0
        self.concurrency = ConcurrencyWindow(rules)
        self.deaths = 0  # times it was declared dead: a revival timer names its death
        self.last_reason: Deferral | None = None  # why it was declared dead (hop status)
        self.revive_at = 0.0  # when its dead-destination timer ends (while dead)

    @property
    def dead(self) -> bool:
        return self.concurrency.dead


class QueueManager:
    """The queue of one host. ``deliver(request)`` is the delivery agent's entry
    point; it calls ``request_done`` when the request's attempt is over."""

    def __init__(
        self,
        key: str,
        ctx: RunContext,
        params: Postfix,
        deliver: Callable[[DeliveryRequest], None],
        *,
        retry: RetryPolicy,
        bounce_retry: RetryPolicy,
        local_domains: frozenset[str] = frozenset(),
        relayhost: str | None = None,
        clock_phase: float = 0.0,
    ) -> None:
        """``key`` names the host; ``deliver`` is its delivery agent's entry point;
        ``retry`` and ``bounce_retry`` decide when to try again or give up
        (``smtpsim.mail.retry``: Postfix's formula by default, with
        ``bounce_queue_lifetime`` for bounces); ``relayhost`` is ``[host]``.

        ``clock_phase`` (in [0, 1)) is what the host's clock reads at simulated time 0,
        past a whole second. Postfix's qmgr works in whole seconds (``event_time()``)
        and runs its deferred-queue scans every ``queue_run_delay`` from its own start
        (``qmgr.c``, ``qmgr_deferred_run_event``), which falls anywhere within a
        second: the phase decides how early a scan takes a file (up to 1 s before its
        stamp, counted in the scan's whole second). The retry policy is asked on this
        clock, and its answer read back in simulated time."""
        self.key = key
        self.ctx = ctx
        self.env = ctx.env
        self.recorder = ctx.recorder
        # its levels, by number (Recorder.level_series)
        self._active_level = self.recorder.level_series(key, "active")
        self._deferred_level = self.recorder.level_series(key, "deferred")
        self.p = params
        self.deliver = deliver
        self.incoming: deque[QueuedMessage] = deque()
        self.due: deque[QueuedMessage] = deque()
        self.deferred: list[tuple[float, int, QueuedMessage]] = []
        self.active = 0
        self.transport_busy = 0
        self.destinations: dict[str, Destination] = {}
        self.window_rules = WindowRules.from_params(params)
        self.blocked: deque[Destination] = deque()  # have work, no transport process
        self._seq = 0
        self._take_incoming = True
        self._admitting = False
        self.paused = False  # the host is down after a crash
        self.active_msgs: set[QueuedMessage] = set()
        self._held: list[QueuedMessage] = []  # active at a crash, back at the restart
        self.local_domains = local_domains
        self.relayhost = relayhost
        self.retry = retry
        self.bounce_retry = bounce_retry
        self.on_trap: Callable[[str, float], None] | None = None  # spamtrap reports
        # the host's access service (POP3/IMAP) hears of each delivery into a mailbox
        self.on_mailbox: Callable[[int, str, float], None] | None = None
        self.clock_phase = clock_phase
        self.env.process(self._scanner())

    # --- arrivals ----------------------------------------------------------------------

    def receive(self, msg: QueuedMessage, now: float) -> None:
        """A message arrived (from smtpd, or a bounce made here): to incoming."""
        self.incoming.append(msg)
        self._admit(now)

    def _admit(self, now: float) -> None:
        # Activating a message can finish it at once (a dead destination, local mail)
        # and so call _admit again: the outer loop does that work, not a nested one,
        # so that the stack stays flat however many messages are waiting.
        if self._admitting or self.paused:
            return
        self._admitting = True
        try:
            self._admit_loop(now)
        finally:
            self._admitting = False

    def _admit_loop(self, now: float) -> None:
        limit = self.p.qmgr_message_active_limit
        while self.active < limit and (self.incoming or self.due):
            take_incoming = (
                self._take_incoming if (self.incoming and self.due) else bool(self.incoming)
            )
            self._take_incoming = not take_incoming
            if take_incoming:
                msg = self.incoming.popleft()
            else:
                msg = self.due.popleft()
                self._level(now, self._deferred_level, len(self.deferred) + len(self.due))
            self._activate(msg, now)

    # --- the active queue ----------------------------------------------------------------

    def _activate(self, msg: QueuedMessage, now: float) -> None:
        self.active += 1
        self.active_msgs.add(msg)
        self._level(now, self._active_level, self.active)
        msg.t_active = now
        msg.bounced = []
        msg.deferred = []
        msg.succeeded = []
        pending, msg.pending = msg.pending, []
        if msg.hops > self.p.hopcount_limit:
            msg.bounced = [(i, _LOOP) for i in pending]
            for i in pending:
                self._attempt_row(msg, i, now, BOUNCE, _LOOP, "none", "qmgr")
            self._pass_done(msg, now)
            return
        groups: dict[str, list[int]] = {}
        local = self.local_domains
        relay = self.relayhost
        rcpts = msg.rcpts
        for i in pending:
            domain = rcpts[i].rpartition("@")[2].lower()
            if domain in local or not domain:
                self._mailbox(msg, i, now)
                continue
            nexthop = relay if relay is not None else domain
            group = groups.get(nexthop)  # no list made for a next hop already seen
            if group is None:
                groups[nexthop] = [i]
            else:
                group.append(i)
        limit = self.p.default_destination_recipient_limit
        touched = []
        destinations = self.destinations
        for nexthop, idx in groups.items():
            dest = destinations.get(nexthop)
            if dest is None:
                dest = destinations[nexthop] = Destination(nexthop, self.window_rules)
            if len(idx) <= limit:  # the usual case: one request, no slice
                dest.queue.append(DeliveryRequest(msg, dest, idx, now))
                msg.outstanding += 1
            else:
                for start in range(0, len(idx), limit):
                    dest.queue.append(DeliveryRequest(msg, dest, idx[start : start + limit], now))
                    msg.outstanding += 1
            touched.append(dest)
        if msg.outstanding == 0:
            self._pass_done(msg, now)
            return
        for dest in touched:
            self._pump(dest, now)

    def _mailbox(self, msg: QueuedMessage, i: int, now: float) -> None:
        """Final delivery to a local mailbox (Postfix's local/virtual transport). A
        spamtrap's delivery is reported against the client that brought it."""
        self.recorder.final(msg.rows[i], DELIVERED, now, "2.0.0", "delivered to mailbox")
        if msg.rcpt_dsn is not None and msg.wants(i, "SUCCESS"):
            msg.succeeded.append((i, "delivered"))  # RFC 3461 section 5.2.2.1
        if self.on_mailbox is not None:
            self.on_mailbox(msg.rows[i], msg.rcpts[i], now)
        if self.on_trap is not None and msg.rcpts[i].startswith("trap") and msg.client_ip:
            self.on_trap(msg.client_ip, now)

    def _pump(self, dest: Destination, now: float) -> None:
        """Start as many of ``dest``'s requests as its window and the transport allow."""
        if self.paused:
            return
        if dest.dead:
            self._suspend(dest, now)
            return
        process_limit = self.p.default_process_limit
        queue = dest.queue
        window = dest.concurrency
        while queue and dest.busy < window.window:
            if self.transport_busy >= process_limit:
                if dest not in self.blocked:
                    self.blocked.append(dest)
                return
            request = queue.popleft()
            dest.busy += 1
            self.transport_busy += 1
            self.deliver(request)

    def _suspend(self, dest: Destination, now: float) -> None:
        """A dead destination: defer its queued mail without connecting, with the
        reason it died (Postfix SCHEDULER_README; ``qmgr_queue.c``, ``qmgr_deliver.c``'s
        ``qmgr_defer_todo``)."""
        last = dest.last_reason
        reason = _SUSPENDED + (last.reason if last is not None else "destination dead")
        why = Deferral(
            Reply(
                last.reply.code if last else 451, last.reply.enhanced if last else "4.4.1", reason
            ),
            last.dsn if last else "4.4.1",
        )
        while dest.queue:
            request = dest.queue.popleft()
            msg = request.msg
            for i in request.idx:
                msg.errors[i] = why
                msg.deferred.append(i)
                self._attempt_row(msg, i, now, DEFERRED, why.reply, "none", "qmgr", why.dsn)
            self._request_finished(msg, now)

    def request_done(self, request: DeliveryRequest, site_failure: bool, now: float) -> None:
        """The delivery agent finished ``request``; per-recipient results are already
        in the message (``bounced``, ``deferred``, ``errors``) or recorded as final.
        ``site_failure``: the site could not be talked to (negative concurrency
        feedback, ``smtpsim.mta.concurrency``); otherwise positive feedback."""
        dest = request.dest
        # The feedback first, with this request still counted busy: qmgr_deliver.c's
        # qmgr_deliver_update calls qmgr_queue_unthrottle (whose growth test is
        # ``window < busy_refcount + init_dest_concurrency``) before qmgr_entry_done
        # takes the entry off the busy list.
        if site_failure:
            if dest.concurrency.negative():
                self._died(dest)
        else:
            dest.concurrency.positive(dest.busy)
        dest.busy -= 1
        self.transport_busy -= 1
        self._request_finished(request.msg, now)
        self._pump(dest, now)
        self._forget_if_idle(dest)
        blocked = self.blocked
        for _ in range(len(blocked)):
            if self.transport_busy >= self.p.default_process_limit:
                break
            waiting = blocked.popleft()
            self._pump(waiting, now)

    def _request_finished(self, msg: QueuedMessage, now: float) -> None:
        msg.outstanding -= 1
        if msg.outstanding == 0:
            self._pass_done(msg, now)

    def _pass_done(self, msg: QueuedMessage, now: float) -> None:
        """The message's active pass is over (``qmgr_active_done``)."""
        self.active -= 1
        self.active_msgs.discard(msg)
        self._level(now, self._active_level, self.active)
        recorder = self.recorder
        failed = [i for i, _ in msg.bounced]
        warn = False
        for i, reply in msg.bounced:
            recorder.final(msg.rows[i], BOUNCED, now, reply.dsn, str(reply))
        if msg.deferred:
            if msg.first_failure is None:
                msg.first_failure = now
            retry = self.bounce_retry if msg.sender == "" else self.retry
            phase = self.clock_phase  # the policy counts on the host's clock
            due = retry.next_attempt(msg.created + phase, msg.first_failure + phase, now + phase)
            if due is None:  # given up: returned to the sender with the last error
                for i in msg.deferred:
                    why = msg.errors[i]
                    recorder.final(msg.rows[i], EXPIRED, now, why.dsn, str(why.reply))
                failed += msg.deferred
            else:
                warn = self._warning_due(msg, now)
                msg.pending = msg.deferred
                self._seq += 1
                # the heap holds when a scan takes it (PostfixRetry: up to 1 s before
                # the whole-second stamp, qmgr_active_feed), in simulated time
                ready = retry.scan_takes_from(due) - phase
                heapq.heappush(self.deferred, (ready, self._seq, msg))
                self._level(now, self._deferred_level, len(self.deferred) + len(self.due))
        # Postfix's order (qmgr_active.c): the success notice (trace flush) before the
        # delay warning (qmgr_active_done_25_generic)
        if msg.succeeded:
            self._notice(msg, [i for i, _ in msg.succeeded], SUCCESS, now)
            msg.succeeded = []
        if warn:
            self._notice(msg, [i for i in msg.deferred if msg.wants(i, "DELAY")], DELAY, now)
        if failed:
            bounce = make_bounce(msg, failed, now, recorder, self.key)
            if bounce is not None:
                self.receive(bounce, now)
        self._admit(now)

    def _warning_due(self, msg: QueuedMessage, now: float) -> bool:
        """Whether this pass, which leaves recipients deferred and did not expire the
        message, sends its delay warning: once, when ``delay_warning_time`` (0: never)
        has passed since it arrived (Postfix ``qmgr_active_done_25_generic``:
        ``event_time() >= warn_time - 1``, warn_time being the whole-second arrival
        plus delay_warning_time, written by cleanup; the check comes after an attempt,
        so at the end of the first pass, started by a deferred-queue scan, after it).
        Each host counts from the message's arrival in its own queue; cleanup writes no
        warn time for a null sender (``cleanup_envelope.c``): bounces get none."""
        warn = self.p.delay_warning_time
        if warn <= 0 or msg.warned or msg.sender == "":
            return False
        phase = self.clock_phase
        if int(now + phase) < int(msg.created + phase) + warn - 1:
            return False
        msg.warned = True
        return True

    def _notice(self, msg: QueuedMessage, idx: list[int], kind: str, now: float) -> None:
        """A delay warning or success notice to ``msg``'s sender, into this queue."""
        notice = make_notice(msg, idx, kind, now, self.recorder, self.key)
        if notice is not None:
            self.receive(notice, now)

    # --- crash and restart ---------------------------------------------------------------------

    def crash(self, lose: bool, now: float) -> None:
        """The host stops. Deliveries under way are abandoned (the delivery agent
        ignores their ends); with ``lose`` every recipient the host held is lost."""
        self.paused = True
        held = list(self.active_msgs) + list(self.incoming) + list(self.due)
        for dest in self.destinations.values():
            dest.queue.clear()
            dest.busy = 0
        self.blocked.clear()
        self.incoming.clear()
        self.due.clear()
        self.active_msgs.clear()
        self.active = self.transport_busy = 0
        if lose:
            self.deferred.clear()
            recorder = self.recorder
            reason = f"lost in the crash of {self.key}"
            for row in recorder.in_custody(self.key):
                recorder.final(row, LOST, now, "", reason)
            held = []
        self._held = held
        self._level(now, self._active_level, 0)
        self._level(now, self._deferred_level, len(self.deferred))

    def restart(self, now: float) -> None:
        """Back up: the messages that were active or waiting go to incoming."""
        self.paused = False
        held, self._held = self._held, []
        recorder, key = self.recorder, self.key
        for msg in held:
            msg.pending = [i for i, row in enumerate(msg.rows) if recorder.holds(row, key)]
            msg.outstanding = 0
            msg.bounced, msg.deferred = [], []
            if msg.pending:
                self.incoming.append(msg)
        self._admit(now)

    # --- the deferred queue ----------------------------------------------------------------

    def _scanner(self) -> Generator[simpy.Event, None, None]:
        """Scan the deferred queue every ``queue_run_delay`` (from t = 0)."""
        env = self.env
        delay = self.p.queue_run_delay
        while True:
            yield env.timeout(delay)
            now = env.now
            self._revive_due(now)
            heap = self.deferred
            moved = False
            while heap and heap[0][0] <= now:
                self.due.append(heapq.heappop(heap)[2])
                moved = True
            if moved:
                self._admit(now)

    # --- dead destinations (qmgr_queue.c: qmgr_queue_throttle, qmgr_queue_unthrottle) -----

    def _died(self, dest: Destination) -> None:
        """``dest`` was just declared dead: it comes back when its timer ends
        (``_revival_time``) unless a delivery still under way succeeds first (``_pump``
        defers its waiting mail meanwhile)."""
        dest.deaths += 1
        now = self.env.now
        dest.revive_at = self._revival_time(now)
        call_later(self.env, dest.revive_at - now, self._revive, dest, dest.deaths)

    def _revival_time(self, now: float) -> float:
        """When the timer of a destination that died at ``now`` ends, in simulated time.

        ``qmgr_queue_throttle`` (qmgr_queue.c) asks for ``event_request_timer(...,
        var_min_backoff_time)``, due at ``event_present + delay`` where
        ``event_present`` is ``time()``: whole seconds of the host's clock (events.c).
        ``event_loop`` runs a due timer at its first pass from that second on; here
        that is where the scans run, ``clock_phase`` into the second. A death 0.7 s
        into a second so ends up to 1 s before ``now + minimal_backoff_time``.

        What matters most is the order within that second: the deferred scan's timer
        only opens the queue directory (qmgr_scan.c, ``qmgr_scan_request``), and
        qmgr_loop feeds its files into the active queue after event_loop has run every
        timer due (qmgr.c). A destination killed by a scan's batch just after the
        scan of second S is so alive again for the files that scan S +
        ``minimal_backoff_time`` feeds (they were stamped S + backoff,
        ``qmgr_active.c``), whichever timer was set first: ``_scanner`` calls
        ``_revive_due`` before it takes the due files."""
        phase = self.clock_phase
        when = math.floor(now + phase) + self.p.minimal_backoff_time  # on the host's clock
        return max(now, math.ceil(when - phase))

    def _revive_due(self, now: float) -> None:
        """Revive every dead destination whose timer ends by ``now`` (a scan is about
        to feed its files: Postfix runs the due timers first, ``_revival_time``)."""
        for dest in [d for d in self.destinations.values() if d.dead and d.revive_at <= now]:
            self._revive(dest, dest.deaths)

    def _revive(self, dest: Destination, death: int) -> None:
        """The dead destination's timer ran out: slow open (Postfix SCHEDULER_README,
        ``qmgr_queue.c``). The timer of a death that a success already ended does nothing."""
        if not dest.dead or death != dest.deaths:
            return
        dest.concurrency.revive(dest.busy)
        self._pump(dest, self.env.now)
        self._forget_if_idle(dest)  # qmgr_queue_unthrottle_wrapper: done when empty

    def _forget_if_idle(self, dest: Destination) -> None:
        """Discard an idle destination, with its window and failure counters, as
        Postfix discards the in-core queue of a site (``qmgr_entry.c``,
        ``qmgr_entry_done``: "When the in-core queue for this site is empty and when
        this site is not dead or suspended, discard the in-core queue";
        ``qmgr_queue.c``, ``qmgr_queue_unthrottle_wrapper``, the same after a dead
        site's timer). The next mail for it starts afresh at
        ``initial_destination_concurrency``. A dead destination stays until its
        timer or a success revives it."""
        if dest.queue or dest.busy or dest.dead:
            return
        if self.destinations.get(dest.name) is dest:
            del self.destinations[dest.name]

    # --- records -----------------------------------------------------------------------------

    def _attempt_row(
        self,
        msg: QueuedMessage,
        i: int,
        now: float,
        outcome: str,
        reply: Reply,
        peer: str,
        phase: str,
        dsn: str | None = None,
    ) -> None:
        self.recorder.attempt(
            msg.rows[i],
            host=self.key,
            peer=peer,
            t_start=now,
            t_end=now,
            outcome=outcome,
            code=reply.code,
            dsn=dsn or reply.dsn,
            phase=phase,
            queue_s=now - msg.created,
            conn_s=0.0,
            xfer_s=0.0,
        )

    def _level(self, now: float, series: int, value: int) -> None:
        if self.ctx.record_levels:
            self.recorder.level(now, series, value)
