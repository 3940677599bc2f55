"""``write_plots``: every figure of a run, as files."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._common import FIGSIZE, as_str
from .bounces import bounces_by_dsn
from .breakdown import delay_breakdown
from .cdf import delay_cdf
from .outcomes import outcomes_over_time
from .queues import queue_sizes

__all__ = ["FIGURES", "FORMATS", "write_plots"]

FORMATS = ("png", "svg", "pdf")
FIGURES = ("delay-cdf", "outcomes", "queues", "bounces-by-dsn", "delay-breakdown")
"""The files ``write_plots`` writes, as ``NAME.FORMAT``."""

DPI = 120


def write_plots(result: Any, out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Write every figure of ``result`` (a ``RunResult``: its four tables and its
    ``meta``) into ``out_dir`` as ``FIGURE.FMT`` (see :data:`FIGURES`), and return
    the paths. The delay CDF has a line per flow, or per recipient domain when the
    run has a single flow. The incidents shaded are ``result.meta["incidents"]``; the run's end
    is ``meta["sim_time_s"]`` (or ``until_s``); delays count from ``warmup_s``.
    Figures are drawn on their own ``Figure`` with the Agg canvas: nothing goes
    through pyplot, whatever backend is in use. Empty tables give figures with a
    note saying so."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    meta = dict(getattr(result, "meta", None) or {})
    incidents = meta.get("incidents") or []
    until = _number(meta.get("sim_time_s"), _number(meta.get("until_s"), None))
    warmup = _number(meta.get("warmup_s"), 0.0) or 0.0
    m, r, a, lv = result.messages, result.recipients, result.attempts, result.levels
    # one line per flow, or per recipient domain when there is a single flow
    flows = set(as_str(m["origin"])) - {"bounce"} if len(m) else set()
    by: Literal["origin", "domain"] = "origin" if len(flows) > 1 else "domain"
    draw: dict[str, Callable[[Axes], Axes]] = {
        "delay-cdf": lambda ax: delay_cdf(r, m, by=by, warmup=warmup, ax=ax),
        "outcomes": lambda ax: outcomes_over_time(r, a, incidents=incidents, until=until,
                                                  ax=ax),
        "queues": lambda ax: queue_sizes(lv, incidents=incidents, until=until, ax=ax),
        "bounces-by-dsn": lambda ax: bounces_by_dsn(r, ax=ax),
        "delay-breakdown": lambda ax: delay_breakdown(r, a, m, incidents=incidents,
                                                      until=until, warmup=warmup, ax=ax),
    }
    caption = _caption(meta)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FIGURES:
        fig = Figure(figsize=FIGSIZE, layout="constrained")
        FigureCanvasAgg(fig)
        ax = draw[name](fig.add_subplot())
        if caption:
            fig.text(0.995, 0.005, caption, ha="right", va="bottom", fontsize=7, color="0.4")
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=DPI)
        written.append(path)
        del ax, fig
    return written


def _number(value: Any, default: float | None) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _caption(meta: dict[str, Any]) -> str:
    """``smtpsim run quickstart, seed 42``, from what meta has."""
    bits = []
    if meta.get("scenario"):
        bits.append(str(meta["scenario"]))
    if meta.get("seed") is not None:
        bits.append(f"seed {meta['seed']}")
    if _number(meta.get("warmup_s"), 0.0):
        bits.append(f"delays after a warm-up of {float(meta['warmup_s']):g} s")
    return ("smtpsim: " + ", ".join(bits)) if bits else ""
