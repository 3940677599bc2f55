"""Figures of experiments: configurations compared over replications, and sweeps.

Like every figure here, they see DataFrames only (the tidy tables of
``smtpsim.compare`` and ``smtpsim.sweep``, columns in ``docs/experiments.md``), take
an optional ``ax`` (or ``fig``) and return what they drew on.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ._common import (
    FIGSIZE,
    IncidentSpec,
    as_str,
    duration_axis,
    format_duration,
    legend,
    new_axes,
    note,
    seconds_of,
    shade_incidents,
    time_scale,
)
from .cdf import log_delay_axis

__all__ = [
    "METRIC_LABELS",
    "compared_differences",
    "compared_metric",
    "compared_metrics",
    "is_share",
    "metric_label",
    "metric_unit",
    "queue_bands",
    "replication_cdf",
    "sweep_metric",
]

METRIC_LABELS = {
    "delivery_ratio": "delivered share of recipients",
    "bounce_rate": "bounced share of recipients",
    "expired_rate": "expired share of recipients",
    "lost_rate": "lost share of recipients",
    "pending_rate": "pending share of recipients (still queued at the end)",
    "deferral_rate": "deferred share of attempts",
    "delay_p50": "delivery delay p50",
    "delay_p95": "delivery delay p95",
    "delay_p99": "delivery delay p99",
    "mean_queue": "queued messages (time average)",
    "peak_queue": "queued messages (peak)",
    "attempts_per_recipient": "SMTP attempts per recipient (all hops)",
    "retries_per_recipient": "retries (deferred attempts) per recipient",
}


def metric_label(metric: str) -> str:
    """A metric's words: ``delivered share of recipients (domain bigmail.example)``."""
    base, _, split = metric.partition("@")
    label = METRIC_LABELS.get(base, base.replace("_", " "))
    return f"{label} ({split.replace('=', ' ')})" if split else label


_MIN_DELAY = 1e-3


