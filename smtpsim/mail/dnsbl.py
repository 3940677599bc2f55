"""DNS blocklists (RFC 5782): refuse clients whose address a DNSBL zone lists.

This is Postfix's ``reject_rbl_client ZONE`` (RFC 5782). Placed, as usual, in
``smtpd_recipient_restrictions`` it acts at RCPT because of ``smtpd_delay_reject =
yes``: the client sees ``554 5.7.1 Service unavailable; Client host [IP] blocked
using ZONE; REASON`` to each recipient (Postfix's ``default_rbl_reply``). With
``phase="connect"`` the same reply is the greeting instead (``smtpd_delay_reject =
no``), and the session only accepts QUIT (RFC 5321 section 3.1).

Who answers the DNS query is the caller's business: ``lookup(zone, ip, now)``
returns a ``DnsblAnswer`` with the time the query took, which the policy adds to
``Context.delay`` so that a slow or dead DNSBL slows the server down. The simulator
plugs in its DNS; ``smtpsim serve`` and tests use ``StaticDnsbl``, a list kept in
memory that incidents can change while a run goes on. ``query_name`` gives the
RFC 5782 name a real lookup would ask for.

Each zone is asked at most once per session (Postfix's smtpd keeps the answers of
its RBL lookups for the session too): the answers are kept in ``Context.notes``
and go away with the session.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..protocol import Reply, replies
from .policy import CONNECT, RCPT, Context, Policy

__all__ = ["DnsblAnswer", "DnsblCheck", "DnsblLookup", "StaticDnsbl", "query_name"]


@dataclass(frozen=True, slots=True)
class DnsblAnswer:
    """What a DNSBL said about one address: ``listed`` (an A record in 127/8),
    the ``reason`` (its TXT record, may be empty) and how many ``seconds`` the
    query took."""

    listed: bool
    reason: str = ""
    seconds: float = 0.0


DnsblLookup = Callable[[str, str, float], DnsblAnswer]
"""``lookup(zone, ip, now)``: ask ``zone`` about the client address ``ip`` at ``now``."""


def query_name(ip: str, zone: str) -> str:
    """The DNS name to query (RFC 5782 section 2.1): the IPv4 octets reversed, then
    the zone, ``192.0.2.99`` -> ``99.2.0.192.zen.example``; for IPv6 the 32 nibbles
    reversed (section 2.4; a detail not checked against an implementation here).

    Raises ``ValueError`` for a string that is not an IP address.
    """
    address = ipaddress.ip_address(ip)
    # reverse_pointer is "99.2.0.192.in-addr.arpa" / "b.a.9...ip6.arpa": drop the suffix.
    reversed_name = address.reverse_pointer.rsplit(".", 2)[0]
    return f"{reversed_name}.{zone.rstrip('.')}"


class DnsblCheck(Policy):
    """Refuse a client listed by any of ``zones`` (asked in order; the first that
    lists it names itself in the reply), at ``phase`` ``"rcpt"`` or ``"connect"``.

    At RCPT, authenticated clients are not checked: a Postfix configuration puts
    ``permit_sasl_authenticated`` before ``reject_rbl_client`` (submission users
    often send from listed end-user networks).
    """

    def __init__(
        self, zones: Iterable[str] | str, lookup: DnsblLookup, *, phase: str = RCPT
    ) -> None:
        if phase not in (RCPT, CONNECT):
            raise ValueError(f"phase must be 'rcpt' or 'connect', got {phase!r}")
        self.zones = (zones,) if isinstance(zones, str) else tuple(zones)
        if not self.zones:
            raise ValueError("DnsblCheck needs at least one zone")
        self.lookup = lookup
        self.phase = phase
        self.phases = frozenset({phase})

    def check(self, phase: str, ctx: Context) -> Reply | None:
        if ctx.authenticated is not None:
            return None
        ip = ctx.client.ip
        notes = ctx.memo()
        me = id(self)
        for zone in self.zones:
            key = (me, zone)
            answer = notes.get(key)
            if not isinstance(answer, DnsblAnswer):
                answer = self.lookup(zone, ip, ctx.now)
                ctx.delay += answer.seconds
                notes[key] = answer
            if answer.listed:
                return replies.dnsbl_blocked(ip, zone, answer.reason)
        return None


class StaticDnsbl:
    """A DNSBL zone kept in memory: listed addresses and networks (``"192.0.2.7"``,
    ``"198.51.100.0/24"``), changed at run time with ``add`` and ``remove``.

    Use it as the ``lookup`` of a ``DnsblCheck``: it answers for whatever zone it is
    asked about, every answer taking ``seconds``, listed ones giving ``reason``.
    ``remove`` takes out exactly an entry that was added (removing ``192.0.2.7``
    does not punch a hole in a listed ``192.0.2.0/24``).
    """

    def __init__(
        self, entries: Iterable[str] = (), *, reason: str = "", seconds: float = 0.0
    ) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        self._addresses: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        self._networks: set[ipaddress.IPv4Network | ipaddress.IPv6Network] = set()
        self._listed = DnsblAnswer(True, reason, seconds)
        self._not_listed = DnsblAnswer(False, "", seconds)
        for entry in entries:
            self.add(entry)

    def add(self, entry: str) -> None:
        """List an address or a network (CIDR). Raises ``ValueError`` if it is neither."""
        if "/" in entry:
            self._networks.add(ipaddress.ip_network(entry, strict=False))
        else:
            self._addresses.add(ipaddress.ip_address(entry))

    def remove(self, entry: str) -> None:
        """Delist an entry given to ``add``; nothing happens if it is not listed."""
        if "/" in entry:
            self._networks.discard(ipaddress.ip_network(entry, strict=False))
        else:
            self._addresses.discard(ipaddress.ip_address(entry))

    def __contains__(self, ip: object) -> bool:
        if not isinstance(ip, str):
            return False
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False  # "unknown" and the like: nothing to look up
        return address in self._addresses or any(address in net for net in self._networks)

    def __call__(self, zone: str, ip: str, now: float) -> DnsblAnswer:
        return self._listed if ip in self else self._not_listed
