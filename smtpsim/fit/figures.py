"""Figures of a fit: observed against fitted, one PNG per question, per flow.

- ``rate-FLOW.png``: submissions per hour (bars) and the fitted rate with its
  interval (the Poisson rate, or the hourly one);
- ``sizes-FLOW.png``: the sample's CDF and the fitted lognormal's;
- ``recipients-FLOW.png``: recipients per message, observed shares with their
  Wilson intervals (the fitted table is the observed one);
- ``destinations.png``: each destination's attempts by outcome, and the injected
  replies' probabilities with their intervals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .estimates import wilson
from .fitter import Fit
from .traffic import FlowFit

__all__ = ["draw_fit"]


def _rate(f: FlowFit, path: Path) -> None:
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
    starts = np.array([h.start / 3600 for h in f.hours])
    observed = np.array([h.count / h.exposure * 3600 for h in f.hours])
    ax.bar(starts, observed, width=0.9, align="edge", color="#9ecae1", label="observed (per hour)")
    if f.hourly:
        low = [h.rate.low * 3600 for h in f.hours]
        high = [h.rate.high * 3600 for h in f.hours]
        ax.errorbar(
            starts + 0.45,
            observed,
            yerr=[observed - low, np.array(high) - observed],
            fmt="none",
            color="black",
            label="95 % interval",
        )
    else:
        ax.axhline(f.rate.value * 3600, color="#d62728", label="fitted Poisson rate")
        ax.axhspan(f.rate.low * 3600, f.rate.high * 3600, color="#d62728", alpha=0.15)
    ax.set_xlabel("hour of day (of the log's first day)")
    ax.set_ylabel("messages per hour")
    ax.set_title(f"{f.name}: submissions")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _sizes(f: FlowFit, path: Path) -> None:
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    points = [(iv.value, q) for q, iv in f.sizes.quantiles]
    xs = np.array([max(v, 1.0) for v, _ in points])
    ax.plot(xs, [q for _, q in points], marker=".", label="observed quantiles (linear CDF)")
    ln = f.sizes.lognormal
    if ln is not None:
        grid = np.geomspace(xs.min(), xs.max() * 1.5, 200)
        ax.plot(grid, ln.cdf(grid), color="#d62728", label=f"lognormal (KS p = {ln.ks_p:.2g})")
    ax.set_xscale("log")
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("CDF")
    ax.set_title(f"{f.name}: sizes, fitted as {f.sizes.chosen}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _recipients(f: FlowFit, path: Path) -> None:
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    total = sum(n for _, n in f.per_message)
    ks = [k for k, _ in f.per_message]
    ivs = [wilson(n, total) for _, n in f.per_message]
    shares = np.array([iv.value for iv in ivs])
    ax.bar([str(k) for k in ks], shares, color="#9ecae1")
    ax.errorbar(
        [str(k) for k in ks],
        shares,
        yerr=[shares - [iv.low for iv in ivs], np.array([iv.high for iv in ivs]) - shares],
        fmt="none",
        color="black",
    )
    ax.set_xlabel("recipients per message")
    ax.set_ylabel("share of messages")
    ax.set_title(f"{f.name}: recipients per message (95 % intervals)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _destinations(fit: Fit, path: Path) -> None:
    fig = Figure(figsize=(7, 0.5 + 0.45 * max(1, len(fit.destinations))))
    ax = fig.subplots()
    names = [d.domain for d in fit.destinations]
    left = np.zeros(len(names))
    for label, attr, color in (
        ("sent", "sent", "#31a354"),
        ("deferred", "deferred", "#fd8d3c"),
        ("bounced", "bounced", "#de2d26"),
    ):
        values = np.array([getattr(d, attr) for d in fit.destinations], dtype=float)
        ax.barh(names, values, left=left, color=color, label=label)
        left += values
    ax.set_xlabel("attempts (last hop)")
    ax.set_title("destinations: attempts by outcome")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def draw_fit(fit: Fit, directory: Path) -> list[Path]:
    """Draw the figures of ``fit`` into ``directory``; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for f in fit.flows:
        for kind, draw in (("rate", _rate), ("sizes", _sizes), ("recipients", _recipients)):
            path = directory / f"{kind}-{f.name}.png"
            draw(f, path)
            written.append(path)
    if fit.destinations:
        path = directory / "destinations.png"
        _destinations(fit, path)
        written.append(path)
    return written
