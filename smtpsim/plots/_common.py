"""What the figures share: axes, time units and bins, incident shading, notes.

Only pandas, numpy and matplotlib here: figures see result tables, never the engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, Locator, MaxNLocator
from numpy.typing import ArrayLike

__all__ = [
    "FIGSIZE",
    "DurationLocator",
    "Incident",
    "IncidentSpec",
    "TimeScale",
    "as_str",
    "bin_edges",
    "count_axis",
    "duration_axis",
    "format_duration",
    "new_axes",
    "note",
    "parse_incidents",
    "seconds_of",
    "set_data_ylim",
    "shade_incidents",
    "time_scale",
]

FIGSIZE = (10.0, 4.8)
"""Size of a new figure, in inches."""

LONG_RUN_S = 3 * 3600.0
"""Runs longer than this get time axes in hours, shorter ones in minutes."""

# Bin widths a person would choose, in seconds: 1 s ... 1 day.
_NICE_BINS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)

# Tick steps on duration axes, in seconds: 1 s ... 30 days.
_NICE_TICKS = (
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
    172800,
    604800,
    2592000,
)

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
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color="0.35",
        gid="note",
    )


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

    def __call__(self, t: ArrayLike) -> np.ndarray:
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
    if not math.isfinite(s):
        return str(s)
    if s < 0:  # a difference of delays (the paired differences)
        return "-" + format_duration(-s)
    if s == 0:
        return "0 s"
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


Corner: TypeAlias = Literal["upper left", "upper right", "lower left", "lower right"]
"""Where a legend goes inside the axes."""

IncidentSpec: TypeAlias = Mapping[str, object]
"""An incident as ``meta.json`` lists it: ``{"kind", "target", "start", "end"}``."""


def seconds_of(value: object) -> float | None:
    """A finite number of seconds from a JSON value (a number, or a string of one);
    None for anything else (missing, null, text, infinite)."""
    if not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def parse_incidents(incidents: Iterable[IncidentSpec] | None) -> list[Incident]:
    """Entries ``{"kind", "target", "start", "end"}`` (seconds; ``end`` may be missing
    or None for an incident that lasts to the end of the run). Entries without a
    usable ``start`` are skipped: a figure never fails on its decoration."""
    out: list[Incident] = []
    for item in incidents or ():
        start = seconds_of(item.get("start"))
        end = seconds_of(item.get("end"))
        if start is None:
            continue
        out.append(
            Incident(str(item.get("kind", "incident")), str(item.get("target", "")), start, end)
        )
    return out


_ROW_MAX = 0.065  # height of one incident row, as a share of the axes' height
_ROWS_MAX_SHARE = 0.3  # all rows together take at most this share of the height


def incident_rows(incidents: Iterable[Incident]) -> list[tuple[str, list[Incident]]]:
    """The incidents grouped into rows, one row per incident (its kind and target),
    in order of first start: repeated windows of one incident (bursts, ``every:``)
    share a row, different incidents never do, so no two labels can collide."""
    rows: dict[str, list[Incident]] = {}
    for incident in sorted(incidents, key=lambda i: i.start):
        key = incident.kind if not incident.target else f"{incident.kind} {incident.target}"
        rows.setdefault(key, []).append(incident)
    return list(rows.items())


def shade_incidents(
    ax: Axes, incidents: Iterable[IncidentSpec] | None, scale: TimeScale, span_s: float
) -> list[Incident]:
    """Shade each incident's window on a time axis and label it in a row of its own.

    Each window is shaded lightly over the whole height (``axvspan``, gid
    ``incident:KIND``), and drawn again as a solid band in the incident's own row at
    the top of the axes, where its label is written: one row per incident (kind and
    target), so labels never overlap. The rows take the top of the axes:
    :func:`set_data_ylim` keeps the data below them. One legend entry per kind.
    Returns the incidents drawn."""
    drawn = parse_incidents(incidents)
    rows = incident_rows(drawn)
    height = row_height(len(rows))
    colours: dict[str, str] = {}
    for r, (label, members) in enumerate(rows):
        top = 1.0 - r * height
        for incident in members:
            first = incident.kind not in colours
            if first:
                colours[incident.kind] = _INCIDENT_COLOURS[len(colours) % len(_INCIDENT_COLOURS)]
            colour = colours[incident.kind]
            end = span_s if incident.end is None else incident.end
            x0, x1 = float(scale(incident.start)), float(scale(max(end, incident.start)))
            # light, behind nothing that matters: the data stays readable through it
            ax.axvspan(
                x0,
                x1,
                color=colour,
                alpha=0.15,
                zorder=0.5,
                lw=0,
                gid=f"incident:{incident.kind}",
                label=f"incident: {incident.kind}" if first else "_nolegend_",
            )
            ax.axvspan(
                x0,
                x1,
                ymin=top - 0.9 * height,
                ymax=top,
                color=colour,
                alpha=0.75,
                zorder=3,
                lw=0,
                gid=f"incident-row:{incident.kind}",
            )
        x_label = float(scale(members[0].start))
        ax.text(
            x_label,
            top - 0.45 * height,
            f" {label}",
            transform=ax.get_xaxis_transform(),
            ha="left",
            va="center",
            fontsize=7,
            color="0.1",
            clip_on=True,
            zorder=4,
            gid="incident-label",
        )
    ax._smtpsim_incident_rows = len(rows)  # type: ignore[attr-defined]  # for set_data_ylim
    return drawn


def row_height(n_rows: int) -> float:
    """The height of one incident row (share of the axes) for ``n_rows`` rows."""
    return min(_ROW_MAX, _ROWS_MAX_SHARE / n_rows) if n_rows else 0.0


def set_data_ylim(ax: Axes, data_top: float, bottom: float = 0.0, margin: float = 1.08) -> None:
    """A y range from ``bottom`` whose data (up to ``data_top``) stays below the incident
    rows drawn by :func:`shade_incidents`, with a small margin."""
    rows = int(getattr(ax, "_smtpsim_incident_rows", 0))
    free = 1.0 - rows * row_height(rows)
    top = max(float(data_top), 1e-9) * margin
    if ax.get_yscale() in ("log", "symlog"):  # room for the rows in log space
        ax.set_ylim(bottom, 10 ** (math.log10(max(top, 10.0)) / free))
    else:
        ax.set_ylim(bottom, bottom + (top - bottom) / free)


def count_axis(ax: Axes, axis: str = "y") -> None:
    """Whole counts with thousands separators on an axis (``12,500``)."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    locator = target.get_major_locator()
    if isinstance(locator, MaxNLocator):
        locator.set_params(integer=True)


