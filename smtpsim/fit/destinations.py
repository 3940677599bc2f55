"""What each destination did to the log's delivery attempts, as receiver behaviour:
injected replies (``server_errors`` incidents for the whole run), outage windows
(``host_down`` incidents, :func:`outages`) and a link latency.

Only the last hop's attempts count (the hop that left the log's hosts): the earlier
hops of a multi-host log are the operator's own relays. Recipients that bounced as
unknown (5.1.1) are the flow's ``unknown_users``, not the destination's errors, and
are left out here.

A reply is injected at the phase the log names (``in reply to RCPT TO command`` ->
``rcpt``, a ``refused to talk to me`` greeting -> ``connect``, the end of data ->
``end-of-data``), with the probability that an attempt which reached that phase got
it: the phases are tried in the order of a session, and within a phase the replies
are checked one after the other (a host's injected replies are checked in the order
of the incidents list, smtpsim/faults/actions.py), so each probability is conditional
on the ones before. Connection failures are outages, not replies. What the log shows
but neither can say (DNS failures, qmgr's suspensions of a dead destination, TLS) is
counted and reported as not fitted.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estimates import Interval, wilson
from .traffic import OTHER_DOMAINS

__all__ = ["PHASES", "DestinationFit", "Injection", "Outage", "fit_destinations", "outages"]

PHASES = {
    "greeting": "connect",
    "helo": "helo",
    "mail": "mail",
    "rcpt": "rcpt",
    "data": "data",
    "content": "end-of-data",
}
"""The log's phases (smtpsim.logs.postfix_log) -> the phases of a ``server_errors`` reply."""

_REPLY = re.compile(r"^([2-5]\d\d)(?: ([245]\.\d{1,3}\.\d{1,3}))?(?: (.*))?$")
_ROUND_TRIPS = 3
"""Round trips in Postfix's connection setup time (``delays=a/b/c/d``, c): TCP's
handshake, the greeting, EHLO (no TLS in the simulated hop)."""


@dataclass(frozen=True)
class Injection:
    """A reply the destination gives at a phase, with a probability."""

    phase: str
    reply: str
    probability: Interval
    count: int
    reached: int


@dataclass(frozen=True)
class Outage:
    """A window in which the destination refused connections (or let them time out):
    from its first failed connection to the middle of the interval in which it came
    back (after the last failed connection, by the next attempt that reached it); no
    end when the log ends inside it. qmgr's "delivery temporarily suspended" deferrals
    within it are its consequence, which the simulation makes itself."""

    start: float
    end: float | None
    end_low: float
    end_high: float | None
    mode: str  # refuse or blackhole (host_down's modes)
    failures: int


@dataclass(frozen=True)
class DestinationFit:
    """One destination as fitted."""

    domain: str
    attempts: int
    sent: int
    deferred: int
    bounced: int
    injections: tuple[Injection, ...]
    not_fitted: tuple[tuple[str, int], ...]  # (the log's phase, attempts)
    latency: float | None  # one-way, seconds; None: no attempt timed
    conn_median: float | None
    outages: tuple[Outage, ...] = ()


def _clean_reply(text: str) -> str | None:
    """The reply as a scenario takes it (``451 4.3.0 Try again later``), or None."""
    m = _REPLY.match(text.strip())
    if m is None:
        return None
    code, enhanced, rest = m.group(1), m.group(2), (m.group(3) or "").strip()
    if enhanced is not None and enhanced[0] != code[0]:
        enhanced = None
    # the same reply names each recipient ("<bob@example.org>: Recipient address
    # rejected: ..."): without the addresses, the replies group by what they say
    rest = re.sub(r"<[^<>]*>:?\s*", "", rest)
    rest = re.sub(r"\s+", " ", rest).strip()[:120]
    return " ".join(p for p in (code, enhanced, rest) if p)


