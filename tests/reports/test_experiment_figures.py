"""Figures of experiments that do not mislead: share intervals within [0, 1], axes
from 0, categories as points, paired differences around a zero line, the compare CDF
as a share of all recipients."""

from __future__ import annotations

import numpy as np
import pandas as pd

from smtpsim.plots.experiment import (
    compared_differences,
    compared_metric,
    replication_cdf,
    sweep_metric,
)


def _table(means: list[float], halves: list[float], metric: str = "bounce_rate") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "config": [f"c{i}" for i in range(len(means))],
            "metric": metric,
            "mean": means,
            "half_width": halves,
        }
    )


def _bar_ends(ax) -> list[tuple[float, float]]:
    ends = []
    for container in ax.containers:
        for seg in container[2][0].get_segments():
            ends.append((float(seg[0][1]), float(seg[1][1])))
    return ends


def test_share_interval_is_clipped_and_axis_starts_at_zero() -> None:
    ax = compared_metric(_table([0.002, 0.5], [0.01, 0.02]), "bounce_rate")
    low, high = _bar_ends(ax)[0]
    assert min(low, high) == 0.0  # not -0.8 %
    assert ax.get_ylim()[0] == 0.0
    assert ax.get_ylim()[1] == 100.0  # 50 % shown on the whole scale
    assert "(%)" in ax.get_ylabel()


def test_tiny_delay_differences_are_not_zoomed() -> None:
    ax = compared_metric(_table([0.5891, 0.5852], [0.01, 0.01], "delay_p50"), "delay_p50")
    assert ax.get_ylim()[0] == 0.0


def test_delay_axes_are_in_human_units() -> None:
    """A p95 of 20 minutes reads '20 min' on the axis, not '1200'; differences of
    delays too, on both sides of zero."""
    ax = compared_metric(_table([1200.0, 600.0], [5.0, 5.0], "delay_p95"), "delay_p95")
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert "20 min" in labels and "10 min" in labels, labels
    assert "(s)" not in ax.get_ylabel()
    diffs = pd.DataFrame(
        {
            "config": ["b"],
            "versus": "a",
            "metric": "delay_p95",
            "diff": [600.0],
            "half_width": [3.0],
        }
    )
    fig = compared_differences(diffs, ["delay_p95"])
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "10 min" in labels and "-10 min" in labels, labels
    _lo, hi = fig.axes[0].get_xlim()
    assert hi > 603.0  # the interval is inside the axes, not on its edge


def test_categorical_sweep_values_are_not_joined() -> None:
    table = pd.DataFrame(
        {
            "hosts.out.retry": ["postfix", "exim", "impatient"],
            "metric": "delivery_ratio",
            "mean": [0.9, 0.95, 0.99],
            "half_width": [0.2, 0.02, 0.05],
        }
    )
    ax = sweep_metric(table, "delivery_ratio", "hosts.out.retry")
    [container] = ax.containers
    assert container[0].get_linestyle() == "None"  # markers only
    highs = [max(a, b) for a, b in _bar_ends(ax)]
    assert max(highs) <= 100.0  # 0.99 + 0.05 clipped to 100 %
    numeric = pd.DataFrame(
        {
            "rate": [1.0, 2.0, 3.0],
            "metric": "delivery_ratio",
            "mean": [0.9, 0.95, 0.99],
            "half_width": [0.01] * 3,
        }
    )
    ax = sweep_metric(numeric, "delivery_ratio", "rate")
    assert ax.containers[0][0].get_linestyle() == "-"


def test_forest_plot_has_zero_line_and_intervals() -> None:
    diffs = pd.DataFrame(
        {
            "config": ["b", "c"],
            "versus": "a",
            "metric": "delay_p50",
            "diff": [0.5, -0.01],
            "half_width": [0.1, 0.05],
        }
    )
    fig = compared_differences(diffs, ["delay_p50"])
    ax = fig.axes[0]
    assert any(np.allclose(line.get_xdata(), 0.0) for line in ax.lines)
    segments = [s for c in ax.containers for s in c[2][0].get_segments()]
    assert [(round(s[0][0], 6), round(s[1][0], 6)) for s in segments] == [(0.4, 0.6), (-0.06, 0.04)]
    lo, hi = ax.get_xlim()
    assert lo == -hi  # zero in the middle


def test_compare_cdf_ends_at_the_delivered_share() -> None:
    q = np.linspace(0, 1, 11)
    delays = pd.DataFrame(
        {
            "config": "a",
            "replication": np.repeat([0, 1], 11),
            "q": np.tile(q, 2),
            "delay_s": np.tile(1 + q, 2),
        }
    )
    shares = pd.DataFrame(
        {"config": ["a", "a"], "replication": [0, 1], "delivery_ratio": [0.8, 0.9]}
    )
    ax = replication_cdf(delays, shares=shares)
    [line] = [ln for ln in ax.lines if str(ln.get_gid()).startswith("cdf:")]
    assert np.isclose(line.get_ydata()[-1], 0.85)
    assert "all recipients" in ax.get_ylabel()


def test_compare_cdf_says_how_much_is_pending() -> None:
    q = np.linspace(0, 1, 11)
    delays = pd.DataFrame(
        {
            "config": "a",
            "replication": np.repeat([0, 1], 11),
            "q": np.tile(q, 2),
            "delay_s": np.tile(1 + q, 2),
        }
    )
    shares = pd.DataFrame(
        {
            "config": ["a", "a"],
            "replication": [0, 1],
            "delivery_ratio": [0.8, 0.9],
            "pending_rate": [0.2, 0.1],
        }
    )
    ax = replication_cdf(delays, shares=shares)
    [label] = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "85.0 % delivered" in label and "15.0 % pending" in label
