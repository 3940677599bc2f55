"""DNSBL listings that emerge from traffic: a spamtrap hit reported against the
address that delivered it; enough hits within a zone's window list that address for
the zone's listing duration. Each listing is added to the run's incident windows,
so plots shade it like a scripted one."""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import TYPE_CHECKING, TypeAlias

from ..sim import call_later

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["ListingRules", "Window"]

# One incident's window, for the run's meta and plots: its "kind" and "target" (str),
# "start" and "end" (float, seconds).
Window: TypeAlias = dict[str, str | float]


class ListingRules:
    """The listing rules of every DNSBL zone of a scenario that has one."""

    def __init__(self, model: Model) -> None:
        self.env = model.env
        self.zones = model.zones
        self.incidents: list[Window] = model.incidents
        self.rules = {
            zone: spec.listing
            for zone, spec in model.scenario.dns.items()
            if spec.dnsbl and spec.listing is not None
        }
        self.hits: dict[tuple[str, str], deque[float]] = {}
        self.listed: set[tuple[str, str]] = set()

    def report(self, ip: str, now: float) -> None:
        """A spamtrap received mail from ``ip``."""
        for zone, rule in self.rules.items():
            key = (zone, ip)
            if key in self.listed:
                continue
            hits = self.hits.setdefault(key, deque())
            hits.append(now)
            while hits and hits[0] <= now - rule.window:
                hits.popleft()
            if len(hits) >= rule.hits:
                self._list(zone, ip, now, rule.duration)

    def _list(self, zone: str, ip: str, now: float, duration: float) -> None:
        key = (zone, ip)
        network = ipaddress.IPv4Network(ip)
        listings = self.zones.dnsbl.setdefault(zone, [])
        listings.append(network)
        self.listed.add(key)
        self.hits.pop(key, None)
        self.incidents.append(
            {
                "kind": "dnsbl_listing",
                "target": f"{ip} on {zone}",
                "start": now,
                "end": now + duration,
            }
        )

        def delist() -> None:
            if network in listings:
                listings.remove(network)
            self.listed.discard(key)

        call_later(self.env, duration, delist)
