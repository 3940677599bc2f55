"""What the figures share: axes, time units and bins, incident shading, notes.

Only pandas, numpy and matplotlib here: figures see result tables, never the engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

__all__ = [
    "FIGSIZE",
    "Incident",
    "TimeScale",
    "as_str",
    "bin_edges",
    "format_duration",
    "new_axes",
    "note",
    "parse_incidents",
    "shade_incidents",
    "time_scale",
]

FIGSIZE = (9.0, 4.8)
"""Size of a new figure, in inches."""

LONG_RUN_S = 3 * 3600.0
"""Runs longer than this get time axes in hours, shorter ones in minutes."""

# Bin widths a person would choose, in seconds: 1 s ... 1 day.
_NICE_BINS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
              21600, 43200, 86400)

# Incident colours by kind (the first kinds seen get these, in order).
_INCIDENT_COLOURS = ("#7f7f7f", "#bcbd22", "#17becf", "#e377c2", "#8c564b", "#9467bd")


def new_axes(ax: Axes | None) -> Axes:
    """``ax``, or the axes of a new ``Figure`` (not registered with pyplot: show
    ``ax.figure`` in a notebook, or save it with ``ax.figure.savefig``)."""
    if ax is not None:
        return ax
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    return fig.add_subplot()


def note(ax: Axes, text: str) -> None:
    """A note in the middle of the axes, for a figure with nothing to draw."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=11, color="0.35", gid="note")


def as_str(column: pd.Series) -> pd.Series:
    """A categorical or string column as plain strings, missing values as ``""``."""
    out = column.astype(object).where(column.notna(), "")
    return out.astype(str)


# --- time -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeScale:
    """Seconds to the unit of a time axis."""

    seconds: float
    unit: str

    def __call__(self, t: Any) -> Any:
        return np.asarray(t, dtype=float) / self.seconds

    def label(self, what: str = "time since the start of the run") -> str:
        return f"{what} ({self.unit})"


def time_scale(span_s: float) -> TimeScale:
    """Hours for a run longer than 3 h, else minutes."""
    return TimeScale(3600.0, "h") if span_s > LONG_RUN_S else TimeScale(60.0, "min")


def span_of(until: float | None, *times: Iterable[float]) -> float:
    """The time span to draw: ``until`` (the run's end) or the latest time seen, and
    never less than the latest time seen (so that every row falls in a bin); an hour
    when there is neither."""
    latest = 0.0
    for values in times:
        arr = np.asarray(values, dtype=float)
        arr = arr[np.isfinite(arr)]
        if arr.size:
            latest = max(latest, float(arr.max()))
    span = latest if until is None or not math.isfinite(until) else max(float(until), latest)
    return span if span > 0 else 3600.0


def bin_edges(span_s: float, bin_s: float | None = None, target: int = 60) -> np.ndarray:
    """Edges of bins from 0 covering ``span_s``: ``bin_s`` wide, or the smallest
    round width giving at most ``target`` bins."""
    if bin_s is None:
        bin_s = next((b for b in _NICE_BINS if span_s / b <= target), None)
        if bin_s is None:
            bin_s = float(math.ceil(span_s / target / 86400) * 86400)
    if not bin_s > 0:
        raise ValueError(f"bin_s must be > 0, got {bin_s!r}")
    n = max(1, math.ceil(span_s / bin_s - 1e-9))
    return np.arange(n + 1, dtype=float) * float(bin_s)


def histogram(values: Iterable[float], edges: np.ndarray) -> np.ndarray:
    """Counts per bin (the last bin includes its right edge; later values go to it)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[np.isfinite(arr)]
    arr = np.clip(arr, edges[0], edges[-1])
    counts, _ = np.histogram(arr, bins=edges)
    return counts


def format_duration(seconds: float) -> str:
    """``250 ms``, ``2 s``, ``5 min``, ``2 h``, ``3 d``: for ticks and legends."""
    s = float(seconds)
    if s <= 0 or not math.isfinite(s):
        return "0 s" if s == 0 else str(s)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")):
        if s >= size:
            value = s / size
            return f"{value:.3g} {unit}"
    return f"{s * 1000:.3g} ms"


def duration_formatter() -> FuncFormatter:
    return FuncFormatter(lambda x, _pos: format_duration(x))


# --- incidents --------------------------------------------------------------------------


@dataclass(frozen=True)
class Incident:
    """A window of a run to shade: ``RunResult.meta["incidents"]`` entries."""

    kind: str
    target: str
    start: float
    end: float | None  # None: still going at the end of the run


def parse_incidents(incidents: Iterable[Mapping[str, Any]] | None) -> list[Incident]:
    """Entries ``{"kind", "target", "start", "end"}`` (seconds; ``end`` may be missing
    or None for an incident that lasts to the end of the run). Entries without a
    usable ``start`` are skipped: a figure never fails on its decoration."""
    out: list[Incident] = []
    for item in incidents or ():
        try:
            start = float(item["start"])
        except (KeyError, TypeError, ValueError):
            continue
        raw_end = item.get("end")
        try:
            end = None if raw_end is None else float(raw_end)
        except (TypeError, ValueError):
            end = None
        if end is not None and not math.isfinite(end):
            end = None
        if not math.isfinite(start):
            continue
        out.append(Incident(str(item.get("kind", "incident")), str(item.get("target", "")),
                            start, end))
    return out


def shade_incidents(ax: Axes, incidents: Iterable[Mapping[str, Any]] | None,
                    scale: TimeScale, span_s: float) -> list[Incident]:
    """Shade each incident's window on a time axis (``axvspan``, gid ``incident:KIND``),
    labelled by its kind, one legend entry per kind. Returns the incidents drawn."""
    drawn = parse_incidents(incidents)
    colours: dict[str, str] = {}
    for incident in drawn:
        first = incident.kind not in colours
        if first:
            colours[incident.kind] = _INCIDENT_COLOURS[len(colours) % len(_INCIDENT_COLOURS)]
        end = span_s if incident.end is None else incident.end
        x0, x1 = float(scale(incident.start)), float(scale(max(end, incident.start)))
        # above the data (bars would hide it), light enough to read the data through
        ax.axvspan(x0, x1, color=colours[incident.kind], alpha=0.2, zorder=2.5, lw=0,
                   gid=f"incident:{incident.kind}",
                   label=f"incident: {incident.kind}" if first else "_nolegend_")
        text = incident.kind if not incident.target else f"{incident.kind} {incident.target}"
        ax.text(x0, 0.98, f" {text}", transform=ax.get_xaxis_transform(), ha="left",
                va="top", rotation=90, fontsize=7, color="0.2", clip_on=True, zorder=3)
    return drawn


def tidy_time_axis(ax: Axes, scale: TimeScale, span_s: float, what: str | None = None) -> None:
    ax.set_xlim(0.0, float(scale(span_s)))
    ax.set_xlabel(scale.label() if what is None else scale.label(what))


def legend(ax: Axes, **kwargs: Any) -> None:
    """A legend if anything has a label."""
    handles, _labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, framealpha=0.9, **kwargs)


def pandas_bool(values: pd.Series) -> np.ndarray:
    return np.asarray(values.to_numpy(dtype=bool, na_value=False))
