"""Tables of experiments for people: estimates with their confidence intervals as
compact text (terminals) and HTML (Jupyter, ``report.html``).

Pure formatting: numbers in, strings out. Rates are shown in percent (their
differences in percentage points, ``pp``), delays in s, min or h, other metrics
with a few significant digits; each estimate is written ``mean ± half-width``,
with as many decimals as the half-width's first two significant digits need.
"""

from __future__ import annotations

import html
import math
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "format_difference",
    "format_estimate",
    "format_value",
    "html_page",
    "html_table",
    "metric_kind",
    "text_table",
]

def metric_kind(metric: str) -> str:
    """``"share"`` (a ratio from 0 to 1), ``"delay"`` (seconds) or ``"number"``."""
    if metric.endswith(("_ratio", "_rate")):
        return "share"
    if metric.startswith("delay") or metric.endswith("_s"):
        return "delay"
    return "number"


def _finite(x: Any) -> bool:
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


def format_estimate(metric: str, mean: float, half_width: float) -> str:
    """``97.21 % ± 0.35``: a mean and the half-width of its confidence interval."""
    if not _finite(mean):
        return "-"
    factor, unit = _scaled(metric, mean)
    kind = metric_kind(metric)
    decimals = _decimals(half_width * factor) if _finite(half_width) else None
    text = _number(mean * factor, decimals, kind)
    if unit:
        text += f" {unit}"
    if _finite(half_width):
        text += f" ± {_number(half_width * factor, decimals, kind)}"
    return text


def format_difference(metric: str, diff: float, half_width: float,
                      excludes_zero: bool | None = None) -> str:
    """``+1.20 pp ± 0.40 *``: a paired difference, ``*`` when its interval excludes 0
    (rates in percentage points)."""
    if not _finite(diff):
        return "-"
    factor, unit = _scaled(metric, diff if metric_kind(metric) != "delay" else
                           max(abs(diff), abs(half_width) if _finite(half_width) else 0.0))
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


# --- text --------------------------------------------------------------------------------


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, index: int = 1,
               width: int | None = None) -> str:
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
            parts = [cells[j].ljust(widths[j]) if j < index else cells[j].rjust(widths[j])
                     for j in cols]
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


def html_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, index: int = 1,
               caption: str | None = None, strong: Iterable[tuple[int, int]] = ()) -> str:
    """An HTML table of strings (escaped): the first ``index`` columns as labels, the
    others as numbers; cells ``(row, column)`` in ``strong`` in bold."""
    bold = set(strong)
    out = ['<table class="smtpsim">']
    if caption:
        out.append(f"<caption>{html.escape(caption)}</caption>")
    out.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
               + "</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = "" if j < index else "num"
            if (i, j) in bold:
                cls += " yes"
            attr = f' class="{cls.strip()}"' if cls.strip() else ""
            cells.append(f"<td{attr}>{html.escape(str(cell))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def with_style(body: str) -> str:
    """HTML for a notebook cell: the tables' style, then ``body``."""
    return f"{_STYLE}\n<div>{body}</div>"


def html_page(title: str, sections: Sequence[str],
              images: Mapping[str, Path | str] | None = None) -> str:
    """A standalone HTML page: a title, HTML sections, and images (caption -> file
    name relative to the page)."""
    parts = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\">",
             f"<title>{html.escape(title)}</title>", _STYLE,
             "<style>body { font-family: sans-serif; max-width: 75em; margin: 1em auto; }"
             " img { max-width: 100%; }</style>", "</head><body>",
             f"<h1>{html.escape(title)}</h1>", *sections]
    for caption, src in (images or {}).items():
        parts.append(f'<figure><img src="{html.escape(str(src))}" alt="{html.escape(caption)}">'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_frame(frame: pd.DataFrame, directory: Path, name: str) -> list[Path]:
    """``frame`` as ``NAME.csv`` and ``NAME.parquet`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    csv = directory / f"{name}.csv"
    parquet = directory / f"{name}.parquet"
    frame.to_csv(csv, index=False)
    frame.to_parquet(parquet, index=False)
    return [csv, parquet]
