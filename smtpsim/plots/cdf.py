"""The delivery delay CDF: the share of recipients delivered within a given delay."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FixedLocator, NullFormatter, PercentFormatter

from ..text import format_percent
from ._common import as_str, format_duration, legend, new_axes, note
from .population import recipients_of_interest

__all__ = ["delay_cdf"]

# Major ticks of the delay axis, in seconds: round durations from 1 ms to 30 d, and a
# finer set for a narrow range of delays.
_TICKS = (0.001, 0.01, 0.1, 1, 10, 60, 600, 3600, 6 * 3600, 86400, 5 * 86400, 30 * 86400)
_FINE_TICKS = (
    0.001,
    0.002,
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    20,
    30,
    60,
    120,
    300,
    600,
    1200,
    1800,
    3600,
    7200,
    6 * 3600,
    12 * 3600,
    86400,
    2 * 86400,
    5 * 86400,
    10 * 86400,
    30 * 86400,
)
_MIN_DELAY = 1e-3  # a delay of 0 (impossible in practice) is drawn at 1 ms on the log axis


def delay_cdf(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    by: Literal["origin", "domain"] | None = "origin",
    include_bounces: bool = False,
    warmup: float = 0.0,
    max_lines: int = 8,
    ax: Axes | None = None,
) -> Axes:
    """The CDF of delivery delays (``delay_s``), on a log delay axis.

    One line per traffic flow (``by="origin"``), per recipient domain
    (``by="domain"``; the smallest ones beyond ``max_lines`` together as "other"), or
    one line for all (``by=None``), plus an "all" line when there are several. The y
    value at delay x is the share of the group's recipients delivered within x, out
    of all its recipients (bounced, expired, lost and pending ones included): each
    line ends at the group's delivered share. Recipients of bounce messages are left
    out unless ``include_bounces``; only messages submitted at or after ``warmup``
    count. The delay axis has no run time on it, so no incidents are shaded here.
    When the recipients have ``t_fetched`` (mailbox hosts with an access service), each
    line gets a dotted twin in its colour: the end-to-end delay (submitted to fetched by
    the mail client) of the same recipients; delivered ones not yet fetched at the end
    are counted in its label.
    """
    ax = new_axes(ax)
    ax.set_title(
        ("Delivery and end-to-end delay" if "t_fetched" in recipients.columns else "Delivery delay")
        + " of recipients"
        + {"origin": ", by flow", "domain": ", by recipient domain"}.get(str(by), "")
    )
    ax.set_xlabel("delivery delay (t_final - t_submit), log scale")
    ax.set_ylabel("share of recipients delivered within the delay")
    ax.set_ylim(0.0, 1.02)
    ax.grid(True, which="major", alpha=0.3)
    rows = recipients_of_interest(
        recipients, messages, include_bounces=include_bounces, warmup=warmup
    )
    status = as_str(rows["status"])
    delivered = (status == "delivered").to_numpy() & rows["delay_s"].notna().to_numpy()
    if not delivered.any():
        what = "recipients" if len(rows) == 0 else "delivered recipients"
        note(ax, f"no {what} to show")
        log_delay_axis(ax, 0.1, 100.0)
        return ax

    if by is None:
        keys = pd.Series("all recipients", index=rows.index)
    elif by in ("origin", "domain"):
        keys = as_str(rows[by])
    else:
        raise ValueError(f"by must be 'origin', 'domain' or None, got {by!r}")
    sizes = keys.value_counts(sort=True)
    if len(sizes) > max_lines:
        top = list(sizes.index[: max_lines - 1])
        rest = len(sizes) - len(top)
        keys = keys.where(keys.isin(top), f"other ({rest} {by}s)")
    groups = list(keys.value_counts(sort=True).index)
    delays = rows["delay_s"].to_numpy(dtype=float)
    lo, hi = np.inf, 0.0
    lines: list[tuple[str, np.ndarray, int, int, np.ndarray]] = []
    pending = (status == "pending").to_numpy()
    for name in groups:
        member = (keys == name).to_numpy()
        lines.append(
            (
                str(name),
                np.sort(delays[member & delivered]),
                int(member.sum()),
                int((member & pending).sum()),
                member,
            )
        )
    if len(groups) > 1:
        everyone = np.ones(len(rows), dtype=bool)
        lines.append(("all", np.sort(delays[delivered]), len(rows), int(pending.sum()), everyone))
    fetching = "t_fetched" in rows.columns  # mailbox hosts with an access service
    if fetching:
        ax.set_xlabel(
            # a line each: on one line the label is wider than the axes and is cut off
            "delay, log scale\nsolid/dashed: submitted to delivered (t_final - t_submit)\n"
            "dotted: submitted to fetched (t_fetched - t_submit)",
            fontsize=9,
        )
    for i, (name, x, total, waiting, member) in enumerate(lines):
        if x.size == 0:
            continue
        x = np.maximum(x, _MIN_DELAY)
        y = np.arange(1, x.size + 1) / total
        # start at 0 at the first delay, so that every line has a visible rise
        xs = np.concatenate(([x[0]], x))
        ys = np.concatenate(([0.0], y))
        median = format_duration(float(np.median(x)))
        # "n of N delivered (p %)": the share is of all the group's recipients, the
        # median of the delivered ones only
        label = (
            f"{name}: {x.size:,} of {total:,} delivered "
            f"({format_percent(x.size, total)}), median {median}"
        )
        if waiting:
            label += f"; {format_percent(waiting, total)} still pending"
        # all recipients dashed and black, each group in its colour
        color, lw, ls = ("black", 1.6, "--") if name == "all" else (f"C{i % 10}", 1.4, "-")
        ax.step(xs, ys, where="post", label=label, gid=f"cdf:{name}", color=color, lw=lw, ls=ls)
        lo, hi = min(lo, float(x[0])), max(hi, float(x[-1]))
        if fetching:
            e2e = _end_to_end(rows, member & delivered, total, name, color, ax)
            if e2e.size:
                lo, hi = min(lo, float(e2e[0])), max(hi, float(e2e[-1]))
    log_delay_axis(ax, lo / 1.5, hi * 1.5)  # a margin around the data
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    legend(ax)
    return ax


def _end_to_end(
    rows: pd.DataFrame, delivered: np.ndarray, total: int, name: str, color: str, ax: Axes
) -> np.ndarray:
    """The sorted end-to-end delays (submitted to fetched by the mail client) of the
    ``delivered`` recipients that were fetched, drawn on ``ax`` as a dotted line of the
    group's colour, out of its ``total`` recipients: it ends below the group's delivered
    line by the share delivered but not yet fetched at the end, which its label gives."""
    fetched = rows["t_fetched"].to_numpy(dtype=float)
    got = delivered & ~np.isnan(fetched)
    x = np.sort(np.maximum(fetched[got] - rows["t_submit"].to_numpy(dtype=float)[got], _MIN_DELAY))
    if not x.size:
        return x
    waiting = int((delivered & np.isnan(fetched)).sum())
    xs = np.concatenate(([x[0]], x))
    ys = np.concatenate(([0.0], np.arange(1, x.size + 1) / total))
    label = (
        f"{name}, submitted to fetched: {format_percent(x.size, total)} fetched, "
        f"median {format_duration(float(np.median(x)))}"
    )
    if waiting:
        label += f"; {format_percent(waiting, total)} delivered, not yet fetched"
    lw = 1.6 if name == "all" else 1.4
    ax.step(
        xs, ys, where="post", label=label, gid=f"cdf-fetched:{name}", color=color, lw=lw, ls=":"
    )
    return x


def log_delay_axis(ax: Axes, xmin: float, xmax: float) -> None:
    """A log delay axis from ``xmin`` to ``xmax`` seconds, ticked in s, min and h
    (shared by the run's CDF and the comparison's CDF bands)."""
    ax.set_xscale("log")
    ax.set_xlim(xmin, xmax)
    _delay_ticks(ax, xmin, xmax)


def _delay_ticks(ax: Axes, xmin: float, xmax: float) -> None:
    """Major ticks at round durations (1 s, 1 min, 1 h...), labelled as durations."""
    ticks = [t for t in _TICKS if xmin <= t <= xmax]
    if len(ticks) < 3:
        ticks = [t for t in _FINE_TICKS if xmin <= t <= xmax]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticklabels([format_duration(t) for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
