"""TLS incidents (issue 14): a host presents another certificate, its TLSA records
change, a domain's MTA-STS policy changes or its policy host goes down, an attacker
on a link strips STARTTLS. They act on the run's ``TlsWorld`` (``smtpsim.mta.tls``),
which senders read at each session.

A certificate or TLSA change without an end is for good (a replacement); with an
end, the earlier value comes back (changes of one host that overlap are undone in
reverse order, as ``dns_change`` is). Outages and attackers are counted, so overlapping
ones end in any order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from ..mail.tls import Certificate, StsPolicy, Tlsa
from ..mta.tls import PublishedSts, TlsWorld

if TYPE_CHECKING:
    from ..scenario.incidents import Incident
    from .actions import Live

__all__ = [
    "certificate_change",
    "mta_sts_change",
    "mta_sts_down",
    "starttls_stripped",
    "tlsa_change",
]

Action = Callable[[float], None]


def _world(live: Live) -> TlsWorld:
    world = live.model.tls
    assert world is not None  # model.uses_tls: a TLS incident makes the run model TLS
    return world


def certificate_change(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = incident.certificate_change
    assert spec is not None  # make_action dispatches on the kind given
    world = _world(live)
    saved: list[Certificate] = []

    def apply(now: float) -> None:
        old = world.certificates[spec.host]
        saved.append(old)
        world.certificates[spec.host] = replace(
            old,
            names=tuple(spec.names) if spec.names is not None else old.names,
            not_before=spec.not_before if spec.not_before is not None else old.not_before,
            not_after=spec.not_after if spec.not_after is not None else old.not_after,
            key=spec.key if spec.key is not None else old.key,
            issuer=spec.issuer if spec.issuer is not None else old.issuer,
            trusted=spec.trusted if spec.trusted is not None else old.trusted,
            self_signed=spec.self_signed if spec.self_signed is not None else old.self_signed,
        )

    def revert(now: float) -> None:
        world.certificates[spec.host] = saved.pop()

    return apply, revert, spec.host


def tlsa_change(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = incident.tlsa_change
    assert spec is not None
    world = _world(live)
    saved: list[tuple[Tlsa, ...]] = []
    records = tuple(Tlsa.parse(r) for r in spec.records)

    def apply(now: float) -> None:
        saved.append(world.tlsa.get(spec.host, ()))
        world.tlsa[spec.host] = records

    def revert(now: float) -> None:
        world.tlsa[spec.host] = saved.pop()

    return apply, revert, spec.host


def mta_sts_change(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = incident.mta_sts_change
    assert spec is not None
    world = _world(live)
    saved: list[PublishedSts] = []

    def apply(now: float) -> None:
        old = world.sts[spec.zone]
        saved.append(old)
        p = old.policy
        world.sts[spec.zone] = replace(
            old,
            policy=StsPolicy(
                spec.mode if spec.mode is not None else p.mode,
                tuple(spec.mx) if spec.mx is not None else p.mx,
                spec.max_age if spec.max_age is not None else p.max_age,
                spec.id if spec.id is not None else p.id,
            ),
        )

    def revert(now: float) -> None:
        world.sts[spec.zone] = saved.pop()

    return apply, revert, spec.zone


def mta_sts_down(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    zone = incident.mta_sts_down
    assert zone is not None
    world = _world(live)

    def apply(now: float) -> None:
        world.sts_down[zone] = world.sts_down.get(zone, 0) + 1

    def revert(now: float) -> None:
        world.sts_down[zone] -= 1
        if not world.sts_down[zone]:
            del world.sts_down[zone]

    return apply, revert, f"mta-sts.{zone}"


def starttls_stripped(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    ends = incident.starttls_stripped
    assert ends is not None
    world = _world(live)
    link = live.model.network.link(*ends)

    def apply(now: float) -> None:
        world.stripped[link] = world.stripped.get(link, 0) + 1

    def revert(now: float) -> None:
        world.stripped[link] -= 1
        if not world.stripped[link]:
            del world.stripped[link]

    return apply, revert, f"{ends[0]}-{ends[1]}"