def _labels(frame: pd.DataFrame, column: str = "config") -> list[str]:
    """The distinct values of a column in their order (a categorical's categories)."""
    col = frame[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(as_str(col))
        return [str(c) for c in col.cat.categories if str(c) in present]
    return list(dict.fromkeys(as_str(col)))


def _band(values: np.ndarray, band: tuple[float, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges across replications (rows): min and max, or quantiles."""
    with warnings.catch_warnings():  # all-NaN columns give NaN, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        if band is None:
            return np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        return (np.nanquantile(values, band[0], axis=0), np.nanquantile(values, band[1], axis=0))


def _band_text(band: tuple[float, float] | None) -> str:
    if band is None:
        return "band: min to max of the replications"
    return f"band: {100 * band[0]:g}-{100 * band[1]:g} % of the replications"


def replication_cdf(
    delays: pd.DataFrame,
    *,
    band: tuple[float, float] | None = None,
    shares: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Delay CDFs of configurations, overlaid: for each ``config``, the median over
    replications of each delay quantile (columns ``config``, ``replication``, ``q``,
    ``delay_s``: the quantiles of each run's delivered delays) as a line, with a band
    from the smallest to the largest replication (or the ``band`` quantiles, such as
    ``(0.1, 0.9)``); log delay axis.

    With ``shares`` (columns ``config``, ``replication``, ``delivery_ratio``: the
    ``runs`` table), the y axis is the share of *all* recipients, as in a run's delay
    CDF: each run's quantile ``q`` is drawn at ``q x delivery_ratio``, so a curve
    ends at the delivered share and the gap above it is mail bounced, expired, lost
    or pending. Without it, the share of delivered recipients."""
    ax = new_axes(ax)
    # two lines: side by side with another panel, one long line would run into its title
    ax.set_title("Delivery delay: median of the replications,\n" + _band_text(band))
    ax.set_xlabel("delivery delay (t_final - t_submit), log scale")
    ax.set_ylabel(
        "share of all recipients delivered within the delay"
        if shares is not None
        else "share of delivered recipients within the delay"
    )
    ax.set_ylim(0.0, 1.02)
    ax.grid(True, which="major", alpha=0.3)
    rows = delays[np.isfinite(delays["delay_s"].to_numpy(dtype=float))] if len(delays) else delays
    if not len(rows):
        note(ax, "no delivered recipients to show")
        log_delay_axis(ax, 0.1, 100.0)
        return ax
    lo, hi = math.inf, 0.0
    for i, config in enumerate(_labels(rows)):
        sub = rows[as_str(rows["config"]) == config]
        wide = sub.pivot_table(index="replication", columns="q", values="delay_s", aggfunc="first")
        q = wide.columns.to_numpy(dtype=float)
        values = np.maximum(wide.to_numpy(dtype=float), _MIN_DELAY)
        middle = np.nanmedian(values, axis=0)
        low, high = _band(values, band)
        colour = f"C{i % 10}"
        n = len(wide)
        scale, share_text = 1.0, ""
        if shares is not None:
            mine = shares[as_str(shares["config"]) == config].set_index("replication")
            ratio = mine["delivery_ratio"].reindex(wide.index).to_numpy(dtype=float)
            scale = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else 1.0
            share_text = f", {100 * scale:.1f} % delivered"
            if "pending_rate" in mine:  # the gap above the curve that is only unseen yet
                waiting = mine["pending_rate"].reindex(wide.index).to_numpy(dtype=float)
                if np.isfinite(waiting).any() and np.nanmedian(waiting) > 0:
                    share_text += f", {100 * float(np.nanmedian(waiting)):.1f} % pending"
        ax.fill_betweenx(q * scale, low, high, color=colour, alpha=0.2, lw=0, gid=f"band:{config}")
        ax.plot(
            middle,
            q * scale,
            color=colour,
            lw=1.5,
            gid=f"cdf:{config}",
            label=f"{config} (median {format_duration(float(np.nanmedian(middle)))}"
            f"{share_text}, {n} replication{'s' if n != 1 else ''})",
        )
        lo, hi = min(lo, float(np.nanmin(low))), max(hi, float(np.nanmax(high)))
    log_delay_axis(ax, lo / 1.5, hi * 1.5)  # a margin around the data
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))  # as the run's delay CDF
    legend(ax, loc="lower right")
    return ax


def queue_bands(
    queues: pd.DataFrame,
    *,
    band: tuple[float, float] | None = None,
    incidents: Sequence[IncidentSpec] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Messages queued in the whole network over time, per configuration: the mean
    over replications as a line, with a band from the smallest to the largest
    replication (or the ``band`` quantiles). Columns ``config``, ``replication``, ``t``
    (simulated seconds), ``queue``. ``incidents`` (``{"kind", "target", "start",
    "end"}``, as a run's ``meta["incidents"]``) are shaded."""
    ax = new_axes(ax)
    ax.set_title("Queued messages, all hosts: mean of the replications,\n" + _band_text(band))
    ax.set_ylabel("messages in queues (active + deferred)")
    ax.grid(True, alpha=0.3)
    if not len(queues):
        note(ax, "no queue sizes to show")
        return ax
    t_all = queues["t"].to_numpy(dtype=float)
    span = float(np.nanmax(t_all)) if np.isfinite(t_all).any() else 3600.0
    scale = time_scale(span if span > 0 else 3600.0)
    for i, config in enumerate(_labels(queues)):
        sub = queues[as_str(queues["config"]) == config]
        wide = sub.pivot_table(index="replication", columns="t", values="queue", aggfunc="first")
        t = wide.columns.to_numpy(dtype=float)
        values = wide.to_numpy(dtype=float)
        colour = f"C{i % 10}"
        low, high = _band(values, band)
        ax.fill_between(scale(t), low, high, color=colour, alpha=0.2, lw=0, gid=f"band:{config}")
        ax.plot(
            scale(t),
            np.nanmean(values, axis=0),
            color=colour,
            lw=1.5,
            gid=f"queue:{config}",
            label=config,
        )
    shown = [i for i in incidents or () if _before(i.get("start"), span)]
    if shown:  # only those that start within the run shown (no legend for the unseen)
        shade_incidents(ax, shown, scale, span)
    ax.set_xlim(0.0, float(scale(span)) if span > 0 else 1.0)
    ax.set_ylim(bottom=0.0)
    ax.set_xlabel(scale.label())
    legend(ax, loc="upper left")
    return ax


def is_share(metric: str) -> bool:
    """A share of recipients or attempts, from 0 to 1 (drawn in %); a split metric
    (``delivery_ratio@domain=...``) is of its base's kind."""
    base = metric.partition("@")[0]
    return base.endswith(("_ratio", "_rate"))


def metric_unit(metric: str) -> tuple[float, str]:
    """The factor a metric's values are drawn with, and their unit."""
    base = metric.partition("@")[0]
    if is_share(metric):
        return 100.0, "%"
    if base.startswith("delay") or base.endswith("_s"):
        return 1.0, "s"
    return 1.0, ""


def _before(start: object, span: float) -> bool:
    seconds = seconds_of(start)
    return seconds is not None and seconds < span


def _metric_axis(ax: Axes, metric: str, axis: str = "y") -> float:
    """Label the axis of ``metric`` with its unit; the factor its values are drawn with."""
    label = metric_label(metric)
    factor, unit = metric_unit(metric)
    if unit == "s":  # durations in human units (5 min, 2 h), not thousands of seconds
        duration_axis(ax, axis)
        unit = ""
    text = f"{label} ({unit})" if unit else label
    # wrapped, so that a long label never runs into the neighbouring panel
    (ax.set_ylabel if axis == "y" else ax.set_xlabel)(textwrap.fill(text, 32))
    return factor


def _interval(metric: str, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper error-bar lengths from the rows' ``ci_low`` and ``ci_high``
    (a share's Wilson interval is asymmetric), else ``mean`` ± ``half_width``; a
    share's interval never leaves [0, 1]."""
    mean = rows["mean"].to_numpy(dtype=float)
    if "ci_low" in rows and "ci_high" in rows:
        low = rows["ci_low"].to_numpy(dtype=float)
        high = rows["ci_high"].to_numpy(dtype=float)
    else:
        half = rows["half_width"].to_numpy(dtype=float)
        low, high = mean - half, mean + half
    low, high = np.where(np.isfinite(low), low, mean), np.where(np.isfinite(high), high, mean)
    if is_share(metric):
        low, high = np.clip(low, 0.0, 1.0), np.clip(high, 0.0, 1.0)
    return np.maximum(mean - low, 0.0), np.maximum(high - mean, 0.0)


def _honest_limits(ax: Axes, metric: str, highs: Sequence[float]) -> None:
    """y from 0 (no metric here is negative), up to 100 % for shares: a difference
    of 0.26 ms or 0.1 pp looks as small as it is (the paired differences, plotted
    apart, show whether it is real)."""
    top = max([h for h in highs if math.isfinite(h)], default=0.0)
    if is_share(metric):
        ax.set_ylim(0.0, 100.0 if top > 10.0 else max(top * 1.15, 1.0))
    else:
        ax.set_ylim(0.0, top * 1.15 if top > 0 else 1.0)


def compared_metric(table: pd.DataFrame, metric: str, *, ax: Axes | None = None) -> Axes:
    """One metric of each configuration: its mean as a point, its confidence interval
    as an error bar (``ci_low`` to ``ci_high``: a share's Wilson interval). ``table``
    has columns ``config``, ``metric``, ``mean``, ``half_width``, ``ci_low``,
    ``ci_high`` (as ``Comparison.table()``)."""
    ax = new_axes(ax)
    ax.set_title(metric)
    factor = _metric_axis(ax, metric)
    rows = table[as_str(table["metric"]) == metric]
    configs = _labels(rows) if len(rows) else []
    ax.grid(True, axis="y", alpha=0.3)
    if not configs:
        note(ax, f"no values of {metric}")
        return ax
    highs = []
    for i, config in enumerate(configs):
        row = rows[as_str(rows["config"]) == config].iloc[[0]]
        mean = float(row["mean"].iloc[0])
        lo, hi = _interval(metric, row)
        ax.errorbar(
            [i],
            [mean * factor],
            yerr=[lo * factor, hi * factor],
            fmt="o",
            color=f"C{i % 10}",
            capsize=5,
            lw=1.5,
            gid=f"metric:{config}",
        )
        highs.append((mean + float(hi[0])) * factor)
    ax.set_xticks(range(len(configs)))
    # long labels (a file and its overrides) wrapped, so that neighbours never overlap
    ax.set_xticklabels(
        [textwrap.fill(c, 18, break_long_words=False) for c in configs],
        rotation=15 if len(configs) > 3 else 0,
        fontsize=8,
    )
    ax.set_xlim(-0.5, len(configs) - 0.5)
    _honest_limits(ax, metric, highs)
    return ax


def compared_differences(
    differences: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
    fig: Figure | None = None,
) -> Figure:
    """A forest plot of the paired differences to the first configuration (columns of
    ``Comparison.differences()``: ``config``, ``versus``, ``metric``, ``diff``,
    ``half_width``): one panel per metric in its own unit (shares in percentage
    points), a point and its confidence interval per configuration, and the zero
    line; an interval that excludes 0 is drawn solid, one that holds 0 hollow."""
    rows = differences
    if metrics is None:
        metrics = list(dict.fromkeys(as_str(rows["metric"]))) if len(rows) else []
    metrics = list(metrics)
    configs = _labels(rows) if len(rows) else []
    n = max(1, len(metrics))
    if fig is None:
        fig = Figure(
            figsize=(9.0, 0.9 + (0.35 * max(1, len(configs)) + 0.55) * n), layout="constrained"
        )
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    versus = str(as_str(rows["versus"]).iloc[0]) if len(rows) else "the first"
    for ax, metric in zip(axes, metrics or [""], strict=False):
        sub = rows[as_str(rows["metric"]) == metric] if metric else rows.iloc[0:0]
        factor, unit = metric_unit(metric)
        unit = "pp" if unit == "%" else unit
        shown = "" if unit == "s" else unit  # durations carry their unit on the ticks
        ax.axvline(0.0, color="0.3", lw=1)
        ax.grid(True, axis="x", alpha=0.3)
        label = metric_label(metric)
        ax.set_title(
            f"{label}: difference to {versus}" + (f" ({shown})" if shown else ""),
            fontsize=9,
            loc="left",
        )
        for k, config in enumerate(configs):
            hit = sub[as_str(sub["config"]) == config]
            if not len(hit):
                continue
            diff, half = float(hit["diff"].iloc[0]), float(hit["half_width"].iloc[0])
            if not math.isfinite(diff):
                continue
            err = half * factor if math.isfinite(half) else 0.0
            solid = math.isfinite(half) and abs(diff) > half
            colour = f"C{(k + 1) % 10}"
            ax.errorbar(
                [diff * factor],
                [k],
                xerr=[[err], [err]],
                fmt="o",
                capsize=4,
                color=colour,
                mfc=colour if solid else "white",
                lw=1.5,
                gid=f"difference:{metric}:{config}",
            )
        ax.set_yticks(range(len(configs)))
        ax.set_yticklabels(configs, fontsize=8)
        ax.set_ylim(len(configs) - 0.5, -0.5)
        lo, hi = ax.get_xlim()
        wide = 1.1 * max(abs(lo), abs(hi))  # a margin: a narrow interval is not on the edge
        ax.set_xlim(-wide, wide)  # zero in the middle: the sign reads at a glance
        if unit == "s":
            duration_axis(ax, "x")
    fig.suptitle(
        f"Paired differences (same seeds) with {100 * confidence:g} % "
        "confidence intervals; filled: the interval excludes 0",
        fontsize=10,
    )
    return fig


def compared_metrics(
    table: pd.DataFrame,
    metrics: Sequence[str] | None = None,
    *,
    fig: Figure | None = None,
    confidence: float = 0.95,
) -> Figure:
    """:func:`compared_metric` for each metric, on a grid of axes of one figure."""
    if metrics is None:
        metrics = list(dict.fromkeys(as_str(table["metric"]))) if len(table) else []
    metrics = list(metrics)
    ncols = min(3, max(1, len(metrics)))
    nrows = max(1, math.ceil(len(metrics) / ncols))
    if fig is None:
        fig = Figure(figsize=(4.0 * ncols, 3.0 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(metrics):
            compared_metric(table, metrics[k], ax=ax)
        else:
            ax.set_visible(False)
    fig.suptitle(f"Metrics per configuration: mean and {100 * confidence:g} % confidence interval")
    return fig


def _sortable(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """x positions of a parameter's values: the numbers themselves, or the index of
    each value in the column's order (categories) with the tick labels."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not isinstance(
        values.dtype, pd.CategoricalDtype
    ):
        return values.to_numpy(dtype=float), None
    order = _labels(values.to_frame("v"), "v")
    position = {v: float(i) for i, v in enumerate(order)}
    text = as_str(values)
    x = np.array([position.get(v, np.nan) if v != "" else np.nan for v in text], dtype=float)
    return x, order


def sweep_metric(
    table: pd.DataFrame,
    metric: str,
    parameter: str,
    parameters: Sequence[str] | None = None,
    *,
    confidence: float = 0.95,
    ax: Axes | None = None,
) -> Axes:
    """A metric against a varied parameter: means with confidence-interval error bars
    (``table``: one row per design point and metric, with a column per parameter,
    ``metric``, ``mean``, ``half_width``; as ``SweepResult.table()``), one line per
    combination of the other ``parameters``."""
    ax = new_axes(ax)
    parameters = list(parameters) if parameters is not None else [parameter]
    others = [p for p in parameters if p != parameter]
    ax.set_title(
        f"{metric} against {parameter} (mean, {100 * confidence:g} % confidence interval)",
        fontsize=10,
    )
    factor = _metric_axis(ax, metric)
    ax.set_xlabel(parameter)
    ax.grid(True, alpha=0.3)
    rows = table[as_str(table["metric"]) == metric] if len(table) else table
    if not len(rows):
        note(ax, f"no values of {metric}")
        return ax
    x_all, ticks = _sortable(rows[parameter])
    rows = rows.assign(_x=x_all)
    rows = rows[np.isfinite(rows["_x"].to_numpy(dtype=float))]
    if others:
        keys = [tuple(as_str(rows[p])) for p in others]
        combos = list(zip(*keys, strict=True))
    else:
        combos = [()] * len(rows)
    rows = rows.assign(_line=[" ".join(c) for c in combos])
    lines = list(dict.fromkeys(zip(rows["_line"], combos, strict=True)))
    short = _short_names(others)
    n_lines = len(lines)
    offset = 0.0
    drawn = 0
    highs: list[float] = []
    for i, (key, combo) in enumerate(lines):
        sub = rows[rows["_line"] == key].sort_values("_x")
        x = sub["_x"].to_numpy(dtype=float)
        if ticks is not None and n_lines > 1:  # side by side, not on top of each other
            offset = (i - (n_lines - 1) / 2) * min(0.25, 0.6 / n_lines)
        raw = sub["mean"].to_numpy(dtype=float)
        if not np.isfinite(raw).any():  # every run of these points failed
            continue
        lo, hi = _interval(metric, sub)
        label = (
            ", ".join(
                f"{name}={value or '(default)'}" for name, value in zip(short, combo, strict=True)
            )
            or None
        )
        # categories (postfix, exim) have no order in between: points, not lines
        ax.errorbar(
            x + offset,
            raw * factor,
            yerr=[lo * factor, hi * factor],
            fmt="o" if ticks is not None else "o-",
            capsize=4,
            lw=1.3,
            ms=5,
            color=f"C{i % 10}",
            label=label,
            gid=f"sweep:{key}",
        )
        highs.extend((raw + hi) * factor)
        drawn += 1
    if not drawn:
        note(ax, f"no values of {metric}: every run failed")
    else:
        _honest_limits(ax, metric, highs)
    if ticks is not None:
        ax.set_xticks(range(len(ticks)))
        ax.set_xticklabels(ticks, rotation=15 if len(ticks) > 5 else 0, fontsize=8)
        ax.set_xlim(-0.5, len(ticks) - 0.5)
    legend(ax)
    return ax


def _short_names(paths: Sequence[str]) -> list[str]:
    """The last segment of each dotted path, or more segments when that is ambiguous."""
    for depth in range(1, 1 + max((p.count(".") + 1 for p in paths), default=1)):
        names = [".".join(p.split(".")[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return list(paths)


def new_figure() -> Figure:
    return Figure(figsize=FIGSIZE, layout="constrained")
