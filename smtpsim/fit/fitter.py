"""``fit_logs(paths)``: Postfix logs in, a scenario (and what was fitted) out.

The scenario's network is the smallest that carries the log's traffic: one host,
``mta``, that the flows submit to and that accepts the senders' own domains (so that
bounces come home) and the domains the log delivered locally; one ``mx`` host per
destination kept by name (the top N by recipients) and one for the rest together
(``other-domains.example``); each behind a link whose latency comes from the log's
connection setup times. Destinations' deferrals and bounces are ``server_errors``
incidents for the whole run; the windows in which one refused connections (or let
them time out) are ``host_down`` incidents. Simulated time 0 is midnight of the log's first day, so
the flows start and stop at the log's times of day.

The ``mta`` runs Postfix's defaults: a log says little about the settings that made
it; ``smtpsim import postfix`` (or ``--set hosts.mta.postfix.NAME=VALUE`` when the
scenario runs) gives them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ..logs.postfix_log import PostfixLog, read_postfix_log
from ..logs.sources import log_lines
from .destinations import DestinationFit, fit_destinations, last_hop
from .traffic import (
    OTHER_DOMAINS,
    FlowFit,
    FlowsBy,
    RateChoice,
    SizeChoice,
    fit_flows,
    is_domain,
    plain,
    top_domains,
)

__all__ = ["Fit", "FitOptions", "fit_log", "fit_logs", "outcome_counts"]

MTA = "mta"
_MAILBOXES = 100_000  # a destination's mailboxes: every address but the unknown share exists


@dataclass(frozen=True)
class FitOptions:
    """How to fit: see ``smtpsim fit --help``."""

    flows_by: FlowsBy = "sender-domain"
    rate: RateChoice = "auto"
    sizes: SizeChoice = "auto"
    top_domains: int = 10
    max_flows: int = 10
    confidence: float = 0.95
    year: int | None = None
    name: str = "fitted"


@dataclass(frozen=True)
class Fit:
    """What was read, what was fitted, and the scenario that says it."""

    sources: tuple[str, ...]
    log: PostfixLog
    start: datetime  # midnight of the log's first day: simulated time 0
    end: float  # the log's last event, seconds since start
    flows: tuple[FlowFit, ...]
    destinations: tuple[DestinationFit, ...]
    local_domains: tuple[str, ...]
    notes: tuple[str, ...]
    options: FitOptions
    scenario: dict[str, Any] = field(repr=False)

    def yaml(self) -> str:
        """The scenario as YAML, with a header saying where it came from."""
        head = (
            f"# Fitted by 'smtpsim fit' from {', '.join(self.sources)}\n"
            f"# (time 0 is {self.start:%Y-%m-%d} 00:00; see the fit report for what was "
            "fitted and how well).\n"
        )
        return head + yaml.safe_dump(self.scenario, sort_keys=False, width=100)


def _shifted(log: PostfixLog, offset: float) -> PostfixLog:
    """The log's tables with times counted from midnight instead of the first line."""
    messages = log.messages.assign(t_submit=log.messages["t_submit"] + offset)
    recipients = log.recipients.assign(t_final=log.recipients["t_final"] + offset)
    attempts = log.attempts.assign(
        t_start=log.attempts["t_start"] + offset, t_end=log.attempts["t_end"] + offset
    )
    rejects = log.rejects.assign(t=log.rejects["t"] + offset)
    failures = log.connect_failures.assign(t=log.connect_failures["t"] + offset)
    return PostfixLog(
        messages, recipients, attempts, rejects, failures, log.counts, log.unknown, log.origin
    )


def _last_time(log: PostfixLog) -> float:
    columns = [
        log.messages["t_submit"],
        log.recipients["t_final"],
        log.attempts["t_end"],
        log.rejects["t"],
        log.connect_failures["t"],
    ]
    values = [float(c.max()) for c in columns if len(c) and not math.isnan(float(c.max()))]
    return max(values, default=0.0)


def _local_domains(log: PostfixLog) -> list[str]:
    """Domains whose recipients ended without any SMTP attempt: delivered on the host."""
    rec = log.recipients
    attempted = {r.rpartition("@")[2].lower() for r in log.attempts["rcpt"].astype(str)}
    done = rec[(rec["status"].astype(str) == "delivered") & (rec["attempts"] == 0)]
    return sorted(
        d for d in set(done["domain"].astype(str).str.lower()) - attempted if is_domain(d)
    )


def fit_log(log: PostfixLog, sources: Sequence[str], options: FitOptions) -> Fit:
    """Fit a log already read (times from its first line, as ``read_postfix_log`` gives)."""
    origin = log.origin or datetime(2000, 1, 1)
    start = origin.replace(hour=0, minute=0, second=0, microsecond=0)
    log = _shifted(log, (origin - start).total_seconds())
    notes: list[str] = []
    local = _local_domains(log)
    remote = log.recipients[~log.recipients["domain"].astype(str).isin(local)]
    kept = top_domains(remote, options.top_domains)
    flows, flow_notes = fit_flows(
        log.messages,
        log.recipients,
        by=options.flows_by,
        kept_domains=kept + local,
        rate=options.rate,
        sizes=options.sizes,
        confidence=options.confidence,
        max_flows=options.max_flows,
    )
    notes += flow_notes
    grouped = len(set(remote["domain"].astype(str)) - set(kept))
    if grouped:
        notes.append(
            f"{grouped} destination domains beyond the top {options.top_domains} are one "
            f"destination, {OTHER_DOMAINS} (--top-domains)"
        )
    destinations = fit_destinations(log.attempts, log.recipients, kept, options.confidence)
    end = _last_time(log)
    fit = Fit(
        sources=tuple(sources),
        log=log,
        start=start,
        end=end,
        flows=tuple(flows),
        destinations=tuple(destinations),
        local_domains=tuple(local),
        notes=tuple(notes),
        options=options,
        scenario={},
    )
    if not flows:  # nothing submitted: nothing to run
        return fit
    return replace(fit, scenario=build_scenario(fit))


