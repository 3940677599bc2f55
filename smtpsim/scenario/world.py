"""The parts of a raw scenario mapping the cross-reference checks need: hosts, links and
their connected components, DNS entries, and the route a message takes.

The route, as checked: from the flow's ``submit_to`` host along ``relayhost`` hops
(stopping early at a host that accepts the domain), then to the domain's MX hosts (or,
for an implicit MX, its A host or the host whose name it is; RFC 5321 section 5.1).
"""

from __future__ import annotations

from collections import deque

from . import _names
from .raw import YamlMap

__all__ = ["World", "as_dict", "as_list", "domain_or_none", "unknown_host"]


def as_dict(value: object) -> YamlMap:
    """``value`` if it is a mapping, else an empty one (raw data may be anything)."""
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[object]:
    """``value`` as a list if it is a list or tuple, else an empty one."""
    return list(value) if isinstance(value, list | tuple) else []


def domain_or_none(value: object) -> str | None:
    """The normalized domain name, or None if ``value`` is not one."""
    try:
        return _names.normalize_domain(value)
    except ValueError:
        return None


class World:
    """The parts of a raw scenario the checks need, normalized where possible."""

    def __init__(self, data: YamlMap) -> None:
        self.hosts: dict[str, YamlMap] = {
            k: as_dict(v) for k, v in as_dict(data.get("hosts")).items() if isinstance(k, str)
        }
        routers = data.get("routers", ("internet",))
        self.routers = [r for r in as_list(routers) if isinstance(r, str)]
        self.accepts: dict[str, set[str]] = {}
        for key, host in self.hosts.items():
            self.accepts[key] = {d for d in map(domain_or_none, as_list(host.get("accepts"))) if d}
        self.dns: dict[str, tuple[str, YamlMap]] = {}
        for raw, zone in as_dict(data.get("dns")).items():
            name = domain_or_none(raw)
            if name is not None:
                self.dns[name] = (str(raw), as_dict(zone))
        self.links: list[tuple[int, list[object]]] = [
            (i, as_list(as_dict(link).get("between")))
            for i, link in enumerate(as_list(data.get("links")))
        ]
        nodes = set(self.hosts) | set(self.routers)
        adjacency: dict[str, set[str]] = {n: set() for n in nodes}
        for _, ends in self.links:
            if len(ends) == 2 and ends[0] in nodes and ends[1] in nodes and ends[0] != ends[1]:
                adjacency[ends[0]].add(ends[1])
                adjacency[ends[1]].add(ends[0])
        self.component: dict[str, int] = {}
        for start in sorted(nodes):
            if start in self.component:
                continue
            queue = deque([start])
            self.component[start] = len(self.component)
            label = self.component[start]
            while queue:
                node = queue.popleft()
                for nxt in adjacency[node]:
                    if nxt not in self.component:
                        self.component[nxt] = label
                        queue.append(nxt)

    def connected(self, a: str, b: str) -> bool:
        return a == b or (a in self.component and self.component.get(a) == self.component.get(b))

    def postfix(self, host: str) -> YamlMap:
        return as_dict(self.hosts.get(host, {}).get("postfix"))

    def relayhost(self, host: str) -> object:
        return _names.optional_host(self.postfix(host).get("relayhost"))

    def fallback_relays(self, host: str) -> list[object]:
        return as_list(_names.host_list(self.postfix(host).get("smtp_fallback_relay")))

    def acceptors(self, domain: str) -> list[str]:
        return [h for h, doms in self.accepts.items() if domain in doms]

    def route(self, start: str, domain: str) -> tuple[list[str], list[str], str | None]:
        """(relay chain from start, hosts that receive the mail, why it cannot be reached).

        Problems of the relay chain itself (unknown host, loop, no link) are reported
        at the hosts; here they end the route silently.
        """
        chain = [start]
        current = start
        while domain not in self.accepts.get(current, set()):
            relay = self.relayhost(current)
            if not isinstance(relay, str):
                break
            if relay not in self.hosts or relay in chain or not self.connected(current, relay):
                return chain, [], None
            chain.append(relay)
            current = relay
        else:
            return chain, [current], None
        entry = self.dns.get(domain)
        named = self.host_named(domain)
        if entry is None and named is not None:
            return self._implicit(chain, current, named)
        if entry is None:
            accepting = self.acceptors(domain)
            if accepting:
                hint = f"{{mx: {{{accepting[0]}: 10}}}}"
                return (
                    chain,
                    [],
                    (
                        f"it has no dns entry (hosts.{accepting[0]} accepts it; add "
                        f"dns: {{{domain}: {hint}}})"
                    ),
                )
            return chain, [], "no host accepts it and it has no dns entry"
        zone = entry[1]
        if zone.get("dnsbl") is True:
            return chain, [], "it is a DNSBL zone, not a mail domain"
        mx = zone.get("mx")
        if isinstance(mx, str) and mx.strip().lower() == "null":
            return chain, [], None  # null MX: mail to it bounces, by design
        if isinstance(mx, dict) and mx:
            targets = [h for h in mx if isinstance(h, str) and h in self.hosts]
            cut = [h for h in targets if not self.connected(current, h)]
            reached = [h for h in targets if h not in cut]
            if cut:
                return (
                    chain,
                    reached,
                    (
                        f"MX host {', '.join(cut)} {'is' if len(cut) == 1 else 'are'} not "
                        f"connected to {current} by links"
                    ),
                )
            return chain, reached, None
        a_host = zone.get("a")
        if isinstance(a_host, str):
            if a_host not in self.hosts:
                return chain, [], None  # reported at dns.<domain>.a
            if not self.connected(current, a_host):
                return chain, [], f"its A host {a_host} is not connected to {current} by links"
            return chain, [a_host], None
        if named is not None:
            return self._implicit(chain, current, named)
        return chain, [], "its dns entry has neither mx nor a"

    def host_named(self, domain: str) -> str | None:
        """The host whose DNS name is ``domain`` (its A record: an implicit MX)."""
        for key, raw in self.hosts.items():
            name = as_dict(raw).get("name")
            name = name if isinstance(name, str) else f"{key}.sim.example"
            if name.strip().rstrip(".").lower() == domain:
                return key
        return None

    def _implicit(
        self, chain: list[str], current: str, host: str
    ) -> tuple[list[str], list[str], str | None]:
        """RFC 5321 section 5.1: no MX records, so the domain's own address is used."""
        if not self.connected(current, host):
            return chain, [], f"its address (host {host}) is not connected to {current} by links"
        return chain, [host], None


def unknown_host(name: object, world: World, what: str = "host") -> str:
    """ "unknown host 'mx3'; did you mean 'mx2'?"."""
    return f"unknown {what} {name!r}{_names.suggest(str(name), world.hosts)}"
