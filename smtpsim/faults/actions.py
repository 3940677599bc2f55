"""What each kind of incident does to the live model, and how it is undone.

Each ``make_*`` returns ``(apply, revert)``: callables of the simulated time. They
act on links (up, latency, bandwidth, loss), hosts (SMTP service down, processing
speed, forced replies), DNS zones (failures, record changes) and DNSBL listings.
Incidents may overlap on one target and end in any order: a link's and a server's
state is recomputed from their own values and the incidents active on them (two
congestions, or two slowdowns, multiply).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ..mail import PolicySet, ReplyInjection
from ..mta import MailHost
from ..net import Link, ZoneData
from ..protocol import Reply, replies
from .access import access_down, access_slow
from .tls import certificate_change, mta_sts_change, mta_sts_down, starttls_stripped, tlsa_change

if TYPE_CHECKING:
    from ..model import Model
    from ..scenario.incidents import Incident, LinkCongestion

__all__ = ["Live", "RunState", "make_action"]

Action = Callable[[float], None]
_T = TypeVar("_T")
_Maker = Callable[["Incident", "Live"], tuple[Action, Action, str]]
# A link's own latency sampler, mean latency, bandwidth and loss, and the congestions on it.
_LinkBase = tuple[Callable[[], float], float, float, float, list["LinkCongestion"]]


class RunState:
    """What the incidents of one run share about their targets (``install`` makes
    one per run): a link's own values and the congestions on it, the incidents
    holding a link down, and each server's own side and the incidents changing it."""

    def __init__(self) -> None:
        self.link_base: dict[Link, _LinkBase] = {}
        self.link_down: dict[Link, list[str]] = {}
        self.servers: dict[MailHost, _ServerState] = {}

    def server(self, host: MailHost) -> _ServerState:
        state = self.servers.get(host)
        if state is None:
            state = self.servers[host] = _ServerState(host)
        return state


@dataclass(frozen=True)
class Live:
    """What one incident acts on: the run's model, what the incidents of the run
    share, and the incident's own random stream (for forced replies with a
    probability)."""

    model: Model
    state: RunState
    rng: np.random.Generator


