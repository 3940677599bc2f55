"""What the runtime reports while it runs: the recorder interface.

The runtime (``net``, ``mta``, ``workload``) calls these methods; ``smtpsim.metrics``
implements them with columnar buffers and turns them into tables after the run.
The runtime never builds tables itself and never imports pandas.

``Recorder`` is a base class, not a ``typing.Protocol``: compiled by mypyc, a call
through a base class of the implementation is a direct call into the subclass's
method (through its vtable, the keywords matched at compile time), where a call
through a Protocol is a generic Python call that matches its keyword arguments one
by one at run time (1 microsecond for ``attempt``'s 14, once per recipient and hop:
issue 10). An implementation subclasses it.
"""

from __future__ import annotations

__all__ = ["OUTCOMES", "STATUSES", "Recorder"]

# Final statuses of a recipient ("pending" until one of the others is recorded).
PENDING, DELIVERED, BOUNCED, EXPIRED, LOST = "pending", "delivered", "bounced", "expired", "lost"
# A message its author's mail client could not submit (issue 13): it never entered the
# mail system; ``reply`` says why (the reply the client got, or its connection failure).
UNSENT = "unsent"
STATUSES = (PENDING, DELIVERED, BOUNCED, EXPIRED, LOST, UNSENT)

# Outcomes of one delivery attempt for one recipient.
SENT, DEFERRED, BOUNCE = "sent", "deferred", "bounced"
OUTCOMES = (SENT, DEFERRED, BOUNCE)


class Recorder:
    """The recorder interface: each method is what the runtime reports (the
    implementation: ``smtpsim.metrics.ColumnarRecorder``)."""

    def message(
        self, sender: str, size: int, n_rcpt: int, t: float, origin: str, notice: str = ""
    ) -> int:
        """A new message entered the network; returns its ``msg_id``. ``notice`` is
        the kind of a delivery status notification (``smtpsim.sim.dsn.NOTICE_KINDS``;
        its origin is ``bounce``), ``""`` for a flow's message."""
        raise NotImplementedError

    def recipient(self, msg_id: int, address: str, domain: str, host: str) -> int:
        """A recipient of ``msg_id``, now in ``host``'s queue; returns its row."""
        raise NotImplementedError

    def final(self, row: int, status: str, t: float, dsn: str, reply: str) -> None:
        """The recipient reached a final status."""
        raise NotImplementedError

    def hop(self, row: int, host: str) -> None:
        """The recipient crossed one more SMTP hop: it is now in ``host``'s queue."""
        raise NotImplementedError

    def in_custody(self, host: str) -> list[int]:
        """The rows still pending in ``host``'s queue (a crash that loses it loses them)."""
        raise NotImplementedError

    def holds(self, row: int, host: str) -> bool:
        """Whether the row is pending in ``host``'s queue."""
        raise NotImplementedError

    def attempt(
        self,
        row: int,
        *,
        host: str,
        peer: str,
        t_start: float,
        t_end: float,
        outcome: str,
        code: int,
        dsn: str,
        phase: str,
        queue_s: float,
        conn_s: float,
        xfer_s: float,
        conn_use: int = 0,
        conn_error: str = "",
    ) -> None:
        """One delivery attempt for the recipient of ``row`` (returned by ``recipient``).

        ``conn_use``: which transaction of its connection the session was (1 a new
        connection, 2 and up a cached one: Postfix's ``conn_use``), 0 without a
        session; ``conn_error``: for an attempt that reached no server, the client's
        own words for the last connection failure (``connect to HOST[IP]:25:
        Connection refused``, smtp_connect.c)."""
        raise NotImplementedError

    def fetched(self, row: int, t: float) -> None:
        """The delivered recipient of ``row`` was fetched by its user's mail client."""
        raise NotImplementedError

    def level_series(self, host: str, metric: str) -> int:
        """The number of a level of ``host`` that ``level`` then reports (``metric``:
        ``active`` or ``deferred``, its queues; ``connections``, its open connections),
        the same for the same pair. A component asks once, when it starts: a change
        is then reported with no look-up by name (there are several per session)."""
        raise NotImplementedError

    def level(self, t: float, series: int, value: int) -> None:
        """The level ``series`` (from ``level_series``) changed to ``value`` at ``t``."""
        raise NotImplementedError

    def tls_session(
        self,
        t: float,
        host: str,
        peer: str,
        domain: str,
        policy_type: str,
        result: str,
        level: str,
        encrypted: bool,
        attacked: bool,
        sent: int,
        blocked: int,
    ) -> None:
        """A session reached its TLS verdict (runs that model TLS between servers)."""
        raise NotImplementedError
