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
from ..sim import RunContext
from .arrivals import burst_times, poisson_times
from .mail_clients import MailClientPopulation
from .recipients import RecipientSampler

if TYPE_CHECKING:
    from .. import scenario

__all__ = ["Flow"]


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
        recipients: RecipientSampler,
        rng: np.random.Generator,
        stop: float,
        mail_clients: MailClientPopulation | None = None,
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
        # The senders' mail clients (issue 13); None: the flow's own Postfix relays.
        self.mail_clients = mail_clients
        env = ctx.env
        start = spec.start
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

    def submit(self, now: float) -> None:
        """One message from one sender of the population."""
        recorder = self.ctx.recorder
        rcpts = self.recipients.draw()
        size = max(1, int(self.sizes()))
        index = int(self.rng.integers(self.spec.senders))
        sender = f"user{index}@{self.sender_domain}"
        msg_id = recorder.message(sender, size, len(rcpts), now, self.name)
        host = self.host.key
        rows = [recorder.recipient(msg_id, r, r.rpartition("@")[2], host) for r in rcpts]
        self.submitted += 1
        msg = QueuedMessage(msg_id, sender, size, rcpts, rows, now, 0, self.name)
        if self.mail_clients is not None:
            self.mail_clients.submit(msg, index)
        else:
            self.host.receive(msg, now)
