"""Tables of experiments for people: estimates with their confidence intervals as
compact text (terminals) and HTML (Jupyter, ``report.html``); and the compare and
sweep ``report.html`` pages (``write_compare_report``, ``write_sweep_report``), in
the look of ``smtpsim.reports.page`` shared with the run report.

Pure formatting: numbers in, strings out. Rates are shown in percent (their
differences in percentage points, ``pp``), delays in s, min or h, other metrics
with a few significant digits; each estimate is written ``mean ± half-width``,
with as many decimals as the half-width's first two significant digits need.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..reports.page import table as html_table  # one HTML table, as on the run report

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .compare import Comparison
    from .sweep import SweepResult

__all__ = [
    "format_difference",
    "format_estimate",
    "format_value",
    "html_table",
    "interval_caption",
    "metric_kind",
    "pending_warnings",
    "text_table",
    "write_compare_report",
    "write_sweep_report",
]


def metric_kind(metric: str) -> str:
    """``"share"`` (a ratio from 0 to 1), ``"delay"`` (seconds) or ``"number"``; a
    split metric (``delivery_ratio@domain=...``) is of its base's kind."""
    from .metrics import metric_kind as kind

    return kind(metric)


def _finite(x: float | None) -> bool:
    if x is None:
        return False
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _decimals(half_width: float) -> int | None:
    """Decimals that show ``half_width`` with two significant digits."""
    if not _finite(half_width) or half_width <= 0:
        return None
    return max(0, min(8, 1 - math.floor(math.log10(half_width))))


def _delay_unit(seconds: float) -> tuple[float, str]:
    """The factor that turns seconds into the unit a delay reads best in."""
    s = abs(seconds) if _finite(seconds) else 0.0
    if s < 120:
        return 1.0, "s"
    if s < 7200:
        return 1.0 / 60.0, "min"
    return 1.0 / 3600.0, "h"


def _scaled(metric: str, value: float) -> tuple[float, str]:
    """The factor and unit a metric's values are shown in."""
    kind = metric_kind(metric)
    if kind == "share":
        return 100.0, "%"
    if kind == "delay":
        return _delay_unit(value)
    return 1.0, ""


def _number(value: float, decimals: int | None, kind: str, sign: bool = False) -> str:
    plus = "+" if sign else ""
    if decimals is not None:
        return f"{value:{plus}.{decimals}f}"
    if kind == "share":
        return f"{value:{plus}.2f}"
    return f"{value:{plus}.4g}"


def format_value(metric: str, value: float) -> str:
    """One value of ``metric`` with its unit: ``97.21 %``, ``3.4 min``, ``1.27``."""
    if not _finite(value):
        return "-"
    factor, unit = _scaled(metric, value)
    text = _number(value * factor, None, metric_kind(metric))
    return f"{text} {unit}" if unit else text


def format_estimate(
    metric: str, mean: float, half_width: float, low: float | None = None, high: float | None = None
) -> str:
    """``3.4 min ± 0.2``: a mean and the half-width of its confidence interval; for a
    share with its interval's bounds, ``97.21 % [96.80, 97.52]`` (the Wilson interval
    is asymmetric near 0 and 100 %)."""
    if not _finite(mean):
        return "-"
    factor, unit = _scaled(metric, mean)
    kind = metric_kind(metric)
    if kind == "share" and low is not None and high is not None and _finite(low) and _finite(high):
        spread = max(mean - low, high - mean)
        decimals = _decimals(spread * factor) if spread > 0 else None
        return (
            f"{_number(mean * factor, decimals, kind)} {unit} "
            f"[{_number(low * factor, decimals, kind)}, "
            f"{_number(high * factor, decimals, kind)}]"
        )
    decimals = _decimals(half_width * factor) if _finite(half_width) else None
    text = _number(mean * factor, decimals, kind)
    if unit:
        text += f" {unit}"
    if _finite(half_width):
        text += f" ± {_number(half_width * factor, decimals, kind)}"
    return text


def format_difference(
    metric: str, diff: float, half_width: float, excludes_zero: bool | None = None
) -> str:
    """``+1.20 pp ± 0.40 *``: a paired difference, ``*`` when its interval excludes 0
    (rates in percentage points)."""
    if not _finite(diff):
        return "-"
    factor, unit = _scaled(
        metric,
        diff
        if metric_kind(metric) != "delay"
        else max(abs(diff), abs(half_width) if _finite(half_width) else 0.0),
    )
    if unit == "%":
        unit = "pp"
    kind = metric_kind(metric)
    decimals = _decimals(half_width * factor) if _finite(half_width) else None
    text = _number(diff * factor, decimals, kind, sign=True)
    if unit:
        text += f" {unit}"
    if _finite(half_width):
        text += f" ± {_number(half_width * factor, decimals, kind)}"
    if excludes_zero:
        text += " *"
    return text


