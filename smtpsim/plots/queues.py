"""Queue sizes per host over time, from the ``levels`` table, binned.

A queue level changes at every message: drawn as raw steps, a busy host's line is a
solid block and a small queue beside a big one is invisible. So each level is
summarised per time bin, as :func:`level_bins` computes: the time-weighted mean (a
thick line) and the maximum (a thin one), which keeps both the load and the peaks
readable; the y axis becomes logarithmic above 10 when the hosts' peaks differ by
more than 30 times, so that a queue of 5 next to one of 5,000 is still seen.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._common import (
    IncidentSpec,
    as_str,
    bin_edges,
    count_axis,
    format_duration,
    legend,
    new_axes,
    note,
    set_data_ylim,
    shade_incidents,
    span_of,
    tidy_time_axis,
    time_scale,
)

__all__ = ["level_bins", "queue_sizes"]

_STYLES = {"active": "-", "deferred": "--", "connections": ":"}
_LOG_RATIO = 30.0  # peaks further apart than this: log axis (linear up to 10)


def level_bins(
    t: np.ndarray, value: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Time-weighted mean and maximum per bin of a level that is 0 until its first
    change, then holds each ``value`` from its time ``t`` (sorted) to the next change.
    Bins are ``edges[k]..edges[k+1]``; changes after the last edge are ignored."""
    t = np.asarray(t, dtype=float)
    v = np.asarray(value, dtype=float)
    # the step function as knots: (0, 0) and then every change
    knots = np.concatenate(([min(0.0, float(edges[0]))], t))
    levels = np.concatenate(([0.0], v))
    # area under the steps up to each knot, then up to each edge
    area = np.concatenate(([0.0], np.cumsum(levels[:-1] * np.diff(knots))))
    at = np.clip(np.searchsorted(knots, edges, side="right") - 1, 0, len(knots) - 1)
    area_at_edges = area[at] + levels[at] * (edges - knots[at])
    mean = np.diff(area_at_edges) / np.diff(edges)
    # maximum: the level holding at each bin's start, and every change inside the bin
    peak = levels[at[:-1]].copy()
    inside = np.searchsorted(edges, t, side="right") - 1
    ok = (inside >= 0) & (inside < len(peak))
    np.maximum.at(peak, inside[ok], v[ok])
    return mean, peak


def queue_sizes(
    levels: pd.DataFrame,
    *,
    metrics: Sequence[str] = ("active", "deferred"),
    hosts: Sequence[str] | None = None,
    incidents: Iterable[IncidentSpec] | None = None,
    until: float | None = None,
    bin_s: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Each host's active (solid) and deferred (dashed) queue per time bin: the
    time-weighted mean as a thick line and the bin's maximum as a thin one
    (:func:`level_bins`), one colour per host (``connections`` may be asked for
    too). Without ``hosts``, every host whose level is not 0 throughout. The legend
    gives each series' peak. Incident windows are shaded, one row each."""
    ax = new_axes(ax)
    unit = "messages" if set(metrics) <= {"active", "deferred"} else "messages or sessions"
    t = levels["t"].to_numpy(dtype=float) if len(levels) else np.zeros(0)
    span = span_of(until, t)
    edges = bin_edges(span, bin_s, target=120)
    span = float(edges[-1])
    width_s = float(edges[1] - edges[0])
    scale = time_scale(span)
    ax.set_title(
        f"Queue sizes per host: time-weighted mean per {format_duration(width_s)} "
        "(thick), maximum (thin)"
    )
    ax.set_ylabel(f"{unit} ({', '.join(metrics)})")
    tidy_time_axis(ax, scale, span)
    shade_incidents(ax, incidents, scale, span)
    ax.grid(True, alpha=0.3)

    if len(levels):
        host_col = as_str(levels["host"])
        metric_col = as_str(levels["metric"])
        wanted = metric_col.isin(list(metrics)).to_numpy()
        if hosts is not None:
            wanted = wanted & host_col.isin(list(hosts)).to_numpy()
        rows = pd.DataFrame(
            {
                "t": t,
                "host": host_col,
                "metric": metric_col,
                "value": levels["value"].to_numpy(dtype=float),
            }
        ).loc[wanted]
    else:
        rows = pd.DataFrame({"t": [], "host": [], "metric": [], "value": []})
    # hosts in order of first appearance (a list: iterating the Series is slow)
    order = list(hosts) if hosts is not None else list(dict.fromkeys(rows["host"].tolist()))
    if hosts is None:
        busy = rows.groupby("host")["value"].max()
        order = [h for h in order if busy.get(h, 0) > 0]
    colours = {host: f"C{i % 10}" for i, host in enumerate(order)}
    peaks = rows.groupby(["host", "metric"])["value"].max()
    # the biggest first, so that smaller lines are drawn over them, not hidden
    series_order = sorted(
        ((h, m) for h in order for m in metrics), key=lambda hm: -float(peaks.get(hm, 0.0))
    )
    drawn: list[float] = []
    x = scale(np.repeat(edges, 2)[1:-1])  # each bin's start and end, for flat steps
    for host, metric in series_order:
        series = rows[(rows["host"] == host) & (rows["metric"] == metric)]
        if series.empty:
            continue
        series = series.sort_values("t", kind="stable")
        mean, peak = level_bins(series["t"].to_numpy(), series["value"].to_numpy(), edges)
        colour = colours[host]
        top = float(series["value"].max())
        style = _STYLES.get(metric, "-.")
        ax.plot(
            x,
            np.repeat(peak, 2),
            color=colour,
            ls=style,
            lw=0.7,
            alpha=0.45,
            gid=f"queue-max:{host}:{metric}",
        )
        ax.plot(
            x,
            np.repeat(mean, 2),
            color=colour,
            ls=style,
            lw=1.8,
            label=f"{host} {metric} (peak {top:,.0f})",
            gid=f"queue:{host}:{metric}",
        )
        drawn.append(top)
    if not drawn:
        note(
            ax,
            "every queue stayed empty"
            if len(levels)
            else "no queue levels recorded (simulation.record_levels: false?)",
        )
        ax.set_ylim(0, 1)
    elif max(drawn) > _LOG_RATIO * max(min(drawn), 1.0):
        ax.set_yscale("symlog", linthresh=10.0, linscale=0.5)
        ax.set_ylabel(ax.get_ylabel() + ", log scale above 10")
        set_data_ylim(ax, max(drawn), margin=1.5)
    else:
        set_data_ylim(ax, max(drawn))
    count_axis(ax)
    legend(ax)
    return ax
