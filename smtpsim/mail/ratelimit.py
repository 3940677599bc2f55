"""Per-client limits as Postfix's smtpd enforces them with anvil(8).

For each client address anvil keeps the number of open connections and, per time
unit (``anvil_rate_time_unit``, 60 s), the number of connections, messages (MAIL
commands) and recipients (RCPT commands). smtpd refuses when a count goes *over*
its limit; 0 turns a limit off. Only the simultaneous-connection limit is on by
default (50). The replies (``smtpd.c``):

- connections, at connect: ``421 4.7.0 HOST Error: too many connections from IP``
  (for the count and for the rate), after which the connection closes;
- messages, at MAIL: ``450 4.7.1 Error: too much mail from IP``;
- recipients, at RCPT: ``450 4.7.1 Error: too many recipients from IP``;
- AUTH commands (``smtpd_client_auth_rate_limit``, every AUTH counts, whether it
  succeeds or not: what stops a client guessing passwords, or a stale password
  retried by many clients behind one NAT address): ``450 4.7.1 Error: too many AUTH
  commands from IP`` (smtpd.c, ``smtpd_sasl_auth_cmd_wrapper``). Postfix answers
  the AUTH command itself; here the policy answers when the SASL exchange has its
  credentials (the ``auth`` phase), one count per AUTH command all the same.

How anvil counts (``src/anvil/anvil.c``), which this class copies: the rate window
of a client is not sliding. It starts at the client's first event; when an event
comes more than a time unit after the window's start, *all* its rates go back to 0
and a new window starts with that event. Every attempt counts, refused or not. A
client with no open connection is forgotten one time unit after its last
disconnect. Messages and recipients are counted only while their limit is on (smtpd
asks anvil only then); connections always are. A refused connection holds its slot
until it is closed, as in Postfix.

Clients are counted per address; IPv6 clients per /84 network, Postfix 3.8's
``smtpd_client_ipv6_prefix_length`` default (IPv4: /32). Networks in
``exceptions`` (``smtpd_client_event_limit_exceptions``, ``$mynetworks`` in
Postfix) are not limited.

Place this policy first: smtpd checks these limits before its restrictions.
Connections are counted at ``connect`` and released in ``ended``, so the driver
must call ``ServerSession.close`` when a connection ends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ..protocol import Reply, replies
from .networks import in_networks, parse_networks
from .policy import AUTH, CONNECT, MAIL, RCPT, Context, Policy

__all__ = ["RateLimit"]


class _Client:
    """anvil's ``ANVIL_REMOTE``: open connections and the rates of one window."""

    __slots__ = ("auth", "count", "idle_since", "mail", "rate", "rcpt", "start")

    def __init__(self, now: float) -> None:
        self.count = 0
        self.rate = self.mail = self.rcpt = self.auth = 0
        self.start = now
        self.idle_since: float | None = now  # no open connection since then


