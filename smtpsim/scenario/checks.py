"""Cross-reference checks: names that must exist, a topology that must connect.

They work on the raw scenario mapping (what YAML gave, after overrides), defensively,
so that they report their problems even when field validation failed elsewhere: one
run of ``smtpsim validate`` lists a typo, a bad value, a dangling MX and an unreachable
domain together. They also accept ``Scenario.model_dump()`` output.

The route a message takes, as checked here: from the flow's ``submit_to`` host along
``relayhost`` hops (stopping early at a host that accepts the domain), then to the
domain's MX hosts (or, for an implicit MX, its A host or the host whose name it is).
A domain without a ``dns`` entry is reachable only if a host on the relay chain
accepts it or a host has its name. Each hop must be
connected by links (an undirected graph including routers). Bounces are checked the
same way, from each receiving host back to the flow's sender domain.

Every name a policy or an incident uses must exist too (a DNSBL zone that no ``dns``
entry defines would leave a ``dnsbl`` policy blocking nothing, silently): hosts,
links, zones (DNSBL zones with ``dnsbl: true``), a host's policies, spam classes'
sender domains (a flow must send from them), and the addresses DNSBL incidents list.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from typing import Any

from . import _names
from .problems import Problem
from .units import format_duration, parse_duration

__all__ = ["reference_problems"]

_SUBMIT_ROLES = ("msa", "mta", "relay")


def _d(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _domain(value: Any) -> str | None:
    try:
        return _names.normalize_domain(value)
    except ValueError:
        return None


class _World:
    """The parts of a raw scenario the checks need, normalized where possible."""

    def __init__(self, data: dict[Any, Any]) -> None:
        self.hosts: dict[str, dict[Any, Any]] = {
            k: _d(v) for k, v in _d(data.get("hosts")).items() if isinstance(k, str)
        }
        routers = data.get("routers", ("internet",))
        self.routers = [r for r in _l(routers) if isinstance(r, str)]
        self.accepts: dict[str, set[str]] = {}
        for key, host in self.hosts.items():
            self.accepts[key] = {d for d in map(_domain, _l(host.get("accepts"))) if d}
        self.dns: dict[str, tuple[str, dict[Any, Any]]] = {}
        for raw, zone in _d(data.get("dns")).items():
            name = _domain(raw)
            if name is not None:
                self.dns[name] = (str(raw), _d(zone))
        self.links: list[tuple[int, list[Any]]] = [
            (i, _l(_d(link).get("between"))) for i, link in enumerate(_l(data.get("links")))
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
        return a == b or (
            a in self.component and self.component.get(a) == self.component.get(b)
        )

    def postfix(self, host: str) -> dict[Any, Any]:
        return _d(self.hosts.get(host, {}).get("postfix"))

    def relayhost(self, host: str) -> Any:
        return _names.optional_host(self.postfix(host).get("relayhost"))

    def fallback_relays(self, host: str) -> list[Any]:
        return _l(_names.host_list(self.postfix(host).get("smtp_fallback_relay")))

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
                return chain, [], (
                    f"it has no dns entry (hosts.{accepting[0]} accepts it; add "
                    f"dns: {{{domain}: {hint}}})"
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
                return chain, reached, (
                    f"MX host {', '.join(cut)} {'is' if len(cut) == 1 else 'are'} not "
                    f"connected to {current} by links"
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
            name = _d(raw).get("name")
            name = name if isinstance(name, str) else f"{key}.sim.example"
            if name.strip().rstrip(".").lower() == domain:
                return key
        return None

    def _implicit(self, chain: list[str], current: str,
                  host: str) -> tuple[list[str], list[str], str | None]:
        """RFC 5321 section 5.1: no MX records, so the domain's own address is used."""
        if not self.connected(current, host):
            return chain, [], f"its address (host {host}) is not connected to {current} by links"
        return chain, [host], None


