"""A mailbox host's access service (POP3, RFC 1939, or IMAP, RFC 9051) and the mail
clients of its users, in simulated time: where "delivered" becomes "read".

- The service serves at most ``capacity`` fetch sessions at once (a SimPy resource,
  first come first served); a session holds its slot for the processing time (times
  the factors of ``access_slow`` incidents in progress). A session fetches the
  messages that were in the mailbox when the service took it up; they are fetched
  when it ends. Mail delivered meanwhile waits for the next session.
- A polling client checks on a renewal process: its intervals are draws of its
  population's distribution; its first check falls at a random phase (a uniform
  share of a first interval; for exponential intervals, memoryless, a plain draw).
  It runs one check at a time: checks that fall due during a session are skipped.
  Checks that would find the mailbox empty change nothing for any message, so they
  are not simulated: a client's schedule is advanced over them when mail arrives
  (same draws, same times). Their load on the service is therefore not modelled;
  ``capacity`` and ``processing`` describe the service as fetches see it.
- An IDLE client (RFC 2177) is told of each delivery after a push delay drawn for
  it, and fetches at once (everything new, as a client synchronising its mailbox
  does); mail pushed during a session is fetched right after it.
- While the service is down (``access_down``) a session fails: nothing is fetched.
  A polling client waits for its next check; an IDLE client reconnects after its
  ``reconnect`` delay and then fetches (a reconnecting client synchronises the
  mailbox, RFC 9051 section 6.3.2, whatever it was told). A session under way when
  the service goes down is cut then (its client sees the connection drop): its
  messages stay new.

Every mailbox belongs to one client population, chosen from a hash of its address (so
a user keeps its client whatever else changes). Random draws come from one stream per
population (``access.<host>.clients[<i>]``), the service's processing from
``access.<host>.processing``: a run stays deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

if TYPE_CHECKING:
    from ..sim.trace import Recorder

__all__ = ["AccessService", "ClientKind"]

Draw = Callable[[], float]


@dataclass(frozen=True)
class ClientKind:
    """One population of mail clients, live: its share, and either its polling
    interval (``poll``) with the draw of its first check (``first``), or its push
    delay (``push``) and ``reconnect`` delay (IDLE)."""

    share: float
    poll: Draw | None
    first: Draw | None
    push: Draw | None
    reconnect: float


class _Mailbox:
    """One user's mailbox as its client sees it: the rows delivered and not yet
    fetched with the time the client hears of each (IDLE), and its next check."""

    __slots__ = ("active", "address", "kind", "new", "next_check", "process", "waiting_until")

    def __init__(self, address: str, kind: ClientKind) -> None:
        self.address = address
        self.kind = kind
        self.new: list[tuple[int, float]] = []  # (row, when the client is told)
        self.next_check: float | None = None  # polling: None until first needed
        self.active = False  # its client process is running
        self.process: simpy.Process | None = None
        # IDLE: the notice the client is waiting for (None while it is not waiting)
        self.waiting_until: float | None = None


class AccessService:
    """The access service of host ``key`` (see the module's docstring).
    ``delivered`` is the queue manager's ``on_mailbox`` hook."""

    def __init__(
        self,
        key: str,
        env: simpy.Environment,
        recorder: Recorder,
        *,
        protocol: str,
        capacity: int,
        processing: Draw,
        kinds: Sequence[ClientKind],
    ) -> None:
        self.key = key
        self.env = env
        self.recorder = recorder
        self.protocol = protocol
        self.slots = simpy.Resource(env, capacity)
        self.processing = processing
        self.kinds = tuple(kinds)
        self._edges = _cumulative([k.share for k in self.kinds])
        self.mailboxes: dict[str, _Mailbox] = {}
        self.outages = 0  # access_down incidents in progress
        self.epoch = 0  # incremented when the service goes down: sessions under way fail
        self._cut = env.event()  # fires when the service goes down: cuts the sessions
        self.factors: list[float] = []  # access_slow incidents in progress
        self.sessions = 0  # completed fetch sessions
        self.failed = 0  # sessions that found the service down, or were cut

    # --- incidents ---------------------------------------------------------------------

    def go_down(self) -> None:
        self.outages += 1
        self.epoch += 1
        cut, self._cut = self._cut, self.env.event()
        cut.succeed()

    def come_up(self) -> None:
        self.outages -= 1

    @property
    def down(self) -> bool:
        return self.outages > 0

    # --- deliveries ----------------------------------------------------------------------

    def delivered(self, row: int, address: str, now: float) -> None:
        """Mail for ``address`` landed in its mailbox (recipient ``row``)."""
        address = address.lower()
        box = self.mailboxes.get(address)
        if box is None:
            box = self.mailboxes[address] = _Mailbox(address, self._kind_of(address))
        kind = box.kind
        told = now if kind.push is None else now + kind.push()
        box.new.append((row, told))
        if not box.active:
            box.active = True
            client = self._poller(box) if kind.poll is not None else self._idler(box)
            box.process = self.env.process(client)
        elif box.waiting_until is not None and told < box.waiting_until:
            # an IDLE client waiting for a later notice hears of this one first
            box.waiting_until = None
            assert box.process is not None
            box.process.interrupt()

    def _kind_of(self, address: str) -> ClientKind:
        """The user's client population: a stable hash of its address, on the
        cumulative shares."""
        digest = hashlib.blake2b(f"{self.key}/{address}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "big") / 2.0**64
        for kind, edge in zip(self.kinds, self._edges, strict=True):
            if u < edge:
                return kind
        return self.kinds[-1]

    # --- clients -------------------------------------------------------------------------

    def _poller(self, box: _Mailbox) -> Generator[simpy.Event, object, None]:
        kind = box.kind
        interval = kind.poll
        assert interval is not None and kind.first is not None
        env = self.env
        if box.next_check is None:
            box.next_check = kind.first()
        while box.new:
            # skip the checks that fell while the mailbox had nothing new
            while box.next_check <= env.now:
                box.next_check += interval()
            yield env.timeout(box.next_check - env.now)
            yield from self._session(box)
        box.active = False

    def _idler(self, box: _Mailbox) -> Generator[simpy.Event, object, None]:
        env = self.env
        reconnect = box.kind.reconnect
        while box.new:
            told = min(t for _, t in box.new)
            if told > env.now:
                box.waiting_until = told
                try:
                    yield env.timeout(told - env.now)
                except simpy.Interrupt:
                    continue  # an earlier notice arrived: wait for that one
                box.waiting_until = None
            fetched = yield from self._session(box)
            while not fetched and box.new:  # connection lost: reconnect, then sync
                yield env.timeout(reconnect)
                fetched = yield from self._session(box)
        box.active = False

    def _session(self, box: _Mailbox) -> Generator[simpy.Event, object, bool]:
        """One fetch session for ``box``: whether it fetched (it fails when the service
        is down, or goes down before it ends)."""
        env = self.env
        if self.down:
            self.failed += 1
            return False
        with self.slots.request() as request:
            yield request
            epoch = self.epoch
            if self.down:
                self.failed += 1
                return False
            taken, box.new = box.new, []
            seconds = self.processing()
            for factor in self.factors:
                seconds *= factor
            if seconds > 0:  # the session, unless an outage cuts it first
                yield env.timeout(seconds) | self._cut
            if self.epoch != epoch:  # cut by an outage: the messages are still new
                box.new = taken + box.new
                self.failed += 1
                return False
        now = env.now
        for row, _ in taken:
            self.recorder.fetched(row, now)
        self.sessions += 1
        return True


def _cumulative(shares: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for share in shares:
        total += share
        out.append(total)
    out[-1] = 1.0  # shares add up to 1 (the scenario's check): no gap from rounding
    return out
