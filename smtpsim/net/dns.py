"""DNS as zone data, and caching resolvers (RFC 5321 section 5.1, RFC 7505, RFC 2308).

Zones hold what a scenario declares: per domain its MX records (preference,
target host), a null MX, an A record (a host), a TTL, TXT records and whether it is
a DNSBL zone. Every host's own name has an A record. A ``Resolver`` answers MX
lookups from its cache while the TTL lasts and pays a query time on a miss.

Answers use Postfix's reading of the outcomes (RFC 5321 section 5.1): MX records; a null
MX; "not found" (no MX, or NXDOMAIN, after which the client tries the domain's own
address: the implicit MX); a temporary failure (SERVFAIL, timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network

__all__ = ["RESOLVER_TIMEOUT", "MXAnswer", "Resolver", "ZoneData", "Zones"]

RESOLVER_TIMEOUT = 10.0
"""A lookup nobody answers: glibc's 5 s per try, 2 tries (RFC 2308, RFC 9520)."""

MX, NULL_MX, NOT_FOUND, TRY_AGAIN = "mx", "null", "notfound", "tryagain"


@dataclass(frozen=True, slots=True)
class ZoneData:
    """One domain: ``mx`` as (preference, host key) pairs, or ``None`` when there are
    no MX records; ``a``: the host whose address the domain's own A record holds."""

    mx: tuple[tuple[int, str], ...] | None = None
    null_mx: bool = False
    a: str | None = None
    ttl: float = 3600.0
    txt: tuple[str, ...] = ()
    dnsbl: bool = False
    dmarc: str | None = None  # p= of its _dmarc TXT record


@dataclass(frozen=True, slots=True)
class MXAnswer:
    """What an MX lookup gives: ``kind`` (mx, null, notfound, tryagain), the MX hosts
    sorted by preference (ties in zone order: the client shuffles them), and for
    ``notfound`` the host of the implicit MX, if the domain has an address."""

    kind: str
    hosts: tuple[tuple[int, str], ...] = ()
    implicit: str | None = None
    ttl: float = 3600.0


@dataclass(slots=True)
class Zones:
    """All zones of a run, plus the A records of host names."""

    domains: dict[str, ZoneData] = field(default_factory=dict)
    host_names: dict[str, str] = field(default_factory=dict)  # DNS name -> host key
    hosts: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, ip)
    # Domains answering SERVFAIL now, and domains whose servers do not answer, each with
    # the number of incidents holding it so (it recovers when the last one ends).
    servfail: dict[str, int] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)
    dnsbl: dict[str, list[IPv4Network]] = field(default_factory=dict)  # zone -> listed nets

    def _failing(self, name: str) -> bool:
        return name in self.servfail or name in self.timeouts

    def txt(self, name: str) -> list[str] | None:
        """TXT records of ``name`` (``None``: a temporary failure); ``_dmarc.D`` gives
        D's DMARC record."""
        name = name.lower()
        if name.startswith("_dmarc."):
            zone = self.domains.get(name[7:])
            if self._failing(name[7:]):
                return None
            return [f"v=DMARC1; p={zone.dmarc}"] if zone is not None and zone.dmarc else []
        if self._failing(name):
            return None
        zone = self.domains.get(name)
        return list(zone.txt) if zone is not None else []

    def addresses(self, name: str) -> list[str] | None:
        """The A records of ``name``: a host's own name, or a zone's ``a`` host."""
        name = name.lower()
        if self._failing(name):
            return None
        key = self.host_names.get(name)
        if key is None:
            zone = self.domains.get(name)
            key = zone.a if zone is not None else None
        return [self.hosts[key][1]] if key in self.hosts else []

    def mx_names(self, name: str) -> list[str] | None:
        """The names of ``name``'s MX hosts, by preference."""
        answer = self.lookup_mx(name)
        if answer.kind == TRY_AGAIN:
            return None
        return [self.hosts[key][0] for _, key in answer.hosts if key in self.hosts]

    def dnsbl_listed(self, zone: str, ip: str) -> bool:
        """Whether ``ip`` is listed on the DNSBL ``zone`` now (RFC 5782: an A record)."""
        networks = self.dnsbl.get(zone)
        if not networks:
            return False
        address = IPv4Address(ip)
        return any(address in network for network in networks)

    def lookup_mx(self, domain: str) -> MXAnswer:
        domain = domain.lower()
        if domain in self.servfail or domain in self.timeouts:
            return MXAnswer(TRY_AGAIN, ttl=0.0)
        zone = self.domains.get(domain)
        if zone is None:
            return MXAnswer(NOT_FOUND, implicit=self.host_names.get(domain))
        if zone.null_mx:
            return MXAnswer(NULL_MX, ttl=zone.ttl)
        if zone.mx:
            return MXAnswer(MX, tuple(sorted(zone.mx, key=lambda p: p[0])), ttl=zone.ttl)
        return MXAnswer(NOT_FOUND, implicit=zone.a or self.host_names.get(domain), ttl=zone.ttl)


class Resolver:
    """A caching resolver: answers live for their TTL; a miss costs ``query_time``.

    Temporary failures are not cached (RFC 9520 allows up to 5 minutes; not caching
    them is the conservative reading for a simulator: the next try asks again).
    """

    __slots__ = ("_cache", "failing", "query_time", "zones")

    def __init__(self, zones: Zones, query_time: float) -> None:
        self.zones = zones
        self.query_time = query_time
        # Incidents that make this resolver fail, by mode ("servfail" or "timeout").
        self.failing: list[str] = []
        # domain -> (answer arrives, answer expires, answer)
        self._cache: dict[str, tuple[float, float, MXAnswer]] = {}

    def mx(self, domain: str, now: float) -> tuple[MXAnswer, float]:
        """The answer for ``domain`` at ``now``, and the time the lookup took.

        A lookup while the same query is already under way waits for its answer
        (it is not free, and it is not asked twice)."""
        if self.failing:  # this resolver is down: nothing, not even its cache, answers
            cost = RESOLVER_TIMEOUT if "timeout" in self.failing else self.query_time
            return MXAnswer(TRY_AGAIN, ttl=0.0), cost
        hit = self._cache.get(domain)
        if hit is not None and hit[1] > now:
            return hit[2], max(0.0, hit[0] - now)
        answer = self.zones.lookup_mx(domain)
        if answer.kind == TRY_AGAIN:
            timed_out = domain.lower() in self.zones.timeouts
            return answer, RESOLVER_TIMEOUT if timed_out else self.query_time
        if answer.ttl > 0:
            arrives = now + self.query_time
            self._cache[domain] = (arrives, arrives + answer.ttl, answer)
        return answer, self.query_time

    def flush(self) -> None:
        self._cache.clear()
