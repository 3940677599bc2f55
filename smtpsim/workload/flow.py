"""A traffic flow: a population of senders submitting messages to a host.

Each message is drawn (size, recipients, sender), recorded, and queued at the
flow's own client host, whose queue manager relays it to the ``submit_to`` host over
SMTP like any MTA would (with AUTH where the MSA asks for it): so submissions see
the same protocol, the same retries and the same concurrency rules as every hop.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING

import numpy as np
import simpy

from ..mta import MailHost, QueuedMessage
from ..mta.message import needs_smtputf8
from ..protocol import MailDsn, RcptDsn
from ..sim import RunContext
from .arrivals import burst_times, poisson_times
from .mail_clients import MailClientPopulation
from .recipients import RecipientSampler
from .replay import Replayer

if TYPE_CHECKING:
    from .. import scenario

__all__ = ["UTF8_LOCAL", "Flow"]

# The local part of a UTF-8 sender ("user" in Swedish): ASCII letters and one that is not.
UTF8_LOCAL = "användare"


class Flow:
    """The source of one ``traffic`` entry of a scenario."""

    def __init__(
        self,
        name: str,
        spec: scenario.Flow,
        ctx: RunContext,
        client_host: MailHost,
        sender_domain: str,
        sizes: Callable[[], float],
        recipients: RecipientSampler | None,
        rng: np.random.Generator,
        stop: float,
        replayer: Replayer | None = None,
        mail_clients: MailClientPopulation | None = None,
        utf8_rng: np.random.Generator | None = None,
    ) -> None:
        self.name = name
        self.spec = spec
        self.ctx = ctx
        self.host = client_host
        self.sender_domain = sender_domain
        self.sizes = sizes
        self.recipients = recipients
        self.rng = rng
        self.stop = stop
        self.submitted = 0
        # Which messages come from a UTF-8 address: a stream of its own, drawn only when
        # the share is set, so that other runs draw exactly as before.
        self.utf8_rng = utf8_rng if spec.smtputf8 > 0 else None
        # The senders' mail clients (issue 13); None: the flow's own Postfix relays.
        self.mail_clients = mail_clients
        self._replayed_senders: dict[str, int] = {}
        env = ctx.env
        start = spec.start
        if replayer is not None:  # the trace's times; rate and bursts are not given
            env.process(self._replay(replayer))
            return
        env.process(self._source(poisson_times(spec.rate, rng, start, stop)))
        for burst in spec.bursts:
            if burst.at < stop:
                env.process(self._source(burst_times(burst.at, burst.messages, burst.over, rng)))

    def _source(self, times: Iterable[float]) -> Generator[simpy.Event, object, None]:
        env = self.ctx.env
        limit = self.spec.messages
        for t in times:
            if limit is not None and self.submitted >= limit:
                return
            if t >= self.stop:  # a burst spread past the end, or a drain closed the flow
                return
            if t > env.now:
                yield env.timeout(t - env.now)
            self.submit(env.now)

    def _replay(self, replayer: Replayer) -> Generator[simpy.Event, object, None]:
        env = self.ctx.env
        limit = self.spec.messages
        for sub in replayer.submissions(self.stop):
            if limit is not None and self.submitted >= limit:
                return
            if sub.t > env.now:
                yield env.timeout(sub.t - env.now)
            # recorded at the trace's time itself, not at now + delay's float rounding:
            # a replay reproduces the submission times exactly
            self._send(env.now, sub.sender, list(sub.recipients), max(1, sub.size), sub.t)

    def submit(self, now: float) -> None:
        """One message from one sender of the population."""
        assert self.recipients is not None  # a drawing flow has its sampler
        rcpts = self.recipients.draw()
        size = max(1, int(self.sizes()))
        index = int(self.rng.integers(self.spec.senders))
        local = "user"
        utf8 = self.utf8_rng
        if utf8 is not None and utf8.random() < self.spec.smtputf8:
            local = UTF8_LOCAL  # RFC 6531: the message needs SMTPUTF8 (QueuedMessage)
        self._send(now, f"{local}{index}@{self.sender_domain}", rcpts, size, sender_index=index)

    def _dsn(self, message: QueuedMessage) -> None:
        """The flow's DSN parameters on ``message`` (RFC 3461), as its submission
        would give them: RET and ENVID, NOTIFY and ORCPT per recipient."""
        spec = self.spec.dsn
        assert spec is not None
        envid = f"{self.name}.{message.msg_id}" if spec.envid else None
        message.dsn = MailDsn(spec.ret.upper() if spec.ret else None, envid)
        notify = (
            None if spec.notify is None else frozenset(w.upper() for w in spec.notify) - {"NEVER"}
        )
        if notify is None and not spec.orcpt:
            return
        message.rcpt_dsn = [
            RcptDsn(notify, ("rfc822", r) if spec.orcpt else None) for r in message.rcpts
        ]

    def _send(
        self,
        now: float,
        sender: str,
        rcpts: list[str],
        size: int,
        at: float | None = None,
        sender_index: int | None = None,
    ) -> None:
        recorder = self.ctx.recorder
        t_submit = now if at is None else at
        msg_id = recorder.message(sender, size, len(rcpts), t_submit, self.name)
        host = self.host.key
        rows = [recorder.recipient(msg_id, r, r.rpartition("@")[2], host) for r in rcpts]
        self.submitted += 1
        message = QueuedMessage(msg_id, sender, size, rcpts, rows, t_submit, 0, self.name)
        if self.spec.dsn is not None:
            self._dsn(message)
        message.smtputf8 = needs_smtputf8(sender, rcpts)
        if self.mail_clients is None:
            self.host.receive(message, now)
            return
        if sender_index is None:  # a replayed sender: its client set-up by first appearance
            sender_index = self._replayed_senders.setdefault(sender, len(self._replayed_senders))
        self.mail_clients.submit(message, sender_index)