class DurationLocator(Locator):
    """Ticks at round durations (``10 s``, ``15 min``, ``1 h``, ``6 h``) on a linear
    axis in seconds: ``MaxNLocator`` would put them at 1.11 h or 33.3 min, which a
    person has to convert back to read."""

    def __init__(self, nbins: int = 6) -> None:
        self.nbins = nbins

    def __call__(self) -> Sequence[float]:
        assert self.axis is not None
        vmin, vmax = self.axis.get_view_interval()
        return self.tick_values(vmin, vmax)

    def tick_values(self, vmin: float, vmax: float) -> Sequence[float]:
        lo, hi = sorted((float(vmin), float(vmax)))
        span = hi - lo
        if not math.isfinite(span) or span < 2.0:  # under 2 s: decimal ticks are round
            return list(MaxNLocator(self.nbins, steps=[1, 2, 5, 10]).tick_values(lo, hi))
        step = next((s for s in _NICE_TICKS if span / s <= self.nbins), None)
        if step is None:  # beyond the table: whole days, decimal multiples
            days = MaxNLocator(self.nbins, steps=[1, 2, 5, 10]).tick_values(lo / 86400, hi / 86400)
            return list(np.asarray(days) * 86400)
        first = math.ceil(lo / step) * step
        return list(np.arange(first, hi + step * 1e-9, step))


def duration_axis(ax: Axes, axis: str = "y") -> None:
    """Durations in human units on an axis (``30 s``, ``5 min``, ``2 h``), with ticks at
    round durations when the axis is linear."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    if target.get_scale() == "linear":
        target.set_major_locator(DurationLocator())
    target.set_major_formatter(duration_formatter())


def no_data_bins(ax: Axes, left: np.ndarray, width: float, empty: np.ndarray, what: str) -> None:
    """Hatch the bins where there is nothing to average, so that an empty bin is not
    read as a zero; one legend entry ``no data: WHAT``."""
    first = True
    for x in np.asarray(left)[np.asarray(empty, dtype=bool)]:
        ax.axvspan(
            float(x),
            float(x) + width,
            facecolor="none",
            edgecolor="0.75",
            hatch="///",
            lw=0,
            zorder=0.6,
            gid="no-data",
            label=f"no data: {what}" if first else "_nolegend_",
        )
        first = False


def tidy_time_axis(ax: Axes, scale: TimeScale, span_s: float, what: str | None = None) -> None:
    ax.set_xlim(0.0, float(scale(span_s)))
    ax.set_xlabel(scale.label() if what is None else scale.label(what))


def legend(ax: Axes, loc: Corner | None = None) -> None:
    """A legend if anything has a label: outside the axes on the right, where it
    never hides data, unless a ``loc`` is given."""
    handles, _labels = ax.get_legend_handles_labels()
    if not handles:
        return
    if loc is not None:
        ax.legend(fontsize=8, framealpha=0.9, loc=loc)
    else:
        ax.legend(
            fontsize=8,
            frameon=False,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            borderaxespad=0.0,
        )


def pandas_bool(values: pd.Series) -> np.ndarray:
    return np.asarray(values.to_numpy(dtype=bool, na_value=False))
