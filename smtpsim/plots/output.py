"""``write_plots``: every figure of a run, as files."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._common import FIGSIZE, IncidentSpec, as_str, seconds_of
from .bounces import FAILED, bounces_by_dsn, failed_by_dsn
from .breakdown import delay_breakdown, delay_components
from .cdf import delay_cdf
from .outcomes import (
    FINAL_STATUSES,
    deferral_counts,
    deferrals_over_time,
    outcome_counts,
    outcomes_over_time,
)
from .population import recipients_of_interest
from .queues import queue_sizes
from .tls import tls_sessions

if TYPE_CHECKING:
    from ..metrics.result import RunResult

__all__ = ["FIGURES", "FORMATS", "TLS_FIGURE", "figure_totals", "write_plots"]

FORMATS = ("png", "svg", "pdf")
FIGURES = ("delay-cdf", "outcomes", "queues", "bounces-by-dsn", "delay-breakdown")
"""The files ``write_plots`` writes, as ``NAME.FORMAT``."""
TLS_FIGURE = "tls"
"""And for a run with a TLS report (``RunResult.tls_report``), this one too."""

DPI = 120


def write_plots(result: RunResult, out_dir: str | Path, fmt: str = "png") -> list[Path]:
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
    flows = set(as_str(m["origin"]).unique().tolist()) - {"bounce"} if len(m) else set()
    by: Literal["origin", "domain"] = "origin" if len(flows) > 1 else "domain"
    draw: dict[str, Callable[[Figure], object]] = {
        "delay-cdf": lambda fig: delay_cdf(r, m, by=by, warmup=warmup, ax=fig.add_subplot()),
        "outcomes": lambda fig: _outcomes_panels(fig, r, a, m, incidents, until, warmup),
        "queues": lambda fig: queue_sizes(
            lv, incidents=incidents, until=until, ax=fig.add_subplot()
        ),
        "bounces-by-dsn": lambda fig: bounces_by_dsn(r, m, warmup=warmup, ax=fig.add_subplot()),
        "delay-breakdown": lambda fig: delay_breakdown(
            r, a, m, incidents=incidents, until=until, warmup=warmup, ax=fig.add_subplot()
        ),
    }
    names: tuple[str, ...] = FIGURES
    tls_report = getattr(result, "tls_report", None)
    if tls_report is not None:
        draw[TLS_FIGURE] = lambda fig: tls_sessions(tls_report, ax=fig.add_subplot())
        names = (*FIGURES, TLS_FIGURE)
    caption = _caption(meta)
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        size = (FIGSIZE[0], FIGSIZE[1] * 1.45) if name == "outcomes" else FIGSIZE
        fig = Figure(figsize=size, layout="constrained")
        FigureCanvasAgg(fig)
        draw[name](fig)
        if caption:
            fig.text(0.995, 0.005, caption, ha="right", va="bottom", fontsize=7, color="0.4")
        path = directory / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=DPI)
        written.append(path)
        del fig
    return written


def _outcomes_panels(
    fig: Figure,
    r: pd.DataFrame,
    a: pd.DataFrame,
    m: pd.DataFrame,
    incidents: Iterable[IncidentSpec],
    until: float | None,
    warmup: float,
) -> None:
    """Recipients reaching a final status above, deferred attempts below: two
    quantities that are never stacked together, on one time axis."""
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    outcomes_over_time(r, m, incidents=incidents, until=until, warmup=warmup, ax=top)
    top.set_xlabel("")
    deferrals_over_time(a, m, incidents=incidents, until=until, warmup=warmup, ax=bottom)


def figure_totals(result: RunResult) -> dict[str, dict[str, int]]:
    """What each figure of :func:`write_plots` counts, from the same functions and
    arguments it draws with: per figure, recipients per status (and deferred attempts
    for the outcomes figure). A test holds these equal to ``result.summary()``."""
    meta = dict(getattr(result, "meta", None) or {})
    until = _number(meta.get("sim_time_s"), _number(meta.get("until_s"), None))
    warmup = _number(meta.get("warmup_s"), 0.0) or 0.0
    m, r, a = result.messages, result.recipients, result.attempts
    counts = outcome_counts(r, m, warmup=warmup, until=until)
    outcomes = {s: int(counts[s].sum()) for s in FINAL_STATUSES}
    outcomes["pending"] = int(counts.attrs["pending"])
    outcomes["submitted"] = int(counts.attrs["submitted"])
    deferrals = deferral_counts(a, m, warmup=warmup, until=until)
    outcomes["deferred_attempts"] = int(
        deferrals.drop(columns=["t_start", "t_end"]).to_numpy().sum()
    )
    failed = failed_by_dsn(r, m, warmup=warmup)
    by_status = failed.groupby("status")["recipients"].sum()
    bounces = {s: int(by_status.get(s, 0)) for s in FAILED}
    bounces["submitted"] = int(failed.attrs["submitted"])
    cdf = recipients_of_interest(r, m, warmup=warmup)
    status = as_str(cdf["status"])
    parts = delay_components(r, a, m, warmup=warmup)
    return {
        "outcomes": outcomes,
        "bounces-by-dsn": bounces,
        "delay-cdf": {
            "submitted": len(cdf),
            "delivered": int((status == "delivered").sum()),
            "pending": int((status == "pending").sum()),
        },
        "delay-breakdown": {"delivered": len(parts)},
    }


def _number(value: object, default: float | None) -> float | None:
    number = seconds_of(value)
    return default if number is None else number


def _caption(meta: Mapping[str, object]) -> str:
    """``smtpsim run quickstart, seed 42``, from what meta has."""
    bits = []
    if meta.get("scenario"):
        bits.append(str(meta["scenario"]))
    if meta.get("seed") is not None:
        bits.append(f"seed {meta['seed']}")
    warmup = _number(meta.get("warmup_s"), 0.0)
    if warmup:
        bits.append(f"delays after a warm-up of {warmup:g} s")
    return ("smtpsim: " + ", ".join(bits)) if bits else ""
