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
from dataclasses import replace
from typing import Any

from ..mail import PolicySet, ReplyInjection
from ..net import ZoneData
from ..protocol import Reply, replies

__all__ = ["RunState", "make_action"]

Action = Callable[[float], None]


class RunState:
    """What the incidents of one run share about their targets (``install`` makes
    one per run): a link's own values and the congestions on it, the incidents
    holding a link down, and each server's own side and the incidents changing it."""

    def __init__(self) -> None:
        self.link_base: dict[Any, tuple[Any, float, float, float, list[Any]]] = {}
        self.link_down: dict[Any, list[str]] = {}
        self.servers: dict[Any, _ServerState] = {}

    def server(self, host: Any) -> _ServerState:
        state = self.servers.get(host)
        if state is None:
            state = self.servers[host] = _ServerState(host)
        return state


def make_action(kind: str, target: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    """``(apply, revert, label)`` for one incident; ``label`` names its target.

    ``rng`` is the incident's own random stream (for forced replies with a
    probability)."""
    return _MAKERS[kind](target, model, rng)


def _link_down(ends: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    link = model.network.link(*ends)
    # the incidents holding the link down: it comes back when the last one ends
    holds = model.fault_state.link_down.setdefault(link, [])

    def apply(now: float) -> None:
        holds.append("down")
        link.up = False

    def revert(now: float) -> None:
        holds.remove("down")
        link.up = not holds

    return apply, revert, f"{ends[0]}-{ends[1]}"


def _link_congestion(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    link = model.network.link(*spec.link)
    # The link's own values, and the congestions now on it, shared by every
    # congestion incident of this link.
    base = model.fault_state.link_base.setdefault(
        link, (link.latency, link.mean, link.bandwidth, link.loss, [])
    )
    active: list[Any] = base[4]

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


def _host_down(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    host = model.hosts[spec.host]

    def apply(now: float) -> None:
        host.down_modes.append(spec.mode)

    def revert(now: float) -> None:
        host.down_modes.remove(spec.mode)

    return apply, revert, spec.host


def _host_crash(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    host = model.hosts[spec.host]
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

    def __init__(self, host: Any) -> None:
        self.host = host
        self.base = host.server_side
        self.factors: list[float] = []
        self.forced: list[ReplyInjection] = []

    def recompute(self) -> None:
        side = self.base
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


def _host_slow(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    state = model.fault_state.server(model.hosts[spec.host])

    def apply(now: float) -> None:
        state.factors.append(spec.factor)
        state.recompute()

    def revert(now: float) -> None:
        state.factors.remove(spec.factor)
        state.recompute()

    return apply, revert, spec.host


def _forced_reply(host_key: str, policy: ReplyInjection, model: Any) -> tuple[Action, Action]:
    """Put ``policy`` first in the host's policies during the window."""
    state = model.fault_state.server(model.hosts[host_key])

    def apply(now: float) -> None:
        state.forced.append(policy)
        state.recompute()

    def revert(now: float) -> None:
        state.forced.remove(policy)
        state.recompute()

    return apply, revert


def _server_errors(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    policy = ReplyInjection(spec.phase, Reply.parse(spec.reply), spec.probability, rng)
    apply, revert = _forced_reply(spec.host, policy, model)
    return apply, revert, spec.host


def _disk_full(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    policy = ReplyInjection("mail", replies.INSUFFICIENT_STORAGE, 1.0, rng)
    apply, revert = _forced_reply(spec.host, policy, model)
    return apply, revert, spec.host


def _dns_failure(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    if spec.resolver is not None:
        resolver = model.hosts[spec.resolver].agent.resolver

        def fail(now: float) -> None:
            resolver.failing.append(spec.mode)

        def recover(now: float) -> None:
            resolver.failing.remove(spec.mode)

        return fail, recover, f"resolver of {spec.resolver}"
    failing = model.zones.timeouts if spec.mode == "timeout" else model.zones.servfail
    zone = spec.zone

    def apply(now: float) -> None:
        failing[zone] = failing.get(zone, 0) + 1

    def revert(now: float) -> None:
        failing[zone] -= 1
        if not failing[zone]:
            del failing[zone]

    return apply, revert, spec.zone


def _dns_change(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    zones = model.zones
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


def _dnsbl(listing: bool) -> Callable[[Any, Any, Any], tuple[Action, Action, str]]:
    def make(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
        network = ipaddress.IPv4Network(spec.ip)
        listings = model.zones.dnsbl.setdefault(spec.zone, [])

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


def _policy_switch(spec: Any, model: Any, rng: Any) -> tuple[Action, Action, str]:
    policy = model.hosts[spec.host].policies[spec.policy]
    changes = {
        attr: getattr(spec, name)
        for name, attr in _SETTINGS.items()
        if getattr(spec, name) is not None
    }
    before: list[dict[str, Any]] = []

    def apply(now: float) -> None:
        before.append({attr: getattr(policy, attr) for attr in changes})
        for attr, value in changes.items():
            setattr(policy, attr, value)

    def revert(now: float) -> None:
        for attr, value in before.pop().items():
            setattr(policy, attr, value)

    return apply, revert, f"{spec.policy} on {spec.host}"


_MAKERS: dict[str, Callable[[Any, Any, Any], tuple[Action, Action, str]]] = {
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
}