def _unknown_host(name: Any, world: _World, what: str = "host") -> str:
    return f"unknown {what} {name!r}{_names.suggest(str(name), world.hosts)}"


def _check_run(data: dict[Any, Any]) -> Iterable[Problem]:
    try:
        duration = parse_duration(data.get("duration"))
        warmup = parse_duration(data.get("warmup", 0))
    except ValueError:
        return
    if warmup >= duration:
        yield Problem(
            "warmup",
            f"must be shorter than duration ({format_duration(duration)}), got "
            f"{format_duration(warmup)}",
        )


def _check_names(world: _World) -> Iterable[Problem]:
    seen_routers: set[str] = set()
    for i, router in enumerate(world.routers):
        if router in world.hosts:
            yield Problem(f"routers[{i}]", f"{router!r} is also a host key")
        if router in seen_routers:
            yield Problem(f"routers[{i}]", f"duplicate router {router!r}")
        seen_routers.add(router)


def _check_links(world: _World) -> Iterable[Problem]:
    nodes = set(world.hosts) | set(world.routers)
    pairs: dict[frozenset[Any], int] = {}
    for i, ends in world.links:
        for j, end in enumerate(ends[:2]):
            if isinstance(end, str) and end not in nodes:
                yield Problem(
                    f"links[{i}].between[{j}]",
                    f"unknown host or router {end!r}{_names.suggest(end, nodes)}",
                )
        if len(ends) == 2 and all(isinstance(e, str) for e in ends) and ends[0] != ends[1]:
            pair = frozenset(ends)
            if pair in pairs:
                yield Problem(
                    f"links[{i}]",
                    f"duplicate link between {ends[0]} and {ends[1]} (see links[{pairs[pair]}])",
                )
            pairs.setdefault(pair, i)
    if len(world.hosts) > 1:
        linked = {e for _, ends in world.links for e in ends if isinstance(e, str)}
        for host in world.hosts:
            if host not in linked:
                yield Problem(f"hosts.{host}", "not connected to any link")


def _check_hosts(world: _World, data: dict[Any, Any]) -> Iterable[Problem]:
    owners: dict[str, str] = {}
    names: dict[str, str] = {}
    for key, host in world.hosts.items():
        name = host.get("name")
        if isinstance(name, str):
            if name.lower() in names:
                yield Problem(
                    f"hosts.{key}.name", f"{name} is also the name of hosts.{names[name.lower()]}"
                )
            names.setdefault(name.lower(), key)
        for path, ip in ((f"hosts.{key}.ip", host.get("ip")),):
            yield from _check_ip(path, ip, f"hosts.{key}", owners)
    for key, flow in _d(data.get("traffic")).items():
        yield from _check_ip(f"traffic.{key}.ip", _d(flow).get("ip"), f"traffic.{key}", owners)

    for key in world.hosts:
        base = f"hosts.{key}.postfix"
        relay = world.relayhost(key)
        if isinstance(relay, str):
            if relay == key:
                yield Problem(f"{base}.relayhost", "a host cannot be its own relayhost")
            elif relay not in world.hosts:
                yield Problem(f"{base}.relayhost", _unknown_host(relay, world))
            elif not world.connected(key, relay):
                yield Problem(f"{base}.relayhost", f"{relay} is not connected to {key} by links")
        for i, fallback in enumerate(world.fallback_relays(key)):
            path = f"{base}.smtp_fallback_relay[{i}]"
            if not isinstance(fallback, str):
                continue
            if fallback == key:
                yield Problem(path, "a host cannot be its own fallback relay")
            elif fallback not in world.hosts:
                yield Problem(path, _unknown_host(fallback, world))
            elif not world.connected(key, fallback):
                yield Problem(path, f"{fallback} is not connected to {key} by links")

    # relayhost loops, reported once, at the first host of the loop (by key)
    reported: set[frozenset[str]] = set()
    for key in world.hosts:
        chain = [key]
        while True:
            relay = world.relayhost(chain[-1])
            if not isinstance(relay, str) or relay not in world.hosts or relay == chain[-1]:
                break
            if relay in chain:
                loop = chain[chain.index(relay):]
                members = frozenset(loop)
                if members not in reported:
                    reported.add(members)
                    first = min(loop)
                    at = loop.index(first)
                    ordered = [*loop[at:], *loop[:at], first]
                    yield Problem(
                        f"hosts.{first}.postfix.relayhost",
                        f"relayhost loop: {' -> '.join(ordered)}",
                    )
                break
            chain.append(relay)


