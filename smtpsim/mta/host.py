"""A simulated mail host: its SMTP server (listener), queue manager, SMTP client
and mailboxes, put together from a scenario's host entry by ``smtpsim.model``."""

from __future__ import annotations

from typing import Any

from ..mail import Client
from ..sim import SlotPool
from .message import QueuedMessage
from .session import ServerSide

__all__ = ["MailHost", "NumberedMailboxes"]


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
    and SMTP client, and its state under incidents (``down``)."""

    def __init__(
        self,
        key: str,
        name: str,
        ip: str,
        role: str,
        params: Any,
        server_side: ServerSide | None,
        local_domains: frozenset[str],
        requires_auth: bool,
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
        self.qmgr: Any = None
        self.agent: Any = None
        self.policies: dict[str, Any] = {}  # receiving policies by kind (incidents switch them)
        self._queue_ids = 0

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
