"""Messages in a host's queue, and the notices (DSNs, RFC 3464) made from them:
bounces, delay warnings and success notices, each honouring the DSN parameters the
message came with (RFC 3461: NOTIFY and ORCPT per recipient, RET and ENVID)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

from ..mail import domain_of
from ..protocol import MailDsn, RcptDsn, Reply
from ..protocol.client_session import needs_smtputf8
from ..sim.dsn import FAILURE, ORCPT_FIELD, notice_size
from ..sim.trace import Recorder

__all__ = [
    "Deferral",
    "QueuedMessage",
    "Receiver",
    "hand_over",
    "make_bounce",
    "make_notice",
    "needs_smtputf8",
]

NO_MAIL_DSN = MailDsn()


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

    ``dsn`` holds RET and ENVID, ``rcpt_dsn`` NOTIFY and ORCPT per recipient
    (parallel to ``rcpts``; ``None`` when no recipient has any, the common case, so
    that such a message costs nothing more). ``succeeded`` collects the recipients
    whose success is to be reported at the end of the pass, with their RFC 3464
    Action (``delivered`` or ``relayed``); ``warned`` is set once the delay warning
    was due (Postfix writes its warn time -1 then: ``qmgr_message_update_warn``).
    """

    __slots__ = (
        "bounced",
        "client_ip",
        "created",
        "deferred",
        "dsn",
        "errors",
        "first_failure",
        "hops",
        "msg_id",
        "origin",
        "outstanding",
        "pending",
        "queue_id",
        "rcpt_dsn",
        "rcpts",
        "rows",
        "sender",
        "size",
        "smtputf8",
        "succeeded",
        "t_active",
        "warned",
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
        dsn: MailDsn = NO_MAIL_DSN,
        rcpt_dsn: list[RcptDsn] | None = None,
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
        self.dsn = dsn
        self.rcpt_dsn = rcpt_dsn
        self.succeeded: list[tuple[int, str]] = []  # (index, "delivered" or "relayed")
        self.warned = False
        self.smtputf8 = False  # needs SMTPUTF8 (needs_smtputf8): set by its maker

    def wants(self, i: int, condition: str) -> bool:
        """Whether recipient ``i`` asked for a notice on ``condition`` (SUCCESS,
        FAILURE or DELAY); without NOTIFY, Postfix's FAILURE,DELAY."""
        rcpt_dsn = self.rcpt_dsn
        if rcpt_dsn is None:
            return condition != "SUCCESS"
        return rcpt_dsn[i].wants(condition)


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
    *,
    dsn_offered: bool,
) -> list[int]:
    """The server took ``msg`` for the recipients of ``sent`` (indices into
    ``msg.rcpts``) that are in ``accepted``: they cross one more hop and sit in its
    queue as a new queue file, with the queue id its ``250 ... queued as`` named and
    the client that handed it over. One function for every hand-over (a relay's
    delivery agent, a mail client's submission) so a hop is counted one way.

    The message's DSN parameters go on only to a server that offers DSN (RFC 3461
    section 4.1; the simulated session leaves them out of its MAIL and RCPT commands,
    whose shape the session memo keys on, and this applies what they would do); its
    need for SMTPUTF8 always does. Returns the indices handed over, for the caller
    that must report them "relayed" to a server without DSN."""
    # A handful of accepted names (nearly always one) is searched faster than a set
    # of them is built.
    wanted = accepted if len(accepted) <= 4 else set(accepted)
    rcpts, all_rows = msg.rcpts, msg.rows
    idx = [i for i in sent if rcpts[i] in wanted]
    rows = [all_rows[i] for i in idx]
    key = server.key
    for row in rows:  # recorder.hop, not a local alias: compiled, that is a direct call
        recorder.hop(row, key)
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
    if dsn_offered:
        copy.dsn = msg.dsn
        rcpt_dsn = msg.rcpt_dsn
        if rcpt_dsn is not None:
            copy.rcpt_dsn = [rcpt_dsn[i] for i in idx]
    copy.queue_id = queue_id
    copy.client_ip = client_ip
    copy.smtputf8 = msg.smtputf8
    server.receive(copy, now)
    return idx


def make_bounce(
    original: QueuedMessage, failed: list[int], now: float, recorder: Recorder, host: str
) -> QueuedMessage | None:
    """The non-delivery notice for the ``failed`` recipients (indices) of
    ``original`` that asked for one (NOTIFY includes FAILURE, or no NOTIFY: Postfix's
    ``bounce_diagnostic_log`` filter); ``None`` when none did."""
    wanted = [i for i in failed if original.wants(i, "FAILURE")]
    return make_notice(original, wanted, FAILURE, now, recorder, host)


def make_notice(
    original: QueuedMessage, idx: list[int], kind: str, now: float, recorder: Recorder, host: str
) -> QueuedMessage | None:
    """The notice of ``kind`` (``smtpsim.sim.dsn.NOTICE_KINDS``) about recipients
    ``idx`` of ``original``, from ``<>`` to its sender, as a message in ``host``'s
    queue; ``None`` when there is no one to report or the original is itself a
    notice (RFC 5321 section 6.1: never send an error message in response to an
    error message; Postfix sends a notice of a null-sender message to postmaster,
    which is not modelled).

    Its size follows RFC 3464's parts: a failure notice returns the original whole
    unless it was sent with RET=HDRS; delay and success notices return the headers
    only (``smtpsim.sim.dsn.notice_size``); ENVID and ORCPTs add their fields."""
    if original.sender == "" or not idx:
        return None
    dsn = original.dsn
    orcpts = 0
    rcpt_dsn = original.rcpt_dsn
    if rcpt_dsn is not None:
        for i in idx:
            orcpt = rcpt_dsn[i].orcpt
            if orcpt is not None:
                orcpts += ORCPT_FIELD + len(orcpt[0]) + 1 + len(orcpt[1])
    size = notice_size(
        original.size,
        len(idx),
        headers_only=kind != FAILURE or dsn.headers_only,
        envid=dsn.envid,
        orcpts=orcpts,
    )
    msg_id = recorder.message("", size, 1, now, "bounce", kind)
    row = recorder.recipient(msg_id, original.sender, domain_of(original.sender), host)
    notice = QueuedMessage(msg_id, "", size, [original.sender], [row], now, 0, "bounce")
    notice.smtputf8 = not original.sender.isascii()  # back to a UTF-8 address
    return notice
