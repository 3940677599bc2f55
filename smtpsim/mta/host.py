"""A simulated mail host: its SMTP server (listener), queue manager, SMTP client
and mailboxes, put together from a scenario's host entry by ``smtpsim.model``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..mail import Client
from ..mail.retry import RetryPolicy
from ..net import Network, Resolver
from ..sim import RunContext, SlotPool
from .delivery import DeliveryAgent
from .message import QueuedMessage
from .queue_manager import QueueManager
from .session import ClientSide, ServerSide

if TYPE_CHECKING:  # types only (docs/architecture.md, section 2)
    from ..mail import Policy
    from ..scenario import Postfix

__all__ = ["HostWiring", "MailHost", "NumberedMailboxes"]


@dataclass(frozen=True)
class HostWiring:
    """What a host's queue manager and SMTP client work with besides the host: the
    run, the other hosts by key (``world``, filled as the model is built), the
    network, its DNS resolver, its two client configurations (``clients[True]``
    authenticates) and its retry policies (for its mail, and for bounces)."""

    ctx: RunContext
    world: Mapping[str, MailHost]
    network: Network
    resolver: Resolver
    clients: Mapping[bool, ClientSide]
    retry: RetryPolicy
    bounce_retry: RetryPolicy


class NumberedMailboxes:
    """The users of a host's domains: ``user0@d`` ... ``user{n-1}@d`` for each domain
    ``d`` with ``n`` mailboxes, and its spamtraps ``trap<k>@d``. A container, so that
    ``LocalRecipients`` can ask ``address in mailboxes`` without a million strings."""

    __slots__ = ("counts",)

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = {d.lower(): n for d, n in counts.items()}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        local, _, domain = address.rpartition("@")
        n = self.counts.get(domain.lower())
        if n is None:
            return False
        if local.startswith("trap"):  # spamtraps exist: they accept mail, and tell
            return local[4:].isdigit()
        if not local.startswith("user"):
            return False
        number = local[4:]
        return number.isdigit() and int(number) < n


class MailHost:
    """One host: its server side (``server_side``, ``slots`` for its processes and
    ``listen_backlog`` for the connections that may wait for one), its queue manager
    and SMTP client (built here from ``wiring``), its receiving policies by kind
    (``policies``: incidents switch them), and its state under incidents (``down``)."""

    def __init__(
        self,
        key: str,
        name: str,
        ip: str,
        role: str,
        params: Postfix,
        server_side: ServerSide | None,
        local_domains: frozenset[str],
        requires_auth: bool,
        *,
        wiring: HostWiring,
        policies: Mapping[str, Policy] | None = None,
        listen_backlog: int | None = None,
    ) -> None:
        self.key = key
        self.node = key
        self.name = name
        self.ip = ip
        self.role = role
        self.params = params
        self.server_side = server_side
        self.local_domains = local_domains
        self.requires_auth = requires_auth
        self.down_modes: list[str] = []  # "refuse" or "blackhole", one per incident
        self.crashed = False
        self.epoch = 0  # incremented by each crash: what was under way is void
        self.slots = SlotPool(params.default_process_limit)
        # Connections that may wait for a free process (the kernel's listen queue);
        # None: no limit. The delivery agent reads it when the processes are all busy.
        self.listen_backlog = listen_backlog
        self.client_info = Client(ip, name)
        self.policies: dict[str, Policy] = dict(policies or {})
        self._queue_ids = 0
        ctx = wiring.ctx
        self.agent = DeliveryAgent(
            self,
            ctx,
            wiring.world,
            wiring.network,
            wiring.resolver,
            wiring.clients,
            ctx.streams.generator(f"host.{key}.smtp"),
        )
        self.qmgr = QueueManager(
            key,
            ctx,
            params,
            self.agent.deliver,
            retry=wiring.retry,
            bounce_retry=wiring.bounce_retry,
            local_domains=local_domains,
            relayhost=f"[{params.relayhost}]" if params.relayhost else None,
            # where in its second the host's qmgr started: its scans come at that
            # fraction of a whole second (QueueManager, clock_phase)
            clock_phase=float(ctx.streams.generator(f"host.{key}.qmgr_clock").random()),
        )

    def receive(self, msg: QueuedMessage, now: float) -> None:
        """A message was accepted by this host's server (or submitted to it)."""
        if not msg.queue_id:
            msg.queue_id = self.next_queue_id()
        self.qmgr.receive(msg, now)

    def crash(self, lose_queue: bool, now: float) -> None:
        """The host stops: no connections in or out, sessions under way are cut, its
        queue kept or lost (lost recipients are recorded as such)."""
        self.epoch += 1
        self.crashed = True
        self.slots = SlotPool(self.params.default_process_limit)  # fresh processes later
        self.qmgr.crash(lose_queue, now)
        self.agent.crash(now)

    def restart(self, now: float) -> None:
        self.crashed = False
        self.qmgr.restart(now)

    @property
    def down(self) -> str | None:
        """``None`` when the SMTP service is up, else ``"crashed"``, or the mode of the
        latest ``host_down`` incident still going on (``"refuse"``, ``"blackhole"``)."""
        if self.crashed:
            return "crashed"
        return self.down_modes[-1] if self.down_modes else None

    @down.setter
    def down(self, mode: str | None) -> None:
        """Set by hand (tests, notebooks): this mode alone, or up."""
        self.down_modes = [] if mode is None else [mode]

    def next_queue_id(self) -> str:
        """Postfix-style short queue ids: upper-case hex, unique per host."""
        self._queue_ids += 1
        return f"{self._queue_ids:010X}"
