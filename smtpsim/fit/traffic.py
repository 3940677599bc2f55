"""Traffic fitted from a log's messages: flows, their rates, sizes, recipients per
message, destination domains and unknown recipients.

A flow is the mail of one sender domain (``sender-domain``) or of one client network
(``client-network``: smtpd's client address, IPv4 by /24 and IPv6 by /64, the units
that reputation and rate limits use; ``pickup`` mail is the network ``local``).
Bounces (``origin`` bounce) are made by the servers, not submitted, and are left out:
the simulation makes its own.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .estimates import (
    Interval,
    LognormalFit,
    dispersion_p,
    fit_lognormal,
    poisson_interval,
    quantile_interval,
    wilson,
)

__all__ = [
    "OTHER_DOMAINS",
    "SIZE_QUANTILES",
    "FlowFit",
    "HourRate",
    "SizeFit",
    "fit_flows",
    "flow_key",
]

FlowsBy = Literal["sender-domain", "client-network"]
SizeChoice = Literal["auto", "empirical", "lognormal"]
RateChoice = Literal["auto", "constant", "hourly"]

OTHER_DOMAINS = "other-domains.example"
"""The destination that stands for every domain outside the top N."""

SIZE_QUANTILES = (0.0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
"""The cumulative probabilities of an empirical size distribution's points."""

HOUR = 3600.0
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")


def is_domain(name: str) -> bool:
    """Whether ``name`` is a domain a scenario takes (letters, digits, hyphens, at least
    two labels): a log can name others (an address literal, a bare host name)."""
    return _DOMAIN.match(name.lower()) is not None


FULL_HOUR = HOUR - 5.0
"""An hour counts as whole when the flow's window covers it but for a few seconds
(its first message's second)."""
_CLIENT_ADDRESS = re.compile(r"\[([^\]]+)\]$")


@dataclass(frozen=True)
class HourRate:
    """Submissions in one hour of the log: the observed count and the rate fitted."""

    start: float  # seconds since midnight of the log's first day
    exposure: float  # seconds of the hour inside the flow's window
    count: int
    rate: Interval  # per second


@dataclass(frozen=True)
class SizeFit:
    """Message sizes: the sample's quantiles (with intervals), the lognormal fit, and
    the form chosen for the scenario."""

    n: int
    quantiles: tuple[tuple[float, Interval], ...]
    lognormal: LognormalFit | None
    chosen: Literal["empirical", "lognormal"]
    reason: str

    def yaml(self) -> object:
        if self.chosen == "lognormal" and self.lognormal is not None:
            return {
                "lognormal": {
                    "median": f"{self.lognormal.median:.0f}B",
                    "sigma": round(self.lognormal.sigma, 4),
                }
            }
        return {"empirical": [[f"{iv.value:.0f}B", q] for q, iv in self.quantiles]}


@dataclass(frozen=True)
class FlowFit:
    """One flow as fitted, with what was observed."""

    name: str
    key: str
    sender_domain: str
    senders: int
    messages: int
    start: float
    stop: float
    rate: Interval  # the mean rate over [start, stop], per second
    hours: tuple[HourRate, ...]
    hourly: bool  # a piecewise rate by hour (else one Poisson rate)
    dispersion_p: float
    sizes: SizeFit
    per_message: tuple[tuple[int, int], ...]  # (recipients, messages)
    domains: tuple[tuple[str, int], ...]  # (destination, recipients), OTHER_DOMAINS last
    grouped: int  # domains folded into OTHER_DOMAINS
    unknown: Interval  # share of recipients that bounced as unknown (5.1.1)
    unknown_count: int

    @property
    def full_hours(self) -> list[HourRate]:
        """The hours the flow sent through (the dispersion test's windows)."""
        return [h for h in self.hours if h.exposure >= FULL_HOUR]

    def rate_yaml(self) -> object:
        if not self.hourly:
            return _rate(self.rate.value)
        steps = [{"at": "0s", "rate": _rate(self.hours[0].rate.value)}]
        steps += [
            {"at": f"{h.start:.0f}s", "rate": _rate(h.rate.value)}
            for h in self.hours
            if h.start > 0
        ]
        return {"piecewise": steps}


def plain(x: float, digits: int = 6) -> str:
    """``x`` to ``digits`` significant digits without an exponent (the scenario's
    units do not read ``1.2e+06``)."""
    return np.format_float_positional(x, precision=digits, unique=False, fractional=False, trim="-")


def _rate(per_second: float) -> str:
    return f"{plain(per_second * HOUR)}/h"


