"""Cross-reference checks: names that must exist, a topology that must connect.

They work on the raw scenario mapping (what YAML gave, after overrides), defensively,
so that they report their problems even when field validation failed elsewhere: one
run of ``smtpsim validate`` lists a typo, a bad value, a dangling MX and an unreachable
domain together. They also accept ``Scenario.model_dump()`` output.

The route a message takes (``world.World.route``): from the flow's ``submit_to`` host
along ``relayhost`` hops (stopping early at a host that accepts the domain), then to the
domain's MX hosts (or, for an implicit MX, its A host or the host whose name it is).
A domain without a ``dns`` entry is reachable only if a host on the relay chain
accepts it or a host has its name. Each hop must be
connected by links (an undirected graph including routers). Bounces are checked the
same way, from each receiving host back to the flow's sender domain.

Every name a policy or an incident uses must exist too
(:mod:`smtpsim.scenario.used_names`).
"""

from __future__ import annotations

from collections.abc import Iterable

from . import _names
from .defaults import fill_defaults
from .problems import Problem
from .raw import YamlMap
from .retrieval import retrieval_problems
from .tls_checks import tls_problems
from .units import format_duration, parse_duration
from .used_names import dnsbl_listing_problems, incident_problems, policy_problems
from .world import World, as_dict, as_list, domain_or_none, unknown_host

__all__ = ["reference_problems"]

_SUBMIT_ROLES = ("msa", "mta", "relay")


def _check_run(data: YamlMap) -> Iterable[Problem]:
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


def _check_names(world: World) -> Iterable[Problem]:
    seen_routers: set[str] = set()
    for i, router in enumerate(world.routers):
        if router in world.hosts:
            yield Problem(f"routers[{i}]", f"{router!r} is also a host key")
        if router in seen_routers:
            yield Problem(f"routers[{i}]", f"duplicate router {router!r}")
        seen_routers.add(router)


def _check_links(world: World) -> Iterable[Problem]:
    nodes = set(world.hosts) | set(world.routers)
    pairs: dict[frozenset[object], int] = {}
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


def _check_hosts(world: World, data: YamlMap) -> Iterable[Problem]:
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
    for name, flow in as_dict(data.get("traffic")).items():
        yield from _check_ip(
            f"traffic.{name}.ip", as_dict(flow).get("ip"), f"traffic.{name}", owners
        )

    for key in world.hosts:
        base = f"hosts.{key}.postfix"
        relay = world.relayhost(key)
        if isinstance(relay, str):
            if relay == key:
                yield Problem(f"{base}.relayhost", "a host cannot be its own relayhost")
            elif relay not in world.hosts:
                yield Problem(f"{base}.relayhost", unknown_host(relay, world))
            elif not world.connected(key, relay):
                yield Problem(f"{base}.relayhost", f"{relay} is not connected to {key} by links")
        for i, fallback in enumerate(world.fallback_relays(key)):
            path = f"{base}.smtp_fallback_relay[{i}]"
            if not isinstance(fallback, str):
                continue
            if fallback == key:
                yield Problem(path, "a host cannot be its own fallback relay")
            elif fallback not in world.hosts:
                yield Problem(path, unknown_host(fallback, world))
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
                loop = chain[chain.index(relay) :]
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


def _check_ip(path: str, ip: object, owner: str, owners: dict[str, str]) -> Iterable[Problem]:
    if ip is None:
        return
    try:
        address = _names.normalize_ipv4(ip)
    except ValueError:
        return
    if address in owners:
        yield Problem(path, f"address {address} is also used by {owners[address]}")
    owners.setdefault(address, owner)


def _check_dns(world: World) -> Iterable[Problem]:
    for raw, zone in world.dns.values():
        mx = zone.get("mx")
        if isinstance(mx, dict):
            for host in mx:
                if isinstance(host, str) and host not in world.hosts:
                    yield Problem(f"dns.{raw}.mx.{host}", unknown_host(host, world))
        a_host = zone.get("a")
        if isinstance(a_host, str) and a_host not in world.hosts:
            yield Problem(f"dns.{raw}.a", unknown_host(a_host, world))


def _check_traffic(world: World, data: YamlMap) -> Iterable[Problem]:
    for name, raw_flow in as_dict(data.get("traffic")).items():
        flow = as_dict(raw_flow)
        base = f"traffic.{name}"
        submit = flow.get("submit_to")
        if not isinstance(submit, str):
            continue
        if submit not in world.hosts:
            yield Problem(f"{base}.submit_to", unknown_host(submit, world))
            continue
        role = world.hosts[submit].get("role")
        if isinstance(role, str) and role not in _SUBMIT_ROLES:
            yield Problem(
                f"{base}.submit_to",
                f"host {submit!r} has role {role}; a flow submits to an msa, mta or relay host",
            )
            continue

        client = as_dict(flow.get("client"))
        for key in ("relayhost", "smtp_fallback_relay"):
            if _names.host_list(client.get(key)) not in ((), [], None):
                yield Problem(
                    f"{base}.client.{key}",
                    f"must stay unset: the population always submits to {submit}",
                )

        sender = flow.get("sender_domain")
        if sender is None:
            accepts = as_list(world.hosts[submit].get("accepts"))
            sender = accepts[0] if accepts else None
            if sender is None:
                yield Problem(
                    f"{base}.sender_domain",
                    f"not given, and host {submit!r} accepts no domain to use instead",
                )
        sender = domain_or_none(sender) if sender is not None else None

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
        domains = as_dict(as_dict(flow.get("recipients")).get("domains"))
        for raw_domain in domains:
            domain = domain_or_none(raw_domain)
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


def reference_problems(data: object) -> list[Problem]:
    """Every cross-reference problem of a raw scenario mapping (unsorted, no duplicates)."""
    if not isinstance(data, dict):
        return []
    data = fill_defaults(data)
    world = World(data)
    found: list[Problem] = []
    for problems in (
        _check_run(data),
        _check_names(world),
        _check_links(world),
        _check_hosts(world, data),
        _check_dns(world),
        _check_traffic(world, data),
        incident_problems(world, data),
        policy_problems(world, data),
        dnsbl_listing_problems(world, data),
        retrieval_problems(world, data),
        tls_problems(world, data),
    ):
        found.extend(problems)
    return list(dict.fromkeys(found))