def _check_ip(path: str, ip: Any, owner: str, owners: dict[str, str]) -> Iterable[Problem]:
    if ip is None:
        return
    try:
        address = _names.normalize_ipv4(ip)
    except ValueError:
        return
    if address in owners:
        yield Problem(path, f"address {address} is also used by {owners[address]}")
    owners.setdefault(address, owner)


def _check_dns(world: _World) -> Iterable[Problem]:
    for raw, zone in world.dns.values():
        mx = zone.get("mx")
        if isinstance(mx, dict):
            for host in mx:
                if isinstance(host, str) and host not in world.hosts:
                    yield Problem(f"dns.{raw}.mx.{host}", _unknown_host(host, world))
        a_host = zone.get("a")
        if isinstance(a_host, str) and a_host not in world.hosts:
            yield Problem(f"dns.{raw}.a", _unknown_host(a_host, world))


def _check_traffic(world: _World, data: dict[Any, Any]) -> Iterable[Problem]:
    for name, raw_flow in _d(data.get("traffic")).items():
        flow = _d(raw_flow)
        base = f"traffic.{name}"
        submit = flow.get("submit_to")
        if not isinstance(submit, str):
            continue
        if submit not in world.hosts:
            yield Problem(f"{base}.submit_to", _unknown_host(submit, world))
            continue
        role = world.hosts[submit].get("role")
        if isinstance(role, str) and role not in _SUBMIT_ROLES:
            yield Problem(
                f"{base}.submit_to",
                f"host {submit!r} has role {role}; a flow submits to an msa, mta or relay host",
            )
            continue

        client = _d(flow.get("client"))
        for key in ("relayhost", "smtp_fallback_relay"):
            if _names.host_list(client.get(key)) not in ((), [], None):
                yield Problem(
                    f"{base}.client.{key}",
                    f"must stay unset: the population always submits to {submit}",
                )

        sender = flow.get("sender_domain")
        if sender is None:
            accepts = _l(world.hosts[submit].get("accepts"))
            sender = accepts[0] if accepts else None
            if sender is None:
                yield Problem(
                    f"{base}.sender_domain",
                    f"not given, and host {submit!r} accepts no domain to use instead",
                )
        sender = _domain(sender) if sender is not None else None

        senders = flow.get("senders", 100)
        if sender is not None and isinstance(senders, int):
            for host in world.acceptors(sender):
                boxes = world.hosts[host].get("mailboxes", 1000)
                if isinstance(boxes, int) and not isinstance(boxes, bool) and boxes < senders:
                    yield Problem(
                        f"{base}.senders",
                        f"{senders} senders, but hosts.{host} has only {boxes} mailboxes in "
                        f"{sender} (bounces to the others would bounce again)",
                    )

        receivers: set[str] = set()
        domains = _d(_d(flow.get("recipients")).get("domains"))
        for raw_domain in domains:
            domain = _domain(raw_domain)
            if domain is None:
                continue
            chain, reached, why = world.route(submit, domain)
            receivers.update(chain)
            receivers.update(reached)
            if why is not None:
                yield Problem(
                    f"{base}.recipients.domains.{raw_domain}",
                    f"domain {domain} cannot be reached from {submit}: {why}",
                )

        if sender is None:
            continue
        for host in sorted(receivers):
            _, _, why = world.route(host, sender)
            if why is not None:
                yield Problem(
                    f"{base}.sender_domain",
                    f"bounces to {sender} cannot be reached from {host}: {why}",
                )


