"""The fit report: for each thing fitted, what the log showed, what the scenario
says, and how sure the fit is (intervals at the fit's confidence); then what could
not be fitted and why, and the lines the reader did not understand."""

from __future__ import annotations

from collections import Counter

from .destinations import DestinationFit
from .fitter import Fit
from .traffic import FlowFit

__all__ = ["NOT_FITTED_WHY", "fit_report"]

NOT_FITTED_WHY = {
    "qmgr": "qmgr's 'delivery temporarily suspended': a consequence of earlier "
    "connection failures, which the simulation makes itself",
    "dns": "DNS lookup failures: add dns_failure incidents for their windows",
    "starttls": "TLS failures: smtpsim does not model TLS errors",
    "auth": "SASL failures: not a receiver's behaviour smtpsim injects",
    "other": "the text names no SMTP phase",
}
"""Why a deferral or bounce of each of the log's phases is not an injected reply."""


def _hms(t: float) -> str:
    day, rest = divmod(int(t), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"day {day + 1} " if day else "") + f"{h:02d}:{m:02d}:{s:02d}"


def _pct(share: float) -> str:
    return f"{100 * share:.3g} %"


def _flow(f: FlowFit, by: str) -> list[str]:
    out = [
        f"  {f.name} ({by} {f.key}): {f.messages} messages from {f.senders} senders, "
        f"{_hms(f.start)} to {_hms(f.stop)}"
    ]
    per_hour = f"{f.rate.value * 3600:.4g}/h [{f.rate.low * 3600:.4g}, {f.rate.high * 3600:.4g}]"
    full = len(f.full_hours)
    test = (
        f"dispersion test over {full} full hours: p = {f.dispersion_p:.3g}"
        if full >= 2
        else "fewer than 2 full hours: no test of a varying rate"
    )
    kind = "a piecewise rate by hour" if f.hourly else "one Poisson rate"
    out.append(f"    rate: mean {per_hour}; {test}; fitted as {kind}")
    if f.hourly:
        for h in f.hours:
            out.append(
                f"      {_hms(h.start)}: {h.count} in {h.exposure:.0f} s -> "
                f"{h.rate.value * 3600:.4g}/h [{h.rate.low * 3600:.4g}, {h.rate.high * 3600:.4g}]"
            )
    s = f.sizes
    quantiles = ", ".join(
        f"p{round(q * 100)} {iv.value:.0f} [{iv.low:.0f}, {iv.high:.0f}]"
        for q, iv in s.quantiles
        if q in (0.1, 0.5, 0.9, 0.99)
    )
    out.append(f"    sizes (bytes, n = {s.n}): {quantiles}")
    if s.lognormal is not None:
        ln = s.lognormal
        out.append(
            f"      lognormal: median {ln.median_ci.value:.0f} [{ln.median_ci.low:.0f}, "
            f"{ln.median_ci.high:.0f}], sigma {ln.sigma_ci}; KS distance {ln.ks_distance:.3f}, "
            f"p = {ln.ks_p:.3g} (conservative: parameters from the same sample)"
        )
    out.append(f"      fitted as {s.chosen}: {s.reason}")
    total = sum(n for _, n in f.per_message)
    out.append(
        "    recipients per message: "
        + ", ".join(f"{k}: {n} ({_pct(n / total)})" for k, n in f.per_message)
    )
    rcpts = sum(n for _, n in f.domains)
    out.append(
        "    destinations: "
        + ", ".join(f"{d} {n} ({_pct(n / rcpts)})" for d, n in f.domains)
        + (f"; {f.grouped} domains grouped" if f.grouped else "")
    )
    out.append(
        f"    unknown recipients (bounced 5.1.1): {f.unknown_count} of {rcpts} = "
        f"{_pct(f.unknown.value)} [{_pct(f.unknown.low)}, {_pct(f.unknown.high)}]"
    )
    return out


def _destination(d: DestinationFit) -> list[str]:
    out = [
        f"  {d.domain}: {d.attempts} attempts (last hop): {d.sent} sent, {d.deferred} "
        f"deferred, {d.bounced} bounced"
    ]
    for inj in d.injections:
        p = inj.probability
        out.append(
            f"    {inj.phase}: '{inj.reply}': {inj.count} of {inj.reached} reaching it = "
            f"{_pct(p.value)} [{_pct(p.low)}, {_pct(p.high)}] -> server_errors"
        )
    for o in d.outages:
        end = (
            f"until {_hms(o.end)} (back between {_hms(o.end_low)} and {_hms(o.end_high or 0)})"
            if o.end is not None
            else "to the end of the log"
        )
        out.append(
            f"    connect: {o.failures} failed connections from {_hms(o.start)} {end} -> "
            f"host_down ({o.mode})"
        )
    for phase, n in d.not_fitted:
        why = NOT_FITTED_WHY.get(phase.split(" ")[0], "")
        out.append(f"    not fitted: {n} failed attempts at '{phase}': {why}")
    if d.conn_median is not None and d.latency is not None:
        out.append(
            f"    connection setup (delays c) median {d.conn_median:.3g} s -> link latency "
            f"{d.latency * 1000:.3g} ms one way (3 round trips)"
        )
    else:
        out.append("    no attempt was sent: link latency left at its default")
    return out


def fit_report(fit: Fit, examples: int = 5, settings_given: bool = False) -> str:
    """The text report of a fit (``settings_given``: the mta's settings came with it,
    from ``--postconf``)."""
    log = fit.log
    lines = [
        f"read {', '.join(fit.sources)}: {log.report(examples)}",
        f"time 0 is {fit.start:%Y-%m-%d} 00:00; the log ends at {_hms(fit.end)}",
        f"confidence of the intervals: {fit.options.confidence:g}",
        "",
        f"flows (by {fit.options.flows_by}):",
    ]
    for f in fit.flows:
        lines += _flow(f, fit.options.flows_by)
    if not fit.flows:
        lines.append("  none: the log shows no submitted message")
    lines += ["", "destinations:"]
    for d in fit.destinations:
        lines += _destination(d)
    if fit.local_domains:
        lines.append(f"  delivered on the host itself: {', '.join(fit.local_domains)}")
    lines += ["", "not fitted:"]
    missing = list(fit.notes)
    if len(log.rejects):
        by_reply = Counter(
            f"{s} {c}" for s, c in zip(log.rejects["stage"], log.rejects["code"], strict=True)
        )
        missing.append(
            f"{len(log.rejects)} NOQUEUE rejects by smtpd ("
            + ", ".join(f"{k}: {n}" for k, n in by_reply.most_common())
            + "): the host's own receiving policies; the fitted mta has none (add them "
            "to hosts.mta.policies)"
        )
    if not settings_given:
        missing.append(
            "the mta's Postfix settings: a log does not show them; use --postconf, "
            "'smtpsim import postfix' or --set hosts.mta.postfix.NAME=VALUE"
        )
    missing.append(
        "transfer times (delays d): the links keep their default bandwidth; message "
        "transfer is rarely what limits delivery"
    )
    lines += [f"  - {m}" for m in missing]
    return "\n".join(lines)