def flow_key(sender: str, client: str, by: FlowsBy) -> str:
    """The flow a message belongs to: its sender's domain, or its client's network."""
    if by == "sender-domain":
        return sender.rpartition("@")[2].lower() or "null-sender"
    found = _CLIENT_ADDRESS.search(client)
    if not found:
        return "local"
    address = found.group(1).removeprefix("IPv6:")
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _name(key: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-") or "flow"
    if not base[0].isalpha():  # a scenario name starts with a letter: 192.0.2.0/24
        base = f"net-{base}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    taken.add(name)
    return name


def _hours(times: np.ndarray, start: float, stop: float, confidence: float) -> list[HourRate]:
    out = []
    first = math.floor(start / HOUR) * HOUR
    at = first
    while at < stop:
        lo, hi = max(at, start), min(at + HOUR, stop)
        exposure = hi - lo
        count = int(((times >= lo) & (times < hi)).sum())
        if exposure > 0:
            iv = poisson_interval(count, exposure, confidence)
            out.append(HourRate(at, exposure, count, iv))
        at += HOUR
    return out


def _sizes(sizes: np.ndarray, choice: SizeChoice, confidence: float) -> SizeFit:
    values = np.sort(sizes.astype(float))
    quantiles = tuple((q, quantile_interval(values, q, confidence)) for q in SIZE_QUANTILES)
    positive = values[values > 0]
    lognormal = fit_lognormal(positive, confidence) if len(positive) >= 2 else None
    if choice == "empirical" or lognormal is None:
        reason = "asked for" if choice == "empirical" else "too few positive sizes for a fit"
        return SizeFit(len(values), quantiles, lognormal, "empirical", reason)
    if choice == "lognormal":
        return SizeFit(len(values), quantiles, lognormal, "lognormal", "asked for")
    if lognormal.ks_p >= 0.01:
        reason = f"the lognormal fits (KS p = {lognormal.ks_p:.3g} >= 0.01)"
        return SizeFit(len(values), quantiles, lognormal, "lognormal", reason)
    reason = f"the lognormal does not fit (KS p = {lognormal.ks_p:.3g} < 0.01)"
    return SizeFit(len(values), quantiles, lognormal, "empirical", reason)


def top_domains(recipients: pd.DataFrame, top: int) -> list[str]:
    """The ``top`` destination domains by recipients, most first (ties by name); names
    that are no domain (``is_domain``) are left to the group of the rest."""
    counts = Counter(d for d in recipients["domain"].astype(str).str.lower() if is_domain(d))
    return [d for d, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def fit_flows(
    messages: pd.DataFrame,
    recipients: pd.DataFrame,
    *,
    by: FlowsBy,
    kept_domains: list[str],
    rate: RateChoice,
    sizes: SizeChoice,
    confidence: float,
    max_flows: int,
) -> tuple[list[FlowFit], list[str]]:
    """The flows of the submitted (not bounce) ``messages``: the ``max_flows`` largest,
    and notes on what was folded or left out. Times: seconds since midnight of the log's
    first day. ``kept_domains``: the destinations kept by name (the rest grouped)."""
    notes: list[str] = []
    submitted = messages[messages["origin"].astype(str) != "bounce"]
    keys = [
        flow_key(s, c, by) for s, c in zip(submitted["sender"], submitted["client"], strict=True)
    ]
    submitted = submitted.assign(flow=keys)
    order = sorted(Counter(keys).items(), key=lambda kv: (-kv[1], kv[0]))
    if len(order) > max_flows:
        rest = order[max_flows:]
        notes.append(
            f"{len(rest)} smaller flows ({sum(n for _, n in rest)} messages) left out: "
            f"at most {max_flows} flows are fitted (--max-flows)"
        )
        order = order[:max_flows]
    if submitted.empty:
        return [], notes
    kept = set(kept_domains)
    taken: set[str] = set()
    flows = []
    for key, _ in order:
        mine = submitted[submitted["flow"] == key]
        rcpts = recipients[recipients["msg_id"].isin(set(mine["msg_id"]))]
        flows.append(_flow(_name(key, taken), key, mine, rcpts, kept, rate, sizes, confidence))
    return flows, notes


def _flow(
    name: str,
    key: str,
    mine: pd.DataFrame,
    rcpts: pd.DataFrame,
    kept: set[str],
    rate: RateChoice,
    sizes: SizeChoice,
    confidence: float,
) -> FlowFit:
    times = np.sort(mine["t_submit"].to_numpy(dtype=float))
    n = len(times)
    # a Poisson process seen from its first arrival: n - 1 gaps in [first, last]; the
    # window ends a mean gap after the last arrival, where the next one was due
    gap = (times[-1] - times[0]) / (n - 1) if n > 1 else HOUR
    start, stop = float(times[0]), float(times[-1] + max(gap, 1.0))
    mean_rate = poisson_interval(n, stop - start, confidence)
    hours = _hours(times, start, stop, confidence)
    full = [h.count for h in hours if h.exposure >= FULL_HOUR]
    p = dispersion_p(np.array(full)) if len(full) >= 2 else 1.0
    hourly = rate == "hourly" or (rate == "auto" and len(hours) >= 2 and p < 0.01)
    senders = mine["sender"].astype(str)
    domains_of_senders = Counter(
        d for d in (s.rpartition("@")[2].lower() for s in senders if "@" in s) if is_domain(d)
    )
    sender_domain = domains_of_senders.most_common(1)[0][0] if domains_of_senders else ""
    per_message = Counter(int(x) for x in mine["n_rcpt"])
    rcpt_domains = rcpts["domain"].astype(str).str.lower()
    domain_counts = Counter(d if d in kept else OTHER_DOMAINS for d in rcpt_domains)
    grouped = len(set(rcpt_domains) - kept)
    named = sorted(
        ((d, c) for d, c in domain_counts.items() if d != OTHER_DOMAINS),
        key=lambda kv: (-kv[1], kv[0]),
    )
    if OTHER_DOMAINS in domain_counts:
        named.append((OTHER_DOMAINS, domain_counts[OTHER_DOMAINS]))
    unknown = rcpts["dsn"].astype(str).str.startswith("5.1.1") & (
        rcpts["status"].astype(str) == "bounced"
    )
    return FlowFit(
        name=name,
        key=key,
        sender_domain=sender_domain,
        senders=max(1, senders.nunique()),
        messages=n,
        start=start,
        stop=stop,
        rate=mean_rate,
        hours=tuple(hours),
        hourly=hourly,
        dispersion_p=p,
        sizes=_sizes(mine["size_bytes"].to_numpy(), sizes, confidence),
        per_message=tuple(sorted(per_message.items())),
        domains=tuple(named),
        grouped=grouped,
        unknown=wilson(int(unknown.sum()), len(rcpts), confidence),
        unknown_count=int(unknown.sum()),
    )
