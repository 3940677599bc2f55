"""Checks of a scenario's TLS settings (issue 14): problems, and warnings.

Problems (exit code 2, with their paths): a TLS incident naming a host, zone or link
the scenario does not have, an MTA-STS incident for a domain that publishes no
policy. An unknown ``smtp_tls_security_level`` is rejected by the schema itself.

Warnings (printed, the scenario still runs): settings that are legal but do not do
what they seem to, such as a ``dane`` level while no host has TLSA records (Postfix
then uses ``may`` everywhere: ``smtp_tls_policy.c``, "no TLSA records found"), or
senders honouring MTA-STS when no domain publishes a policy. Like the other checks
they read the raw mapping (``smtpsim.scenario.checks``); warnings read the loaded
``Scenario``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .problems import Problem
from .raw import YamlMap
from .world import World, as_dict, as_list, domain_or_none, unknown_host

if TYPE_CHECKING:
    from .schema import Scenario

__all__ = ["tls_problems", "tls_warnings"]

_HOST_KINDS = ("certificate_change", "tlsa_change")
_STS_KINDS = ("mta_sts_change", "mta_sts_down")


def tls_problems(world: World, data: YamlMap) -> Iterable[Problem]:
    """TLS incidents must name hosts, links and MTA-STS domains the scenario has."""
    links = set()
    for _, ends in world.links:
        if len(ends) == 2:
            links.add(frozenset(str(e) for e in ends))
    for i, raw in enumerate(as_list(data.get("incidents"))):
        incident = as_dict(raw)
        base = f"incidents[{i}]"
        for kind in _HOST_KINDS:
            host = as_dict(incident.get(kind)).get("host")
            if isinstance(host, str) and host not in world.hosts:
                yield Problem(f"{base}.{kind}.host", unknown_host(host, world))
        for kind in _STS_KINDS:
            if kind not in incident:
                continue
            value = incident[kind]
            zone = value if isinstance(value, str) else as_dict(value).get("zone")
            path = f"{base}.{kind}" if isinstance(value, str) else f"{base}.{kind}.zone"
            domain = domain_or_none(zone)
            if domain is None:
                continue
            entry = world.dns.get(domain)
            if entry is None:
                yield Problem(path, f"no dns entry for {domain}")
            elif not isinstance(entry[1].get("mta_sts"), dict):
                yield Problem(
                    path, f"{domain} publishes no MTA-STS policy (add mta_sts to dns.{entry[0]})"
                )
        ends = as_list(incident.get("starttls_stripped"))
        if len(ends) == 2 and frozenset(str(e) for e in ends) not in links:
            yield Problem(f"{base}.starttls_stripped", f"no link between {ends[0]} and {ends[1]}")


def tls_warnings(scenario: Scenario) -> list[Problem]:
    """Legal TLS settings that do not do what they seem to (module docstring)."""
    has_tlsa = any(h.tls is not None and h.tls.tlsa for h in scenario.hosts.values()) or any(
        i.tlsa_change is not None and i.tlsa_change.records for i in scenario.incidents
    )
    has_sts = any(z.mta_sts is not None for z in scenario.dns.values())
    out: list[Problem] = []
    for key, host in scenario.hosts.items():
        p = host.postfix
        base = f"hosts.{key}.postfix"
        if not has_tlsa:
            if p.smtp_tls_security_level == "dane":
                out.append(
                    Problem(
                        f"{base}.smtp_tls_security_level",
                        "dane, but no host has TLSA records (hosts.*.tls.tlsa): Postfix "
                        "uses may for every destination without them",
                    )
                )
            for domain, level in p.smtp_tls_policy_maps.items():
                if level == "dane":
                    out.append(
                        Problem(
                            f"{base}.smtp_tls_policy_maps.{domain}",
                            "dane, but no host has TLSA records (hosts.*.tls.tlsa): Postfix "
                            "uses may for this destination",
                        )
                    )
        if p.smtp_tls_mta_sts and not has_sts:
            out.append(
                Problem(
                    f"{base}.smtp_tls_mta_sts",
                    "true, but no domain publishes an MTA-STS policy (dns.*.mta_sts)",
                )
            )
    return out