def interval_caption(confidence: float) -> str:
    """What the cells of an estimates table are."""
    pct = f"{100 * confidence:g} %"
    return (
        f"mean and {pct} confidence interval: shares (in %) with their interval "
        f"[low, high] (Wilson interval, within 0-100 %), other metrics ± the half-width "
        "(Student-t)"
    )


def pending_warnings(
    table: pd.DataFrame, label: Callable[[Mapping[Hashable, object]], str]
) -> list[str]:
    """A warning per group (configuration, point) whose mean ``pending_rate`` exceeds
    ``PENDING_WARNING`` of its recipients; ``label(row)`` names a row's group."""
    from ..metrics.summary import PENDING_WARNING

    rows = table[table["metric"].astype(str) == "pending_rate"]
    out = []
    for row in rows.to_dict("records"):
        mean = float(row["mean"])
        if _finite(mean) and mean > PENDING_WARNING:
            out.append(
                f"warning: {label(row)}: {100 * mean:.2f} % of the recipients were "
                "still pending at the end of the run (their outcome unseen: the "
                "other shares are lower bounds); rerun with --drain "
                "(simulation.drain: true) to let the queues empty"
            )
    return out


# --- text --------------------------------------------------------------------------------


def text_table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    index: int = 1,
    width: int | None = None,
) -> str:
    """A table of strings: the first ``index`` columns left-aligned (and repeated in
    every block), the others right-aligned; the columns that do not fit in
    ``width`` characters (default: the terminal's) go to further blocks below."""
    body = [list(map(str, row)) for row in rows]
    head = list(map(str, header))
    ncols = len(head)
    widths = [max([len(head[j]), *(len(r[j]) for r in body)]) for j in range(ncols)]
    if width is None:
        width = max(60, shutil.get_terminal_size((120, 24)).columns)
    fixed = sum(widths[:index]) + 2 * index
    blocks: list[list[int]] = []
    current: list[int] = []
    used = fixed
    for j in range(index, ncols):
        if current and used + widths[j] + 2 > width:
            blocks.append(current)
            current, used = [], fixed
        current.append(j)
        used += widths[j] + 2
    if current or not blocks:
        blocks.append(current)
    out: list[str] = []
    for block in blocks:
        cols = list(range(index)) + block

        def line(cells: Sequence[str], cols: list[int] = cols) -> str:
            parts = [
                cells[j].ljust(widths[j]) if j < index else cells[j].rjust(widths[j]) for j in cols
            ]
            return "  ".join(parts).rstrip()

        if out:
            out.append("")
        out.append(line(head))
        out.extend(line(row) for row in body)
    return "\n".join(out)


# --- HTML --------------------------------------------------------------------------------

_STYLE = """\
<style>
table.smtpsim { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0; }
table.smtpsim th, table.smtpsim td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; }
table.smtpsim th { text-align: left; background: #f4f4f4; }
table.smtpsim td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.smtpsim td.yes { font-weight: bold; }
</style>"""


def with_style(body: str) -> str:
    """HTML for a notebook cell: the tables' style, then ``body``."""
    return f"{_STYLE}\n<div>{body}</div>"


def write_frame(frame: pd.DataFrame, directory: Path, name: str) -> list[Path]:
    """``frame`` as ``NAME.csv`` and ``NAME.parquet`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    csv = directory / f"{name}.csv"
    parquet = directory / f"{name}.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return [csv, parquet]


# --- the compare and sweep reports --------------------------------------------------------


def _save(fig: Figure, out: Path, name: str, fmt: str, written: list[Path]) -> None:
    """``fig`` as ``OUT/plots/NAME.FMT`` (the files beside the page)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    path = out / "plots" / f"{name}.{fmt}"
    fig.savefig(path, format=fmt, dpi=120)
    written.append(path)


def _version_facts(
    seed: int,
    replications: int,
    until: float | None,
    confidence: float,
    what: str = "configuration",
) -> list[tuple[str, object]]:
    from .. import __version__

    return [
        (
            "base seed",
            f"{seed} (replication r of every {what} runs with the same "
            "seed: common random numbers)",
        ),
        ("replications", replications),
        ("until", f"{until:g} s" if until is not None else "each scenario's duration"),
        ("confidence", f"{100 * confidence:g} % (Student-t; paired-t for differences)"),
        ("smtpsim", __version__),
    ]