def make_action(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    """``(apply, revert, label)`` for one incident; ``label`` names its target."""
    return _MAKERS[incident.kind](incident, live)


def _given(value: _T | None) -> _T:
    """The incident's kind field: set, since ``make_action`` dispatches on the kind given."""
    assert value is not None
    return value


def _link_down(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    ends = _given(incident.link_down)
    link = live.model.network.link(*ends)
    # the incidents holding the link down: it comes back when the last one ends
    holds = live.state.link_down.setdefault(link, [])

    def apply(now: float) -> None:
        holds.append("down")
        link.up = False

    def revert(now: float) -> None:
        holds.remove("down")
        link.up = not holds

    return apply, revert, f"{ends[0]}-{ends[1]}"


def _link_congestion(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.link_congestion)
    model = live.model
    link = model.network.link(*spec.link)
    # The link's own values, and the congestions now on it, shared by every
    # congestion incident of this link.
    base = live.state.link_base.setdefault(
        link, (link.latency, link.mean, link.bandwidth, link.loss, [])
    )
    active = base[4]

    def recompute() -> None:
        latency, mean, bandwidth, loss = base[:4]
        factor, added, share, survive = 1.0, 0.0, 1.0, 1.0 - loss
        for c in active:
            factor *= c.latency_factor
            added = added * c.latency_factor + c.added_latency
            share *= c.bandwidth_factor
            survive *= 1.0 - c.loss
        link.latency = latency if not active else (lambda: latency() * factor + added)
        link.mean = mean * factor + added
        link.bandwidth = bandwidth * share
        link.loss = 1.0 - survive
        model.network.invalidate()

    def apply(now: float) -> None:
        active.append(spec)
        recompute()

    def revert(now: float) -> None:
        active.remove(spec)
        recompute()

    return apply, revert, f"{spec.link[0]}-{spec.link[1]}"


def _host_down(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.host_down)
    host = live.model.hosts[spec.host]

    def apply(now: float) -> None:
        host.down_modes.append(spec.mode)

    def revert(now: float) -> None:
        host.down_modes.remove(spec.mode)

    return apply, revert, spec.host


def _host_crash(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.host_crash)
    host = live.model.hosts[spec.host]
    lose = spec.queue == "lost"

    def apply(now: float) -> None:
        host.crash(lose, now)

    def revert(now: float) -> None:
        host.restart(now)

    return apply, revert, spec.host


class _ServerState:
    """A host's server as built, and the incidents now changing it: the server side
    in use is always recomputed from these, so that incidents that overlap on one
    host can end in any order."""

    def __init__(self, host: MailHost) -> None:
        self.host = host
        self.base = host.server_side
        self.factors: list[float] = []
        self.forced: list[ReplyInjection] = []

    def recompute(self) -> None:
        side = self.base
        assert side is not None  # the scenario's checks: these incidents target a server
        if self.factors:
            factor = 1.0
            for f in self.factors:
                factor *= f
            g, c, e = side.greeting_delay, side.command_time, side.end_of_data_time
            side = replace(
                side,
                greeting_delay=lambda: g() * factor,
                command_time=lambda: c() * factor,
                end_of_data_time=lambda: e() * factor,
            )
        if self.forced:  # forced replies come before every policy
            side = replace(side, policies=PolicySet((*self.forced, *side.policies.policies)))
        self.host.server_side = side


def _host_slow(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.host_slow)
    state = live.state.server(live.model.hosts[spec.host])

    def apply(now: float) -> None:
        state.factors.append(spec.factor)
        state.recompute()

    def revert(now: float) -> None:
        state.factors.remove(spec.factor)
        state.recompute()

    return apply, revert, spec.host


def _forced_reply(host_key: str, policy: ReplyInjection, live: Live) -> tuple[Action, Action]:
    """Put ``policy`` first in the host's policies during the window."""
    state = live.state.server(live.model.hosts[host_key])

    def apply(now: float) -> None:
        state.forced.append(policy)
        state.recompute()

    def revert(now: float) -> None:
        state.forced.remove(policy)
        state.recompute()

    return apply, revert


def _server_errors(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.server_errors)
    policy = ReplyInjection(spec.phase, Reply.parse(spec.reply), spec.probability, live.rng)
    apply, revert = _forced_reply(spec.host, policy, live)
    return apply, revert, spec.host


def _disk_full(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.disk_full)
    policy = ReplyInjection("mail", replies.INSUFFICIENT_STORAGE, 1.0, live.rng)
    apply, revert = _forced_reply(spec.host, policy, live)
    return apply, revert, spec.host


def _dns_failure(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.dns_failure)
    model = live.model
    if spec.resolver is not None:
        resolver = model.hosts[spec.resolver].agent.resolver

        def fail(now: float) -> None:
            resolver.failing.append(spec.mode)

        def recover(now: float) -> None:
            resolver.failing.remove(spec.mode)

        return fail, recover, f"resolver of {spec.resolver}"
    failing = model.zones.timeouts if spec.mode == "timeout" else model.zones.servfail
    zone = _given(spec.zone)  # the model's validator: a zone or a resolver

    def apply(now: float) -> None:
        failing[zone] = failing.get(zone, 0) + 1

    def revert(now: float) -> None:
        failing[zone] -= 1
        if not failing[zone]:
            del failing[zone]

    return apply, revert, zone


def _dns_change(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.dns_change)
    zones = live.model.zones
    saved: list[ZoneData] = []

    def apply(now: float) -> None:
        old = zones.domains[spec.zone]
        saved.append(old)
        mx = spec.mx
        zones.domains[spec.zone] = replace(
            old,
            mx=tuple((pref, key) for key, pref in mx.items()) if isinstance(mx, dict) else None,
            null_mx=mx == "null",
            a=spec.a,
        )

    def revert(now: float) -> None:
        zones.domains[spec.zone] = saved.pop()

    return apply, revert, spec.zone


def _dnsbl(listing: bool) -> _Maker:
    def make(incident: Incident, live: Live) -> tuple[Action, Action, str]:
        spec = _given(incident.dnsbl_list if listing else incident.dnsbl_delist)
        network = ipaddress.IPv4Network(spec.ip)
        listings = live.model.zones.dnsbl.setdefault(spec.zone, [])

        def add(now: float) -> None:
            listings.append(network)

        def remove(now: float) -> None:
            if network in listings:
                listings.remove(network)

        return (add, remove, spec.zone) if listing else (remove, add, spec.zone)

    return make


# A policy switch's settings, as scenario names -> the policy's attribute names.
_SETTINGS = {
    "enabled": "enabled",
    "connections": "connection_count_limit",
    "connection_rate": "connection_rate_limit",
    "message_rate": "message_rate_limit",
    "recipient_rate": "recipient_rate_limit",
}


def _policy_switch(incident: Incident, live: Live) -> tuple[Action, Action, str]:
    spec = _given(incident.policy)
    policy = live.model.hosts[spec.host].policies[spec.policy]
    changes = {
        attr: getattr(spec, name)
        for name, attr in _SETTINGS.items()
        if getattr(spec, name) is not None
    }
    before: list[dict[str, object]] = []

    def apply(now: float) -> None:
        before.append({attr: getattr(policy, attr) for attr in changes})
        for attr, value in changes.items():
            setattr(policy, attr, value)

    def revert(now: float) -> None:
        for attr, value in before.pop().items():
            setattr(policy, attr, value)

    return apply, revert, f"{spec.policy} on {spec.host}"


_MAKERS: dict[str, _Maker] = {
    "link_down": _link_down,
    "link_congestion": _link_congestion,
    "host_down": _host_down,
    "host_slow": _host_slow,
    "server_errors": _server_errors,
    "disk_full": _disk_full,
    "dns_failure": _dns_failure,
    "dns_change": _dns_change,
    "dnsbl_list": _dnsbl(True),
    "dnsbl_delist": _dnsbl(False),
    "host_crash": _host_crash,
    "policy": _policy_switch,
    "access_down": access_down,
    "access_slow": access_slow,
    "certificate_change": certificate_change,
    "tlsa_change": tlsa_change,
    "mta_sts_change": mta_sts_change,
    "mta_sts_down": mta_sts_down,
    "starttls_stripped": starttls_stripped,
}