def fit_logs(paths: Sequence[str | Path], options: FitOptions | None = None) -> Fit:
    """Read the maillogs ``paths`` (plain or gzip, merged in time order) and fit them."""
    options = options or FitOptions()
    log = read_postfix_log(log_lines(paths), year=options.year)
    return fit_log(log, [str(p) for p in paths], options)


def _host_key(domain: str, taken: set[str]) -> str:
    base = "mx-" + (re.sub(r"[^a-z0-9]+", "-", domain.lower()).strip("-") or "domain")
    key, n = base[:60], 2
    while key in taken:
        key, n = f"{base[:56]}-{n}", n + 1
    taken.add(key)
    return key


def build_scenario(fit: Fit) -> dict[str, Any]:
    """The scenario of a fit, as the YAML mapping ``smtpsim run`` reads."""
    senders = sorted({f.sender_domain for f in fit.flows if f.sender_domain})
    destinations = {d.domain for d in fit.destinations}
    own = [d for d in [*senders, *fit.local_domains] if d not in destinations]
    own = list(dict.fromkeys(own)) or ["local.example"]
    most_senders = max((f.senders for f in fit.flows), default=1)
    hosts: dict[str, Any] = {
        MTA: {"role": "mta", "accepts": own, "mailboxes": max(1000, most_senders)}
    }
    links: list[dict[str, Any]] = [{"between": [MTA, "internet"]}]
    dns: dict[str, Any] = {d: {"mx": {MTA: 10}} for d in own}
    incidents: list[dict[str, Any]] = []
    taken = {MTA}
    for d in fit.destinations:
        key = _host_key(d.domain, taken)
        hosts[key] = {"role": "mx", "accepts": [d.domain], "mailboxes": _MAILBOXES}
        link: dict[str, Any] = {"between": [key, "internet"]}
        if d.latency is not None:
            link["latency"] = f"{plain(d.latency * 1000, 3)}ms"
        links.append(link)
        dns[d.domain] = {"mx": {key: 10}}
        for outage in d.outages:
            window: dict[str, Any] = {
                "host_down": {"host": key, "mode": outage.mode},
                "at": f"{outage.start:.3f}s",
            }
            if outage.end is not None:
                window["until"] = f"{outage.end:.3f}s"
            incidents.append(window)
        for inj in d.injections:
            incidents.append(
                {
                    "server_errors": {
                        "host": key,
                        "phase": inj.phase,
                        "reply": inj.reply,
                        "probability": round(inj.probability.value, 6),
                    }
                }
            )
    traffic: dict[str, Any] = {}
    for f in fit.flows:
        domains = {d: n for d, n in f.domains if d in destinations or d in own}
        flow: dict[str, Any] = {
            "submit_to": MTA,
            "sender_domain": f.sender_domain or own[0],
            "senders": f.senders,
            "rate": f.rate_yaml(),
            "start": f"{f.start:.3f}s",
            "stop": f"{f.stop:.3f}s",
            "size": f.sizes.yaml(),
            "recipients": {
                "per_message": {"table": {n: c for n, c in f.per_message}},
                "domains": domains or {own[0]: 1},
            },
        }
        if f.unknown_count:
            flow["unknown_users"] = round(f.unknown.value, 6)
        traffic[f.name] = flow
    duration = max(1.0, math.ceil(fit.end + 1.0))
    out: dict[str, Any] = {
        "name": fit.options.name,
        "description": (
            f"Fitted from {sum(f.messages for f in fit.flows)} messages of "
            f"{', '.join(fit.sources)} "
            f"({fit.start:%Y-%m-%d}): {len(fit.flows)} flows, {len(fit.destinations)} "
            "destinations."
        ),
        "duration": f"{duration:.0f}s",
        "seed": 1,
        "hosts": hosts,
        "links": links,
        "dns": dns,
        "traffic": traffic,
    }
    if incidents:
        out["incidents"] = incidents
    return out


def outcome_counts(
    messages: pd.DataFrame, recipients: pd.DataFrame, attempts: pd.DataFrame
) -> dict[str, int]:
    """Submitted messages, their recipients by status and their last hop's deferred
    attempts (bounce notices left out), from a log's tables or a run's: what a run of
    the fitted scenario should reproduce."""
    origin = messages.set_index("msg_id")["origin"].astype(str)
    rec = recipients[recipients["msg_id"].map(origin) != "bounce"]
    att = attempts[attempts["msg_id"].map(origin) != "bounce"]
    edge = last_hop(att, rec)
    status = rec["status"].astype(str).value_counts()
    outcome = edge["outcome"].astype(str).value_counts()
    return {
        "messages": int((origin != "bounce").sum()),
        "recipients": len(rec),
        **{s: int(status.get(s, 0)) for s in ("delivered", "bounced", "expired", "pending")},
        "deferred attempts": int(outcome.get("deferred", 0)),
    }