def _question(text: str) -> str:
    from ..reports.run import question_of

    header, description = question_of(text)
    return " ".join(p for p in (header.replace("\n", " "), description) if p)


def _incidents(comparison: Comparison) -> list[dict[str, object]]:
    """The incident windows of each configuration (as its first replication has them:
    a scenario's random windows differ between replications), labelled with the
    configuration when they differ between configurations. A figure never fails on
    its decoration: a configuration that cannot be built adds nothing."""
    from ..model import build
    from ..scenario import load_scenario

    runs = comparison.runs
    per: dict[str, list[dict[str, object]]] = {}
    for cfg in comparison.configs:
        try:
            scenario = load_scenario(cfg.text, overrides=[*comparison.overrides, *cfg.overrides])
            if not scenario.incidents:
                per[cfg.label] = []
                continue
            first = runs[(runs["config"] == cfg.label) & (runs["replication"] == 0)]
            seed = int(first["seed"].iloc[0]) if len(first) else None
            windows: list[dict[str, object]] = [dict(w) for w in build(scenario, seed).incidents]
            per[cfg.label] = windows
        except Exception:
            per[cfg.label] = []
    every = list(per.values())
    if all(w == every[0] for w in every):
        return every[0] if every else []
    return [{**w, "target": f"{w['target']} ({label})"} for label, ws in per.items() for w in ws]


def write_compare_report(
    comparison: Comparison, out: Path, *, fmt: str = "png", plots: bool = True
) -> list[Path]:
    """The figures of a ``Comparison`` (``plots/{delay-cdf,metrics,differences,queues}``)
    and its self-contained ``report.html``: the configurations (file, overrides,
    label), the question of each scenario, seeds and version, the tables, the paired
    differences as a forest plot, all figures embedded. Returns the paths written."""
    from ..plots.experiment import (
        compared_differences,
        compared_metrics,
        new_figure,
        queue_bands,
        replication_cdf,
    )
    from ..reports.page import Section, embed_figure, facts, paragraph, render_page, table
    from .sweep import shown_metrics

    c = comparison
    written: list[Path] = []
    pct = f"{100 * c.confidence:g} %"
    shown = shown_metrics(c.metrics)
    head, rows, dhead, drows, strong = c._cells()
    config_rows = [
        [
            cfg.label,
            cfg.source,
            " ".join((*c.overrides, *cfg.overrides)) or "-",
            _question(cfg.text) or "-",
        ]
        for cfg in c.configs
    ]
    sections = [
        Section(
            "Configurations",
            table(
                ["label", "scenario file", "overrides (common, then its own)", "question"],
                config_rows,
                index=4,
                caption=c.summary_line(),
            ),
        )
    ]
    sections.append(
        Section(
            "Estimates",
            table(
                head,
                rows,
                caption=f"{interval_caption(c.confidence)}; rates in % of recipients "
                "(deferrals: of attempts); pending_rate: still queued at the "
                "end of the run, outcome unseen",
            )
            + "".join(paragraph(w, "warning") for w in c.warnings()),
        )
    )
    if len(c.labels) > 1:
        sections.append(
            Section(
                "Paired differences",
                table(
                    dhead,
                    drows,
                    strong=strong,
                    caption=f"difference to {c.labels[0]} (paired, same seeds), "
                    f"± {pct} half-width; "
                    "* (bold) the interval excludes 0; rates in percentage points (pp)",
                ),
            )
        )
    figures: list[tuple[str, str, Figure]] = []
    if plots:
        fig = new_figure()
        replication_cdf(c.delays, shares=c.runs, ax=fig.add_subplot())
        figures.append(("delay-cdf", "Delivery delay", fig))
        figures.append(
            (
                "metrics",
                "Metrics per configuration",
                compared_metrics(c.table(shown), shown, confidence=c.confidence),
            )
        )
        if len(c.labels) > 1:
            figures.append(
                (
                    "differences",
                    "Differences, forest plot",
                    compared_differences(c.differences(shown), shown, confidence=c.confidence),
                )
            )
        fig = new_figure()
        queue_bands(c.queues, incidents=_incidents(c), ax=fig.add_subplot())
        figures.append(("queues", "Queues over time", fig))
    captions = {
        "delay-cdf": "Share of all recipients delivered within each delay (log axis), the "
        "median of the replications in a band from the smallest to the largest; "
        "a curve ends at its delivered share.",
        "metrics": f"Each metric's mean and {pct} confidence interval (shares: Wilson "
        "interval); axes start at 0 (shares on 0-100 %), so small differences "
        "look small: see the paired differences for whether they are real. "
        "The pending share (mail still queued at the end) is always shown.",
        "differences": "Paired differences to the first configuration with their "
        "intervals; the vertical line is 0 (no difference).",
        "queues": "Messages queued in the network, mean of the replications with a band "
        "from the smallest to the largest.",
    }
    for name, title, fig in figures:
        _save(fig, out, name, fmt, written)
        sections.append(Section(title, embed_figure(fig, captions[name]), anchor=name))
    if c.failed:
        sections.append(
            Section(
                "Failed runs",
                table(
                    ["config", "replication", "error"],
                    [
                        [str(r.config), str(r.replication), str(r.error)]
                        for r in c.errors.itertuples()
                    ],
                    index=3,
                ),
            )
        )
    header = facts(
        [
            ("compared", " vs ".join(c.labels)),
            *_version_facts(c.seed, c.replications, c.until, c.confidence),
            (
                "runs",
                f"{c.ran} run now, {c.reused} reused"
                + (f", {c.failed} failed" if c.failed else ""),
            ),
        ]
    )
    header += paragraph(
        "Every configuration runs the same replications with the same "
        "seeds, so the paired differences are tighter than the "
        "intervals of the means.",
        "note",
    )
    page = out / "report.html"
    out.mkdir(parents=True, exist_ok=True)
    page.write_text(
        render_page("smtpsim compare: " + " vs ".join(c.labels), sections, header=header),
        encoding="utf-8",
    )
    written.append(page)
    return written


