"""Cross-reference checks of the names policies and incidents use.

Every name a policy or an incident uses must exist (a DNSBL zone that no ``dns`` entry
defines would leave a ``dnsbl`` policy blocking nothing, silently): hosts, links, zones
(DNSBL zones with ``dnsbl: true``), a host's policies, spam classes' sender domains (a
flow must send from them), and the addresses DNSBL incidents list. Like the other
checks (:mod:`smtpsim.scenario.checks`) they read the raw scenario mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from . import _names
from .problems import Problem
from .raw import YamlMap
from .world import World, as_dict, as_list, domain_or_none, unknown_host

__all__ = ["dnsbl_listing_problems", "incident_problems", "policy_problems"]

_HOST_KINDS = ("host_down", "host_crash", "host_slow", "server_errors", "disk_full", "policy")
_ZONE_KINDS = ("dns_failure", "dns_change", "dnsbl_list", "dnsbl_delist")


def incident_problems(world: World, data: YamlMap) -> Iterable[Problem]:
    """Incidents must name links, hosts and zones the scenario has."""
    links = set()
    for link in as_list(data.get("links")):
        ends = as_list(as_dict(link).get("between"))
        if len(ends) == 2:
            links.add(frozenset(str(e) for e in ends))
    for i, raw in enumerate(as_list(data.get("incidents"))):
        incident = as_dict(raw)
        base = f"incidents[{i}]"
        for kind in ("link_down", "link_congestion"):
            if kind not in incident:
                continue
            value = incident[kind]
            ends = as_list(value) if kind == "link_down" else as_list(as_dict(value).get("link"))
            path = f"{base}.{kind}" if kind == "link_down" else f"{base}.{kind}.link"
            if len(ends) == 2 and frozenset(str(e) for e in ends) not in links:
                yield Problem(path, f"no link between {ends[0]} and {ends[1]}")
        for kind in _HOST_KINDS:
            if kind not in incident:
                continue
            value = incident[kind]
            host = value if isinstance(value, str) else as_dict(value).get("host")
            path = f"{base}.{kind}" if isinstance(value, str) else f"{base}.{kind}.host"
            if isinstance(host, str) and host not in world.hosts:
                yield Problem(path, unknown_host(host, world))
            elif kind == "policy" and isinstance(host, str):
                wanted = as_dict(value).get("policy")
                kinds = {
                    k
                    for item in as_list(as_dict(world.hosts[host]).get("policies"))
                    for k in as_dict(item)
                    if isinstance(k, str)
                }
                if isinstance(wanted, str) and wanted not in kinds:
                    have = ", ".join(sorted(kinds)) or "none"
                    yield Problem(
                        f"{base}.policy.policy",
                        f"host {host} has no {wanted} policy (it has: {have})",
                    )
        for kind in _ZONE_KINDS:
            if kind not in incident:
                continue
            value = incident[kind]
            zone = value if isinstance(value, str) else as_dict(value).get("zone")
            resolver = None if isinstance(value, str) else as_dict(value).get("resolver")
            if isinstance(resolver, str) and resolver not in world.hosts:
                yield Problem(f"{base}.{kind}.resolver", unknown_host(resolver, world))
            path = f"{base}.{kind}" if isinstance(value, str) else f"{base}.{kind}.zone"
            domain = domain_or_none(zone)
            if domain is None:
                continue
            entry = world.dns.get(domain)
            if entry is None:
                yield Problem(path, f"no dns entry for {domain}")
            elif kind.startswith("dnsbl") and entry[1].get("dnsbl") is not True:
                yield Problem(path, f"{domain} is not a DNSBL zone (set dnsbl: true in dns)")
            if kind == "dns_change":
                change = as_dict(value)
                for target in as_dict(change.get("mx")):
                    if isinstance(target, str) and target not in world.hosts:
                        yield Problem(f"{base}.dns_change.mx.{target}", unknown_host(target, world))
                a_host = change.get("a")
                if isinstance(a_host, str) and a_host not in world.hosts:
                    yield Problem(f"{base}.dns_change.a", unknown_host(a_host, world))


def _sender_domains(world: World, data: YamlMap) -> set[str]:
    """The domains mail is sent from: each flow's sender_domain (filled in by default)."""
    out = set()
    for flow in as_dict(data.get("traffic")).values():
        domain = domain_or_none(as_dict(flow).get("sender_domain"))
        if domain is not None:
            out.add(domain)
    return out


def _dnsbl_zone_problem(world: World, path: str, zone: object) -> Iterable[Problem]:
    domain = domain_or_none(zone)
    if domain is None:
        return
    entry = world.dns.get(domain)
    if entry is None:
        yield Problem(path, f"no dns entry for {domain} (add dns: {{{domain}: {{dnsbl: true}}}})")
    elif entry[1].get("dnsbl") is not True:
        yield Problem(path, f"{domain} is not a DNSBL zone (set dnsbl: true in dns.{entry[0]})")


def policy_problems(world: World, data: YamlMap) -> Iterable[Problem]:
    """Names a host's receiving policies use: DNSBL zones, sender domains of spam classes.

    A name that matches nothing would leave the policy silently doing nothing (a DNSBL
    check that never finds a listing, a spam class no message falls in).
    """
    senders = _sender_domains(world, data)
    for key, host in world.hosts.items():
        for i, raw in enumerate(as_list(host.get("policies"))):
            item = as_dict(raw)
            base = f"hosts.{key}.policies[{i}]"
            dnsbl = as_dict(item.get("dnsbl"))
            for j, zone in enumerate(as_list(dnsbl.get("zones"))):
                yield from _dnsbl_zone_problem(world, f"{base}.dnsbl.zones[{j}]", zone)
            spam = as_dict(item.get("spam_filter"))
            for name, cls in as_dict(spam.get("classes")).items():
                for j, raw_domain in enumerate(as_list(as_dict(cls).get("domains"))):
                    domain = domain_or_none(raw_domain)
                    if domain is not None and domain not in senders:
                        have = ", ".join(sorted(senders)) or "none"
                        yield Problem(
                            f"{base}.spam_filter.classes.{name}.domains[{j}]",
                            f"no flow sends from {domain}, so this class matches no message "
                            f"(flows send from: {have})",
                        )


def _addresses(data: YamlMap) -> list[ipaddress.IPv4Address]:
    """The hosts' and flows' addresses (after defaults are filled in)."""
    out = []
    for group in ("hosts", "traffic"):
        for item in as_dict(data.get(group)).values():
            try:
                out.append(ipaddress.IPv4Address(_names.normalize_ipv4(as_dict(item).get("ip"))))
            except (ValueError, TypeError):
                continue
    return out


def dnsbl_listing_problems(world: World, data: YamlMap) -> Iterable[Problem]:
    """Listing rules need a DNSBL zone; a listed address must be one the scenario has."""
    for raw, zone in world.dns.values():
        if zone.get("listing") is not None and zone.get("dnsbl") is not True:
            yield Problem(
                f"dns.{raw}.listing",
                f"only a DNSBL zone lists addresses (set dnsbl: true in dns.{raw})",
            )
    addresses = _addresses(data)
    for i, raw_incident in enumerate(as_list(data.get("incidents"))):
        incident = as_dict(raw_incident)
        for kind in ("dnsbl_list", "dnsbl_delist"):
            ip = as_dict(incident.get(kind)).get("ip")
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