_HOST_KINDS = ("host_down", "host_crash", "host_slow", "server_errors", "disk_full", "policy")
_ZONE_KINDS = ("dns_failure", "dns_change", "dnsbl_list", "dnsbl_delist")


def _check_incidents(world: _World, data: dict[Any, Any]) -> Iterable[Problem]:
    """Incidents must name links, hosts and zones the scenario has."""
    links = set()
    for link in _l(data.get("links")):
        ends = _l(_d(link).get("between"))
        if len(ends) == 2:
            links.add(frozenset(str(e) for e in ends))
    for i, raw in enumerate(_l(data.get("incidents"))):
        incident = _d(raw)
        base = f"incidents[{i}]"
        for kind in ("link_down", "link_congestion"):
            if kind not in incident:
                continue
            value = incident[kind]
            ends = _l(value) if kind == "link_down" else _l(_d(value).get("link"))
            path = f"{base}.{kind}" if kind == "link_down" else f"{base}.{kind}.link"
            if len(ends) == 2 and frozenset(str(e) for e in ends) not in links:
                yield Problem(path, f"no link between {ends[0]} and {ends[1]}")
        for kind in _HOST_KINDS:
            if kind not in incident:
                continue
            value = incident[kind]
            host = value if isinstance(value, str) else _d(value).get("host")
            path = f"{base}.{kind}" if isinstance(value, str) else f"{base}.{kind}.host"
            if isinstance(host, str) and host not in world.hosts:
                yield Problem(path, _unknown_host(host, world))
            elif kind == "policy" and isinstance(host, str):
                wanted = _d(value).get("policy")
                kinds = {k for item in _l(_d(world.hosts[host]).get("policies"))
                         for k in _d(item)}
                if isinstance(wanted, str) and wanted not in kinds:
                    have = ", ".join(sorted(kinds)) or "none"
                    yield Problem(f"{base}.policy.policy",
                                  f"host {host} has no {wanted} policy (it has: {have})")
        for kind in _ZONE_KINDS:
            if kind not in incident:
                continue
            value = incident[kind]
            zone = value if isinstance(value, str) else _d(value).get("zone")
            resolver = None if isinstance(value, str) else _d(value).get("resolver")
            if isinstance(resolver, str) and resolver not in world.hosts:
                yield Problem(f"{base}.{kind}.resolver", _unknown_host(resolver, world))
            path = f"{base}.{kind}" if isinstance(value, str) else f"{base}.{kind}.zone"
            domain = _domain(zone)
            if domain is None:
                continue
            entry = world.dns.get(domain)
            if entry is None:
                yield Problem(path, f"no dns entry for {domain}")
            elif kind.startswith("dnsbl") and entry[1].get("dnsbl") is not True:
                yield Problem(path, f"{domain} is not a DNSBL zone (set dnsbl: true in dns)")
            if kind == "dns_change":
                change = _d(value)
                for target in _d(change.get("mx")):
                    if isinstance(target, str) and target not in world.hosts:
                        yield Problem(f"{base}.dns_change.mx.{target}",
                                      _unknown_host(target, world))
                a_host = change.get("a")
                if isinstance(a_host, str) and a_host not in world.hosts:
                    yield Problem(f"{base}.dns_change.a", _unknown_host(a_host, world))


def _sender_domains(world: _World, data: dict[Any, Any]) -> set[str]:
    """The domains mail is sent from: each flow's sender_domain (filled in by default)."""
    out = set()
    for flow in _d(data.get("traffic")).values():
        domain = _domain(_d(flow).get("sender_domain"))
        if domain is not None:
            out.add(domain)
    return out


