"""Messages in a host's queue, and the bounces (DSNs) made from them."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from ..mail import domain_of
from ..protocol import Reply
from ..sim.dsn import bounce_size
from ..sim.trace import Recorder

__all__ = ["Deferral", "QueuedMessage", "Receiver", "hand_over", "make_bounce"]


@dataclass(frozen=True, slots=True)
class Deferral:
    """Why a recipient (or a whole destination) must wait: the reply that said so,
    the DSN status Postfix reports for it, and the server that greeted with it.

    The status is the reply's own enhanced code, except after a 5xx greeting that
    ``smtp_skip_5xx_greeting`` turned into a soft error: Postfix's SMTP client then
    changes the first digit of the DSN status to 4 and keeps the server's text
    (``smtp_proto.c``, ``smtp_helo``), so the maillog says ``dsn=4.7.1,
    status=deferred (host mx[ip] refused to talk to me: 554 5.7.1 ...)`` and an
    expiry reports 4.7.1. ``greeted_by`` (``name[ip]``) is set for a greeting or EHLO
    refusal, whose reason Postfix words "host ... refused to talk to me: REPLY"."""

    reply: Reply
    dsn: str
    greeted_by: str | None = None

    @classmethod
    def of(cls, reply: Reply) -> Deferral:
        """A deferral with the reply's own status (connection failures, 4xx replies)."""
        return cls(reply, reply.dsn)

    @property
    def reason(self) -> str:
        """The reason as Postfix words it (what a dead destination's mail is deferred
        with, after "delivery temporarily suspended: ")."""
        if self.greeted_by is not None:
            return f"host {self.greeted_by} refused to talk to me: {self.reply}"
        return self.reply.text


class QueuedMessage:
    """One message in one host's queue (Postfix: one queue file).

    ``rcpts`` and ``rows`` are parallel: the addresses and their recorder rows.
    ``pending`` holds the indices still to deliver; ``errors`` the last deferral
    reason per index (the reason an expiry bounce reports, Postfix qmgr_active.c).
    ``created`` is when it entered this host's queue: Postfix's backoff and
    lifetime are counted from it.
    """

    __slots__ = (
        "bounced",
        "client_ip",
        "created",
        "deferred",
        "errors",
        "first_failure",
        "hops",
        "msg_id",
        "origin",
        "outstanding",
        "pending",
        "queue_id",
        "rcpts",
        "rows",
        "sender",
        "size",
        "t_active",
    )

    def __init__(
        self,
        msg_id: int,
        sender: str,
        size: int,
        rcpts: list[str],
        rows: list[int],
        created: float,
        hops: int,
        origin: str,
    ) -> None:
        self.msg_id = msg_id
        self.sender = sender
        self.size = size
        self.rcpts = rcpts
        self.rows = rows
        self.created = created
        self.hops = hops
        self.origin = origin
        self.pending: list[int] = list(range(len(rcpts)))
        self.errors: dict[int, Deferral] = {}
        self.outstanding = 0  # delivery requests of this active pass still running
        self.bounced: list[tuple[int, Reply]] = []  # failed in this pass
        self.deferred: list[int] = []  # to retry after this pass
        self.t_active = created
        self.queue_id = ""
        self.first_failure: float | None = None  # Exim's retry cutoffs count from it
        self.client_ip = ""  # the host that handed it over (spamtrap reports name it)


class Receiver(Protocol):
    """What a message is handed over to: a host's queue (``MailHost``), by its key."""

    key: str

    def receive(self, msg: QueuedMessage, now: float) -> None:
        """Put ``msg`` in the queue, as arrived at ``now``."""
        ...


def hand_over(
    msg: QueuedMessage,
    sent: Iterable[int],
    accepted: Collection[str],
    queue_id: str,
    client_ip: str,
    server: Receiver,
    recorder: Recorder,
    now: float,
) -> None:
    """The server took ``msg`` for the recipients of ``sent`` (indices into
    ``msg.rcpts``) that are in ``accepted``: they cross one more hop and sit in its
    queue as a new queue file, with the queue id its ``250 ... queued as`` named and
    the client that handed it over. One function for every hand-over (a relay's
    delivery agent, a mail client's submission) so a hop is counted one way."""
    wanted = set(accepted)
    rcpts, all_rows = msg.rcpts, msg.rows
    idx = [i for i in sent if rcpts[i] in wanted]
    rows = [all_rows[i] for i in idx]
    hop, key = recorder.hop, server.key
    for row in rows:
        hop(row, key)
    copy = QueuedMessage(
        msg.msg_id,
        msg.sender,
        msg.size,
        [rcpts[i] for i in idx],
        rows,
        now,
        msg.hops + 1,
        msg.origin,
    )
    copy.queue_id = queue_id
    copy.client_ip = client_ip
    server.receive(copy, now)


def make_bounce(
    original: QueuedMessage, failed: int, now: float, recorder: Recorder, host: str
) -> QueuedMessage | None:
    """The non-delivery notice for ``failed`` recipients of ``original``, from ``<>``
    to its sender; ``None`` when the original is itself a bounce (RFC 5321 section
    6.1: never send an error message in response to an error message)."""
    if original.sender == "":
        return None
    size = bounce_size(original.size, failed)
    msg_id = recorder.message("", size, 1, now, "bounce")
    row = recorder.recipient(msg_id, original.sender, domain_of(original.sender), host)
    return QueuedMessage(msg_id, "", size, [original.sender], [row], now, 0, "bounce")