def write_sweep_report(
    swept: SweepResult, out: Path, *, fmt: str = "png", plots: bool = True
) -> list[Path]:
    """The figures of a ``SweepResult`` (``plots/METRIC-vs-PARAMETER.FMT``) and its
    self-contained ``report.html``: the scenario and its question, the varied
    parameters and their values, seeds and version, the table, and every figure
    embedded under a contents list. Returns the paths written."""
    from ..plots.experiment import new_figure
    from ..reports.page import Section, embed_figure, facts, paragraph, render_page, table
    from .sweep import _file_name, shown_metrics

    s = swept
    written: list[Path] = []
    header_cells, rows = s._cells(s.metrics)
    values = [
        [p, ", ".join(dict.fromkeys(point.get(p, "") or "(default)" for point in s.points))]
        for p in s.parameters
    ]
    sections = [
        Section(
            "Design",
            table(
                ["parameter", "values"],
                values,
                index=2,
                caption=f"{len(s.points)} points; {s.summary_line()}",
            )
            if values
            else "<p>No parameter is varied.</p>",
        )
    ]
    sections.append(
        Section(
            "Estimates",
            table(
                header_cells,
                rows,
                index=max(1, len(s.parameters)),
                caption=f"{interval_caption(s.confidence)}; pending_rate: still queued at the end "
                "of the run, outcome unseen",
            )
            + "".join(paragraph(w, "warning") for w in s.warnings()),
        )
    )
    if plots and s.parameters:
        for metric in shown_metrics(s.metrics):
            parts = []
            for parameter in s.parameters:
                fig = new_figure()
                s.plot(metric, parameter, ax=fig.add_subplot())
                _save(fig, out, f"{_file_name(metric)}-vs-{_file_name(parameter)}", fmt, written)
                parts.append(
                    embed_figure(
                        fig,
                        f"{metric} against {parameter}: mean and confidence interval; axis from 0",
                    )
                )
            sections.append(
                Section(f"Figure: {metric}", "\n".join(parts), anchor=f"figure-{metric}")
            )
    if s.failed:
        sections.append(
            Section(
                "Failed runs",
                table(
                    ["point", "replication", "error"],
                    [
                        [str(r.point), str(r.replication), str(r.error)]
                        for r in s.errors.itertuples()
                    ],
                    index=3,
                ),
            )
        )
    source = Path(str(s.scenario))
    try:
        question = _question(source.read_text(encoding="utf-8")) if source.is_file() else ""
    except OSError:
        question = ""
    header = facts(
        [
            ("scenario", s.scenario),
            ("question", question or None),
            ("varied", ", ".join(s.parameters) or "nothing"),
            *_version_facts(s.seed, s.replications, s.until, s.confidence, "point"),
        ]
    )
    page = out / "report.html"
    out.mkdir(parents=True, exist_ok=True)
    page.write_text(
        render_page(f"smtpsim sweep: {s.scenario}", sections, header=header), encoding="utf-8"
    )
    written.append(page)
    return written
