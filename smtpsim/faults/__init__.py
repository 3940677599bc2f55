"""Timed incidents as SimPy processes acting on the live model: links, hosts, DNS,
DNSBLs and policies (docs/architecture.md, section 2)."""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

import simpy

from .actions import Action, Live, RunState, make_action
from .listing import ListingRules, Window
from .timeline import windows

if TYPE_CHECKING:
    from ..model import Model

__all__ = ["install", "install_listing_rules"]


def install(model: Model) -> list[Window]:
    """Schedule every incident of ``model.scenario``; returns the windows, for meta
    and plots: ``{"kind", "target", "start", "end"}`` each."""
    scenario = model.scenario
    env = model.env
    state = model.fault_state = RunState()
    out: list[Window] = []
    for i, incident in enumerate(scenario.incidents):
        rng = model.ctx.streams.generator(f"incident.{i}")
        apply, revert, label = make_action(incident, Live(model, state, rng))
        spans = windows(incident, scenario.duration, rng)
        for start, end in spans:
            out.append({"kind": incident.kind, "target": label, "start": start, "end": end})
        env.process(_play(env, spans, apply, revert, scenario.duration))
    return out


def _play(
    env: simpy.Environment,
    spans: list[tuple[float, float]],
    apply: Action,
    revert: Action,
    duration: float,
) -> Generator[simpy.Event, object, None]:
    for start, end in spans:
        if start > env.now:
            yield env.timeout(start - env.now)
        apply(env.now)
        if end >= duration:
            return  # lasts to the end of the run
        yield env.timeout(end - env.now)
        revert(env.now)


def install_listing_rules(model: Model) -> None:
    """DNSBL zones with a ``listing`` rule hear of every spamtrap delivery."""
    rules = ListingRules(model)
    if rules.rules:
        for host in model.hosts.values():
            host.qmgr.on_trap = rules.report