def last_hop(attempts: pd.DataFrame, recipients: pd.DataFrame) -> pd.DataFrame:
    """The attempts of each recipient's last hop, without unknown recipients' (5.1.1)."""
    if attempts.empty:
        return attempts
    # in time order, not the log's: merged hosts' logs interleave within a second
    attempts = attempts.sort_values("t_end", kind="stable")
    final_host = attempts.groupby(["msg_id", "rcpt"], sort=False)["host"].transform("last")
    edge = attempts[attempts["host"].astype(str) == final_host.astype(str)]
    unknown = recipients[
        recipients["dsn"].astype(str).str.startswith("5.1.1")
        & (recipients["status"].astype(str) == "bounced")
    ]
    gone = set(zip(unknown["msg_id"], unknown["rcpt"], strict=True))
    keep = [(m, r) not in gone for m, r in zip(edge["msg_id"], edge["rcpt"], strict=True)]
    return edge[keep]


def outages(mine: pd.DataFrame) -> list[Outage]:
    """The outage windows of one destination's attempts (see :class:`Outage`)."""
    ordered = mine.sort_values("t_end", kind="stable")
    found: list[Outage] = []
    start: float | None = None
    last_failure = 0.0
    failures = 0
    refused = 0
    for phase, t_start, text in zip(
        ordered["phase"].astype(str), ordered["t_start"], ordered["reply"].astype(str), strict=True
    ):
        if phase == "connect":
            if start is None:
                start, failures, refused = float(t_start), 0, 0
            failures += 1
            refused += "refused" in text.lower()
            last_failure = float(t_start)
        elif phase != "qmgr" and start is not None:  # a session reached the server
            end = (last_failure + float(t_start)) / 2
            mode = "refuse" if refused * 2 >= failures else "blackhole"
            found.append(Outage(start, end, last_failure, float(t_start), mode, failures))
            start = None
    if start is not None:
        mode = "refuse" if refused * 2 >= failures else "blackhole"
        found.append(Outage(start, None, last_failure, None, mode, failures))
    return found


def fit_destinations(
    attempts: pd.DataFrame,
    recipients: pd.DataFrame,
    kept_domains: list[str],
    confidence: float,
) -> list[DestinationFit]:
    """The behaviour of each kept domain and of the rest together (``OTHER_DOMAINS``)."""
    edge = last_hop(attempts, recipients)
    domain = pd.Series(
        [r.rpartition("@")[2].lower() for r in edge["rcpt"].astype(str)],
        index=edge.index,
        dtype=object,
    )
    kept = set(kept_domains)
    group = domain.where(domain.isin(kept), OTHER_DOMAINS)
    out = []
    for name in [*kept_domains, OTHER_DOMAINS]:
        mine = edge[group == name]
        if name == OTHER_DOMAINS and mine.empty:
            continue
        out.append(_destination(name, mine, confidence))
    return out


def _destination(name: str, mine: pd.DataFrame, confidence: float) -> DestinationFit:
    outcome = mine["outcome"].astype(str)
    phase = mine["phase"].astype(str)
    failed = mine[outcome.isin(["deferred", "bounced"])]
    fphase = phase[failed.index]
    # connection failures are outages (host_down windows), not replies
    not_fitted = Counter(p for p in fphase if p not in PHASES and p != "connect")
    reached = len(mine) - sum(not_fitted.values()) - int((fphase == "connect").sum())
    injections = []
    for log_phase, sim_phase in PHASES.items():
        here = failed[fphase == log_phase]
        replies = Counter(_clean_reply(str(r)) for r in here["reply"])
        for reply, count in sorted(replies.items(), key=lambda kv: (-kv[1], str(kv[0]))):
            if reply is None:
                not_fitted[f"{log_phase} (reply not readable)"] += count
                continue
            p = wilson(count, reached, confidence)
            injections.append(Injection(sim_phase, reply, p, count, reached))
            reached -= count
    sent = mine[outcome == "sent"]
    conn = sent["conn_s"].to_numpy(dtype=float)
    conn_median = float(np.median(conn)) if len(conn) else None
    latency = None
    if conn_median is not None:
        # Postfix prints c to 10 ms; half a step when it printed 0
        latency = max(conn_median, 0.005) / (2 * _ROUND_TRIPS)
    return DestinationFit(
        domain=name,
        attempts=len(mine),
        sent=len(sent),
        deferred=int((outcome == "deferred").sum()),
        bounced=int((outcome == "bounced").sum()),
        injections=tuple(injections),
        not_fitted=tuple(sorted(not_fitted.items())),
        latency=latency,
        conn_median=conn_median,
        outages=tuple(outages(mine)),
    )
