"""Greylisting as postgrey does it (postgrey 1.37's defaults, the
algorithm of ``smtpd_access_policy`` in its source).

Each recipient of a transaction makes a triplet (client network, sender,
recipient). A triplet seen for the first time, or first seen less than ``delay``
seconds ago, is refused with a temporary error::

    450 4.2.0 <r@d>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/d.html

A sender that retries after the delay gets through; spamware that never retries
does not. What postgrey does, and this class with it:

- the client part is the /24 network of an IPv4 client (/64 for IPv6), because big
  senders retry from another address of a pool; ``lookup_by_host=True`` uses the
  exact address;
- the sender is lower-cased and normalised the way postgrey does against VERP:
  ``+extension`` dropped, numbers in the local part replaced by ``#``. The null
  sender of bounces is greylisted like any other;
- every request updates the triplet's ``last`` time; once ``last - first >=
  delay`` it has passed and stays passed until it is not seen for ``max_age``
  (35 days);
- a triplet that has not passed yet and comes back more than ``retry_window``
  (2 days) after it was first seen starts over (``first = now``);
- auto-whitelisting: each time a triplet passes for the first time, its client
  network scores one (at most one per hour); from ``auto_whitelist_clients`` (5)
  on, that network is never greylisted again while it keeps being seen (0 turns
  this off).

Differences, on purpose: postgrey deletes stale entries in a nightly maintenance
run, so for up to a day an entry older than ``max_age`` still counts; here an entry
is judged stale at the moment it is looked up, which makes results independent of
when a sweep happens (the sweep here, once per simulated day, only frees memory).
postgrey's whitelist files, its BATV rewriting and its "keep the full address when
the reverse name contains it" rule are not modelled. Authenticated clients are not
greylisted: Postfix configurations put ``permit_sasl_authenticated`` before
``check_policy_service``.

The state lives in the object: use one ``Greylist`` per server.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable

from ..protocol import Reply, replies
from .networks import in_networks, parse_networks
from .policy import RCPT, Context, Policy

__all__ = ["Greylist", "client_network", "normalise_sender"]

DAY = 86400.0
HOUR = 3600.0
_VERP_NUMBER = re.compile(r"\b\d+\b")


@functools.lru_cache(maxsize=4096)
def normalise_sender(sender: str) -> str:
    """postgrey's ``do_sender_substitutions``, lower-cased: ``List+bounce-42@D``
    -> ``list@d`` and ``bounce-42@d`` -> ``bounce-#@d``; ``""`` stays ``""``."""
    local, at, domain = sender.lower().rpartition("@")
    if not at:
        return sender.lower()
    local = _VERP_NUMBER.sub("#", local.split("+", 1)[0])
    return f"{local}@{domain}"


@functools.lru_cache(maxsize=4096)
def client_network(ip: str, ipv4_prefix: int = 24, ipv6_prefix: int = 64) -> str:
    """The client part of a triplet: ``192.0.2.7`` -> ``192.0.2.0`` (as postgrey
    writes it) with the default /24; the address itself if it is not an IP."""
    if ipv4_prefix == 24 and ip.count(".") == 3 and ":" not in ip:
        return ip.rpartition(".")[0] + ".0"  # the common case, without ipaddress
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = ipv4_prefix if address.version == 4 else ipv6_prefix
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


class Greylist(Policy):
    """postgrey at RCPT. Parameters (postgrey's option names): ``delay`` 300 s,
    ``max_age`` 35 days, ``retry_window`` 2 days, ``auto_whitelist_clients`` 5,
    ``lookup_by_host`` False; ``whitelist_clients``: networks never greylisted
    (postgrey's ``postgrey_whitelist_clients``, CIDR form only). All are
    attributes and may be changed while a run goes on.

    ``triplets`` maps ``"net/sender/recipient"`` to ``[first, last]`` and
    ``clients`` maps a network to ``[count, last]``, as postgrey's two databases.
    """

    phases = frozenset({RCPT})

    def __init__(
        self,
        *,
        delay: float = 300.0,
        max_age: float = 35 * DAY,
        retry_window: float = 2 * DAY,
        auto_whitelist_clients: int = 5,
        lookup_by_host: bool = False,
        whitelist_clients: Iterable[str] = (),
    ) -> None:
        if delay < 0 or max_age <= 0 or retry_window <= 0 or auto_whitelist_clients < 0:
            raise ValueError(
                "delay must be >= 0, max_age and retry_window > 0, "
                f"auto_whitelist_clients >= 0; got {delay!r}, {max_age!r}, "
                f"{retry_window!r}, {auto_whitelist_clients!r}"
            )
        self.delay = delay
        self.max_age = max_age
        self.retry_window = retry_window
        self.auto_whitelist_clients = auto_whitelist_clients
        self.lookup_by_host = lookup_by_host
        self.whitelist_clients = parse_networks(whitelist_clients)
        self.triplets: dict[str, list[float]] = {}
        self.clients: dict[str, list[float]] = {}
        self._next_sweep: float | None = None

    def check(self, phase: str, ctx: Context) -> Reply | None:
        rcpt = ctx.recipient or ""
        if self.passes(
            ctx.client.ip,
            ctx.sender or "",
            rcpt,
            ctx.now,
            authenticated=ctx.authenticated is not None,
        ):
            return None
        return replies.greylisted(rcpt)

    def passes(
        self, ip: str, sender: str, recipient: str, now: float, *, authenticated: bool = False
    ) -> bool:
        """Decide one request and record it, as postgrey's ``smtpd_access_policy``."""
        if authenticated or in_networks(ip, self.whitelist_clients):
            return True
        self._sweep(now)
        net = ip if self.lookup_by_host else client_network(ip)
        awl_limit = self.auto_whitelist_clients
        awl = self.clients.get(net) if awl_limit else None
        if awl is not None and now - awl[1] > self.max_age:
            del self.clients[net]
            awl = None
        if awl is not None and awl[0] >= awl_limit:
            if now >= awl[1] + HOUR:  # postgrey keeps counting, once an hour
                awl[0] += 1
                awl[1] = now
            return True

        key = f"{net}/{normalise_sender(sender)}/{recipient.lower()}"
        entry = self.triplets.get(key)
        delay = self.delay
        last_was_successful = False
        if entry is None or now - entry[1] > self.max_age:
            first = now
        else:
            first = entry[0]
            if entry[1] - first >= delay:
                last_was_successful = True
            elif now - first > self.retry_window:
                first = now  # the first retry came too late: start over
        if entry is None:
            self.triplets[key] = [first, now]
        else:
            entry[0], entry[1] = first, now
        passed = now - first >= delay
        if awl_limit and passed and not last_was_successful:
            # A delayed triplet got through: the client network scores one, once an hour.
            if awl is None:
                self.clients[net] = [1, now]
            elif now >= awl[1] + HOUR:
                awl[0] += 1
                awl[1] = now
        return passed

    def _sweep(self, now: float) -> None:
        """Drop stale entries once per simulated day (memory only: lookups already
        treat them as absent)."""
        if self._next_sweep is None:
            self._next_sweep = now + DAY
            return
        if now < self._next_sweep:
            return
        self._next_sweep = now + DAY
        delay, max_age, window = self.delay, self.max_age, self.retry_window
        self.triplets = {
            k: v
            for k, v in self.triplets.items()
            if now - v[1] <= max_age and (v[1] - v[0] >= delay or now - v[0] <= window)
        }
        self.clients = {k: v for k, v in self.clients.items() if now - v[1] <= max_age}
