"""Queue sizes per host over time, from the ``levels`` table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ._common import (
    as_str,
    legend,
    new_axes,
    note,
    shade_incidents,
    span_of,
    tidy_time_axis,
    time_scale,
)

__all__ = ["queue_sizes"]

_STYLES = {"active": "-", "deferred": "--", "connections": ":"}


def queue_sizes(levels: pd.DataFrame, *, metrics: Sequence[str] = ("active", "deferred"),
                hosts: Sequence[str] | None = None,
                incidents: Iterable[Mapping[str, Any]] | None = None,
                until: float | None = None, ax: Axes | None = None) -> Axes:
    """Each host's active and deferred queue (``levels`` rows), as step lines held
    from each change to the next and to ``until``: one colour per host, one line
    style per metric (``connections`` may be asked for too). Without ``hosts``,
    every host whose level is not 0 throughout; levels start at 0 at time 0.
    Incident windows are shaded."""
    ax = new_axes(ax)
    ax.set_title("Queue sizes per host")
    unit = "messages" if set(metrics) <= {"active", "deferred"} else "messages or sessions"
    ax.set_ylabel(f"{unit} ({', '.join(metrics)})")
    t = levels["t"].to_numpy(dtype=float) if len(levels) else np.zeros(0)
    span = span_of(until, t)
    scale = time_scale(span)
    tidy_time_axis(ax, scale, span)
    shade_incidents(ax, incidents, scale, span)
    ax.grid(True, alpha=0.3)

    if len(levels):
        host_col = as_str(levels["host"])
        metric_col = as_str(levels["metric"])
        wanted = metric_col.isin(list(metrics)).to_numpy()
        if hosts is not None:
            wanted = wanted & host_col.isin(list(hosts)).to_numpy()
        rows = pd.DataFrame({"t": t, "host": host_col, "metric": metric_col,
                             "value": levels["value"].to_numpy(dtype=float)}).loc[wanted]
    else:
        rows = pd.DataFrame({"t": [], "host": [], "metric": [], "value": []})
    order = list(hosts) if hosts is not None else list(dict.fromkeys(rows["host"]))
    if hosts is None:
        busy = rows.groupby("host")["value"].max()
        order = [h for h in order if busy.get(h, 0) > 0]
    colours = {host: f"C{i % 10}" for i, host in enumerate(order)}
    peaks = rows.groupby(["host", "metric"])["value"].max()
    # the biggest first, so that smaller lines are drawn over them, not hidden
    series_order = sorted(((h, m) for h in order for m in metrics),
                          key=lambda hm: -float(peaks.get(hm, 0.0)))
    drawn = 0
    for host, metric in series_order:
        series = rows[(rows["host"] == host) & (rows["metric"] == metric)]
        if series.empty:
            continue
        series = series.sort_values("t", kind="stable")
        xs = np.concatenate(([0.0], series["t"].to_numpy(), [span]))
        ys = np.concatenate(([0.0], series["value"].to_numpy(), series["value"].iloc[-1:]))
        ax.plot(scale(xs), ys, drawstyle="steps-post", color=colours[host],
                ls=_STYLES.get(metric, "-."), lw=1.2, label=f"{host} {metric}",
                gid=f"queue:{host}:{metric}")
        drawn += 1
    if drawn == 0:
        note(ax, "every queue stayed empty" if len(levels) else
             "no queue levels recorded (simulation.record_levels: false?)")
        ax.set_ylim(0, 1)
    else:
        ax.set_ylim(bottom=0)
    legend(ax, loc="upper right", ncol=2 if drawn > 6 else 1)
    return ax