def _dnsbl_zone_problem(world: _World, path: str, zone: Any) -> Iterable[Problem]:
    domain = _domain(zone)
    if domain is None:
        return
    entry = world.dns.get(domain)
    if entry is None:
        yield Problem(path, f"no dns entry for {domain} (add dns: {{{domain}: {{dnsbl: true}}}})")
    elif entry[1].get("dnsbl") is not True:
        yield Problem(path, f"{domain} is not a DNSBL zone (set dnsbl: true in dns.{entry[0]})")


def _check_policies(world: _World, data: dict[Any, Any]) -> Iterable[Problem]:
    """Names a host's receiving policies use: DNSBL zones, sender domains of spam classes.

    A name that matches nothing would leave the policy silently doing nothing (a DNSBL
    check that never finds a listing, a spam class no message falls in).
    """
    senders = _sender_domains(world, data)
    for key, host in world.hosts.items():
        for i, raw in enumerate(_l(host.get("policies"))):
            item = _d(raw)
            base = f"hosts.{key}.policies[{i}]"
            dnsbl = _d(item.get("dnsbl"))
            for j, zone in enumerate(_l(dnsbl.get("zones"))):
                yield from _dnsbl_zone_problem(world, f"{base}.dnsbl.zones[{j}]", zone)
            spam = _d(item.get("spam_filter"))
            for name, cls in _d(spam.get("classes")).items():
                for j, raw_domain in enumerate(_l(_d(cls).get("domains"))):
                    domain = _domain(raw_domain)
                    if domain is not None and domain not in senders:
                        have = ", ".join(sorted(senders)) or "none"
                        yield Problem(
                            f"{base}.spam_filter.classes.{name}.domains[{j}]",
                            f"no flow sends from {domain}, so this class matches no message "
                            f"(flows send from: {have})",
                        )


def _addresses(data: dict[Any, Any]) -> list[ipaddress.IPv4Address]:
    """The hosts' and flows' addresses (after defaults are filled in)."""
    out = []
    for group in ("hosts", "traffic"):
        for item in _d(data.get(group)).values():
            try:
                out.append(ipaddress.IPv4Address(_names.normalize_ipv4(_d(item).get("ip"))))
            except (ValueError, TypeError):
                continue
    return out


def _check_dnsbl_listings(world: _World, data: dict[Any, Any]) -> Iterable[Problem]:
    """Listing rules need a DNSBL zone; a listed address must be one the scenario has."""
    for raw, zone in world.dns.values():
        if zone.get("listing") is not None and zone.get("dnsbl") is not True:
            yield Problem(
                f"dns.{raw}.listing",
                f"only a DNSBL zone lists addresses (set dnsbl: true in dns.{raw})",
            )
    addresses = _addresses(data)
    for i, raw_incident in enumerate(_l(data.get("incidents"))):
        incident = _d(raw_incident)
        for kind in ("dnsbl_list", "dnsbl_delist"):
            ip = _d(incident.get(kind)).get("ip")
            if not isinstance(ip, str):
                continue
            try:
                network = ipaddress.IPv4Network(ip.strip(), strict=False)
            except ValueError:
                continue  # reported by the schema
            if not any(a in network for a in addresses):
                yield Problem(
                    f"incidents[{i}].{kind}.ip",
                    f"{ip} is the address of no host or flow, so the {kind} changes nothing",
                )


def reference_problems(data: Any) -> list[Problem]:
    """Every cross-reference problem of a raw scenario mapping (unsorted, no duplicates)."""
    if not isinstance(data, dict):
        return []
    from .schema import _fill_defaults

    data = _fill_defaults(data)
    world = _World(data)
    found: list[Problem] = []
    for problems in (
        _check_run(data),
        _check_names(world),
        _check_links(world),
        _check_hosts(world, data),
        _check_dns(world),
        _check_traffic(world, data),
        _check_incidents(world, data),
        _check_policies(world, data),
        _check_dnsbl_listings(world, data),
    ):
        found.extend(problems)
    return list(dict.fromkeys(found))