class RateLimit(Policy):
    """anvil's limits for one server. ``hostname`` names the server in the 421 reply.

    The limits are attributes with Postfix's names (without ``smtpd_client_``) and
    may be changed while a run goes on: ``connection_count_limit`` (50),
    ``connection_rate_limit``, ``message_rate_limit``, ``recipient_rate_limit``
    ``auth_rate_limit`` (0 = off), per ``time_unit`` seconds (60).
    """

    phases = frozenset({CONNECT, MAIL, RCPT, AUTH})

    def __init__(
        self,
        hostname: str,
        *,
        connection_count_limit: int = 50,
        connection_rate_limit: int = 0,
        message_rate_limit: int = 0,
        recipient_rate_limit: int = 0,
        time_unit: float = 60.0,
        exceptions: Iterable[str] = (),
        ipv6_prefix_length: int = 84,
        auth_rate_limit: int = 0,
    ) -> None:
        limits = (
            connection_count_limit,
            connection_rate_limit,
            message_rate_limit,
            recipient_rate_limit,
            auth_rate_limit,
        )
        if min(limits) < 0 or time_unit <= 0:
            raise ValueError(f"limits must be >= 0 and time_unit > 0, got {limits}, {time_unit}")
        self.hostname = hostname
        self.connection_count_limit = connection_count_limit
        self.connection_rate_limit = connection_rate_limit
        self.message_rate_limit = message_rate_limit
        self.recipient_rate_limit = recipient_rate_limit
        self.auth_rate_limit = auth_rate_limit
        self.time_unit = time_unit
        self.exceptions = parse_networks(exceptions)
        self.ipv6_prefix_length = ipv6_prefix_length
        self.clients: dict[str, _Client] = {}
        self._tidy_at = 4096  # table size at which forgotten clients are dropped

    def check(self, phase: str, ctx: Context) -> Reply | None:
        ip = ctx.client.ip
        now = ctx.now
        if phase == CONNECT:
            if in_networks(ip, self.exceptions):
                return None
            key = self._key(ip)
            client = self._client(key, now)
            client.rate += 1
            client.count += 1
            client.idle_since = None
            ctx.memo()[id(self)] = key  # counted: ``ended`` gives the slot back
            count_limit, rate_limit = self.connection_count_limit, self.connection_rate_limit
            if (count_limit and client.count > count_limit) or (
                rate_limit and client.rate > rate_limit
            ):
                return replies.too_many_connections(self.hostname, ip)
            return None
        if phase == AUTH:
            limit = self.auth_rate_limit
        else:
            limit = self.message_rate_limit if phase == MAIL else self.recipient_rate_limit
        if not limit or in_networks(ip, self.exceptions):
            return None
        client = self._client(self._key(ip), now)
        if phase == AUTH:
            client.auth += 1
            return replies.too_many_auth(ip) if client.auth > limit else None
        if phase == MAIL:
            client.mail += 1
            return replies.too_much_mail(ip) if client.mail > limit else None
        client.rcpt += 1
        return replies.too_many_recipients_from(ip) if client.rcpt > limit else None

    def ended(self, ctx: Context) -> None:
        notes = ctx.notes
        key = notes.pop(id(self), None) if notes else None
        if not isinstance(key, str):
            return  # this session was never counted
        client = self.clients.get(key)
        if client is None or client.count <= 0:
            return
        client.count -= 1
        if client.count == 0:
            client.idle_since = ctx.now

    def open_connections(self, ip: str) -> int:
        """How many connections of ``ip`` (its counting unit) are open now."""
        client = self.clients.get(self._key(ip))
        return client.count if client is not None else 0

    def _client(self, key: str, now: float) -> _Client:
        """The client's state at ``now``: forgotten after a time unit without an open
        connection (anvil's expiry timer), its rates reset when its window is over."""
        client = self.clients.get(key)
        unit = self.time_unit
        if client is None or (client.idle_since is not None and now >= client.idle_since + unit):
            if len(self.clients) >= self._tidy_at:
                self._forget_idle(now)
            client = self.clients[key] = _Client(now)
        elif client.start + unit < now:
            client.rate = client.mail = client.rcpt = client.auth = 0
            client.start = now
        return client

    def _forget_idle(self, now: float) -> None:
        """Free the memory of clients anvil would have expired (memory only)."""
        unit = self.time_unit
        self.clients = {
            k: c
            for k, c in self.clients.items()
            if c.idle_since is None or now < c.idle_since + unit
        }
        # Tidy again only when the table has doubled: amortised O(1) per client.
        self._tidy_at = max(4096, 2 * len(self.clients))

    def _key(self, ip: str) -> str:
        if ":" not in ip or self.ipv6_prefix_length >= 128:
            return ip
        try:
            net = ipaddress.ip_network(f"{ip}/{self.ipv6_prefix_length}", strict=False)
        except ValueError:
            return ip
        return str(net)
