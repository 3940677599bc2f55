"""Outcomes over time: recipients reaching their final status, and deferrals apart.

Two quantities that must not be stacked together: recipients (each counted once,
when it reaches delivered, bounced, expired or lost) and deferred attempts (a
recipient can be deferred many times, at every hop). :func:`outcomes_over_time`
draws the first, :func:`deferrals_over_time` the second; ``write_plots`` puts them in
one figure, in two panels over the same time axis. Both count the summary's
population (:mod:`smtpsim.plots.population`), so the legend's totals are the
summary's numbers; recipients still pending at the end are named in the legend.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from ..text import format_percent
from ._common import (
    IncidentSpec,
    as_str,
    bin_edges,
    count_axis,
    format_duration,
    histogram,
    legend,
    new_axes,
    note,
    set_data_ylim,
    shade_incidents,
    span_of,
    tidy_time_axis,
    time_scale,
)
from .population import attempts_of_interest, recipients_of_interest

__all__ = [
    "FINAL_STATUSES",
    "OUTCOME_COLOURS",
    "deferral_counts",
    "deferrals_over_time",
    "outcome_counts",
    "outcomes_over_time",
]

OUTCOME_COLOURS = {
    "delivered": "#2ca02c",
    "bounced": "#d62728",
    "expired": "#9467bd",
    "lost": "#7f7f7f",
    "pending": "#ffffff",
    "deferred": "#ff7f0e",
    "unsent": "#8c564b",
}
FINAL_STATUSES = ("delivered", "bounced", "expired", "lost", "unsent")
"""The statuses a recipient reaches at a time (``t_final``); ``pending`` has none."""
_ALWAYS = ("delivered", "bounced")  # expired, lost and unsent only when there are any
_MAX_HOSTS = 6  # deferral series by sending host; the rest together as "other hosts"


def outcome_counts(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    include_bounces: bool = False,
    warmup: float = 0.0,
    until: float | None = None,
    bin_s: float | None = None,
    target_bins: int = 60,
) -> pd.DataFrame:
    """Recipients reaching each final status per time bin: one row per bin (``t_start``,
    ``t_end`` in seconds), one column per status of :data:`FINAL_STATUSES` (counted at
    ``t_final``). The recipients are the summary's (messages submitted from
    ``warmup`` on, bounce messages' only with ``include_bounces``), so each column
    sums to the summary's count; ``attrs["pending"]`` and ``attrs["submitted"]`` hold
    the recipients still pending at the end and all of them. Bins start at 0 and
    cover ``until`` (the run's end) and every time seen; the last bin includes its
    right edge."""
    rows = recipients_of_interest(
        recipients, messages, include_bounces=include_bounces, warmup=warmup
    )
    status = as_str(rows["status"]) if len(rows) else pd.Series([], dtype=str)
    t_final = rows["t_final"].to_numpy(dtype=float)
    edges = bin_edges(span_of(until, t_final), bin_s, target_bins)
    columns: dict[str, np.ndarray] = {"t_start": edges[:-1], "t_end": edges[1:]}
    for name in FINAL_STATUSES:
        columns[name] = histogram(t_final[(status == name).to_numpy()], edges)
    out = pd.DataFrame(columns)
    out.attrs["pending"] = int((status == "pending").sum())
    out.attrs["submitted"] = len(rows)
    return out


def deferral_counts(
    attempts: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    include_bounces: bool = False,
    warmup: float = 0.0,
    until: float | None = None,
    bin_s: float | None = None,
    target_bins: int = 60,
    max_hosts: int = _MAX_HOSTS,
) -> pd.DataFrame:
    """Deferred attempts per time bin (by ``t_end``), one column per sending host
    (the busiest ``max_hosts - 1``, the rest as ``other hosts``): the rows of
    ``attempts`` with outcome ``deferred`` of the messages the summary counts, so the
    columns sum to the deferred attempts behind the summary's ``deferral_rate``."""
    rows = attempts_of_interest(attempts, messages, include_bounces=include_bounces, warmup=warmup)
    deferred = rows.loc[(as_str(rows["outcome"]) == "deferred").to_numpy()] if len(rows) else rows
    t_end = deferred["t_end"].to_numpy(dtype=float) if len(deferred) else np.zeros(0)
    all_ends = rows["t_end"].to_numpy(dtype=float) if len(rows) else np.zeros(0)
    edges = bin_edges(span_of(until, all_ends), bin_s, target_bins)
    columns: dict[str, np.ndarray] = {"t_start": edges[:-1], "t_end": edges[1:]}
    if len(deferred):
        hosts = as_str(deferred["host"])
        busiest = list(hosts.value_counts(sort=True).index)
        if len(busiest) > max_hosts:
            keep = busiest[: max_hosts - 1]
            hosts = hosts.where(hosts.isin(keep), "other hosts")
            busiest = [*keep, "other hosts"]
        for host in busiest:
            columns[host] = histogram(t_end[(hosts == host).to_numpy()], edges)
    return pd.DataFrame(columns)


def outcomes_over_time(
    recipients: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    incidents: Iterable[IncidentSpec] | None = None,
    include_bounces: bool = False,
    warmup: float = 0.0,
    until: float | None = None,
    bin_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Stacked bars per time bin of :func:`outcome_counts`: recipients reaching their
    final mailbox (delivered), refused for good (bounced), given up after
    ``maximal_queue_lifetime`` (expired) or lost, each recipient once. The legend gives
    each total (the summary's numbers) and the recipients still pending at the end.
    Incident windows are shaded, one row each."""
    ax = new_axes(ax)
    counts = outcome_counts(
        recipients,
        messages,
        include_bounces=include_bounces,
        warmup=warmup,
        until=until,
        bin_s=bin_s,
    )
    span = float(counts["t_end"].iloc[-1])  # covers until and every row
    width_s = float(counts["t_end"].iloc[0] - counts["t_start"].iloc[0])
    scale = time_scale(span)
    who = "recipients" + (", bounce notices' included" if include_bounces else "")
    ax.set_title(f"Recipients reaching their final status, per {format_duration(width_s)}")
    ax.set_ylabel(f"{who} per {format_duration(width_s)}")
    tidy_time_axis(ax, scale, span)
    shade_incidents(ax, incidents, scale, span)
    count_axis(ax)
    ax.grid(True, axis="y", alpha=0.3)
    shown = [n for n in FINAL_STATUSES if n in _ALWAYS or counts[n].sum() > 0]
    pending = int(counts.attrs["pending"])
    submitted = int(counts.attrs["submitted"])
    if not any(counts[n].sum() for n in shown) and not pending:
        note(ax, "no recipients reached a final status in this run")
        set_data_ylim(ax, 1.0)
        legend(ax)
        return ax
    left = scale(counts["t_start"].to_numpy())
    width = scale(width_s) * np.ones(len(counts))
    bottom = np.zeros(len(counts))
    for name in shown:
        heights = counts[name].to_numpy(dtype=float)
        total = int(heights.sum())
        ax.bar(
            left,
            heights,
            width=width,
            bottom=bottom,
            align="edge",
            color=OUTCOME_COLOURS[name],
            label=f"{name} ({_share(total, submitted)})",
            gid=f"outcome:{name}",
            linewidth=0,
        )
        bottom += heights
    # pending recipients have no time to be drawn at: the legend says how many there are
    handles, _labels = ax.get_legend_handles_labels()
    handles.append(
        Patch(
            facecolor="white",
            edgecolor="0.3",
            hatch="..",
            label=f"pending at the end ({_share(pending, submitted)})",
        )
    )
    set_data_ylim(ax, max(1.0, float(bottom.max())))
    ax.legend(
        handles=handles,
        fontsize=8,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        title=f"{submitted:,} recipients",
        title_fontsize=8,
    )
    return ax


def deferrals_over_time(
    attempts: pd.DataFrame,
    messages: pd.DataFrame,
    *,
    incidents: Iterable[IncidentSpec] | None = None,
    include_bounces: bool = False,
    warmup: float = 0.0,
    until: float | None = None,
    bin_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Deferred attempts per time bin, stacked by the host that deferred them
    (:func:`deferral_counts`): attempts, not recipients; one recipient may be deferred
    many times and at several hops. Incident windows are shaded, one row each."""
    ax = new_axes(ax)
    counts = deferral_counts(
        attempts, messages, include_bounces=include_bounces, warmup=warmup, until=until, bin_s=bin_s
    )
    span = float(counts["t_end"].iloc[-1])
    width_s = float(counts["t_end"].iloc[0] - counts["t_start"].iloc[0])
    scale = time_scale(span)
    ax.set_title(
        f"Deferred delivery attempts (retried later), per {format_duration(width_s)}", fontsize=10
    )
    ax.set_ylabel(f"attempts per {format_duration(width_s)}")
    tidy_time_axis(ax, scale, span)
    shade_incidents(ax, incidents, scale, span)
    count_axis(ax)
    ax.grid(True, axis="y", alpha=0.3)
    hosts = [c for c in counts.columns if c not in ("t_start", "t_end")]
    if not hosts:
        note(ax, "no deferred attempts in this run")
        set_data_ylim(ax, 1.0)
        return ax
    left = scale(counts["t_start"].to_numpy())
    width = scale(width_s) * np.ones(len(counts))
    bottom = np.zeros(len(counts))
    for i, host in enumerate(hosts):
        heights = counts[host].to_numpy(dtype=float)
        ax.bar(
            left,
            heights,
            width=width,
            bottom=bottom,
            align="edge",
            color=_DEFERRAL_SHADES[i % len(_DEFERRAL_SHADES)],
            linewidth=0,
            label=f"deferred by {host} ({int(heights.sum()):,})",
            gid=f"deferred:{host}",
        )
        bottom += heights
    set_data_ylim(ax, max(1.0, float(bottom.max())))
    legend(ax)
    return ax


_DEFERRAL_SHADES = ("#ff7f0e", "#ffbb78", "#e6550d", "#fdae6b", "#a63603", "#fd8d3c")


def _share(n: int, total: int) -> str:
    return f"{n:,}, {format_percent(n, total)}" if total else f"{n:,}"
