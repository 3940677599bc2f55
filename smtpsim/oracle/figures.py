"""Real-vs-simulated figures of an oracle experiment (matplotlib, explicit figure and
axes): the real run in black, each simulated seed in a thin colour line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .comparison import Tables, attempt_ages, conn_uses, gaps

_SIM = "tab:blue"


@dataclass(frozen=True)
class _Style:
    """How one run's lines look: the real run bold and black, the seeds thin."""

    color: str
    linewidth: float
    alpha: float = 1.0
    label: str | None = None
    zorder: float = 2.0

    def step(self, ax: Axes, x: np.ndarray, y: np.ndarray) -> None:
        ax.step(
            x,
            y,
            where="post",
            color=self.color,
            linewidth=self.linewidth,
            alpha=self.alpha,
            label=self.label,
            zorder=self.zorder,
        )


def _ecdf(ax: Axes, sample: np.ndarray, style: _Style) -> None:
    x = np.sort(sample)
    if len(x):
        style.step(ax, x, np.arange(1, len(x) + 1) / len(x))


def _cumulative(ax: Axes, t: Tables, status: str, style: _Style) -> None:
    rec = t["recipients"]
    times = np.sort(rec.loc[rec["status"].astype(str) == status, "t_final"].to_numpy(float))
    if len(times):
        x = np.concatenate([[0.0], times])
        style.step(ax, x, np.arange(len(x)))


def _new_connections(ax: Axes, t: Tables, style: _Style) -> None:
    att = t["attempts"]
    fresh = att[(att["peer"].astype(str) != "none") & (att["conn_use"] == 1)]
    times = np.sort(fresh["t_start"].to_numpy(float))
    if len(times):
        x = np.concatenate([[0.0], times])
        style.step(ax, x, np.arange(len(x)))


def draw(
    sides: Sequence[tuple[str, Tables]],
    title: str,
    path: Path,
    *,
    status: str = "delivered",
    min_backoff: float | None = None,
    caching: bool = False,
) -> Path:
    """Three panels: when attempts start after submission (the retry schedule), the
    gaps between a recipient's attempts (ECDF), and recipients reaching ``status`` over
    time; with ``caching``, the first two are each session's ``conn_use`` (ECDF) and the
    new connections over time instead. ``sides[0]`` is the real run."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")  # no pyplot: no global state
    axes = fig.subplots(1, 3)
    for n, (_name, t) in enumerate(sides):
        real = n == 0
        style = (
            _Style("black", 2.0, label="Postfix 3.7 (real)", zorder=3)
            if real
            else _Style(_SIM, 0.8, alpha=0.6, label="smtpsim (seeds)" if n == 1 else None)
        )
        if caching:
            _ecdf(axes[0], conn_uses(t), style)
            _new_connections(axes[1], t, style)
        else:
            ages = attempt_ages(t)
            ages = ages[ages > 0.5]  # retries only: the first attempts sit at 0
            _ecdf(axes[0], ages, style)
            _ecdf(axes[1], gaps(t), style)
        _cumulative(axes[2], t, status, style)
    if caching:
        axes[0].set(
            xlabel="conn_use (1: a new connection)",
            ylabel="share of sessions",
            title="connection reuse",
        )
        axes[1].set(xlabel="time (s)", ylabel="connections opened", title="new connections")
    else:
        axes[0].set(
            xlabel="retry start after submission (s)",
            ylabel="share of retries",
            title="retry times",
        )
        axes[1].set(xlabel="gap between attempts (s)", ylabel="share of gaps", title="retry gaps")
    if min_backoff is not None and not caching:
        axes[1].axvline(min_backoff, color="grey", linestyle=":", linewidth=1)
        axes[1].annotate(
            "minimal_backoff_time",
            (min_backoff, 0.05),
            rotation=90,
            fontsize=7,
            color="grey",
            ha="right",
        )
    axes[2].set(xlabel="time (s)", ylabel=f"recipients {status}", title=f"{status} over time")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
