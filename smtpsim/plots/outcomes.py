"""Outcomes per time interval: delivered, deferred, bounced (expired, lost) counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._common import (
    as_str,
    bin_edges,
    format_duration,
    histogram,
    legend,
    new_axes,
    note,
    shade_incidents,
    span_of,
    tidy_time_axis,
    time_scale,
)

__all__ = ["OUTCOME_COLOURS", "outcome_counts", "outcomes_over_time"]

OUTCOME_COLOURS = {
    "delivered": "#2ca02c",
    "deferred": "#ff7f0e",
    "bounced": "#d62728",
    "expired": "#9467bd",
    "lost": "#7f7f7f",
}
_ALWAYS = ("delivered", "deferred", "bounced")  # expired and lost only when there are any


def outcome_counts(recipients: pd.DataFrame, attempts: pd.DataFrame, *,
                   until: float | None = None, bin_s: float | None = None,
                   target_bins: int = 60) -> pd.DataFrame:
    """Counts per time bin, one row per bin (``t_start``, ``t_end`` in seconds) and
    one column per outcome:

    - ``delivered``: recipients whose status is ``delivered`` with ``t_final`` in the
      bin (they reached their final mailbox then);
    - ``deferred``: rows of ``attempts`` with outcome ``deferred`` whose ``t_end`` is
      in the bin (one per recipient and attempt, at any hop);
    - ``bounced``, ``expired``, ``lost``: recipients with that status, by ``t_final``.

    Every recipient and attempt row counts, bounce messages' included, so each column
    sums to the table's count. Bins start at 0 and cover ``until`` (the run's end) and
    every time seen; the last bin includes its right edge.
    """
    status = as_str(recipients["status"]) if len(recipients) else pd.Series([], dtype=str)
    t_final = recipients["t_final"].to_numpy(dtype=float)
    outcome = as_str(attempts["outcome"]) if len(attempts) else pd.Series([], dtype=str)
    t_end = attempts["t_end"].to_numpy(dtype=float)
    span = span_of(until, t_final, t_end)
    edges = bin_edges(span, bin_s, target_bins)
    columns: dict[str, Any] = {"t_start": edges[:-1], "t_end": edges[1:]}
    for name in OUTCOME_COLOURS:
        if name == "deferred":
            times = t_end[(outcome == "deferred").to_numpy()]
        else:
            times = t_final[(status == name).to_numpy()]
        columns[name] = histogram(times, edges)
    return pd.DataFrame(columns)


def outcomes_over_time(recipients: pd.DataFrame, attempts: pd.DataFrame, *,
                       incidents: Iterable[Mapping[str, Any]] | None = None,
                       until: float | None = None, bin_s: float | None = None,
                       ax: Axes | None = None) -> Axes:
    """Stacked bars per time bin of the counts of :func:`outcome_counts`:
    delivered recipients, deferred attempts, bounced recipients, and expired and
    lost recipients when there are any. Incident windows are shaded."""
    ax = new_axes(ax)
    counts = outcome_counts(recipients, attempts, until=until, bin_s=bin_s)
    span = float(counts["t_end"].iloc[-1])  # covers until and every row
    width_s = float(counts["t_end"].iloc[0] - counts["t_start"].iloc[0])
    scale = time_scale(span)
    ax.set_title(f"Outcomes per {format_duration(width_s)}")
    ax.set_ylabel(f"recipients (deferred: attempts) per {format_duration(width_s)}")
    tidy_time_axis(ax, scale, span)
    shade_incidents(ax, incidents, scale, span)
    shown = [n for n in OUTCOME_COLOURS if n in _ALWAYS or counts[n].sum() > 0]
    if not any(counts[n].sum() for n in shown):
        note(ax, "no deliveries, deferrals or bounces in this run")
        legend(ax, loc="upper right")
        return ax
    left = scale(counts["t_start"].to_numpy())
    width = scale(width_s) * np.ones(len(counts))
    bottom = np.zeros(len(counts))
    for name in shown:
        heights = counts[name].to_numpy(dtype=float)
        total = int(heights.sum())
        ax.bar(left, heights, width=width, bottom=bottom, align="edge",
               color=OUTCOME_COLOURS[name], label=f"{name} ({total:,})", gid=f"outcome:{name}",
               linewidth=0)
        bottom += heights
    ax.set_ylim(0, max(1.0, float(bottom.max())) * 1.08)
    ax.grid(True, axis="y", alpha=0.3)
    legend(ax, loc="upper right")
    return ax
