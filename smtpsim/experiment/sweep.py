"""Parameter sweeps that resume: ``sweep(scenario, vary=..., out=...)``.

A sweep runs a scenario at each point of a design (the full factorial of the values
given to ``vary``, or an explicit list of ``points``, or each point crossed with the
factorial), ``replications`` times each. Every run is a ``RunSpec`` whose key is a
digest of the scenario text, its overrides, the seed and the end time; finished runs
are kept in a ``ResultStore`` under ``OUT/runs`` as they finish, so that rerunning an
interrupted sweep runs only what is missing, and rerunning a finished one runs
nothing (desmod's and ns-3 sem's way). A run that raises is recorded with its
exception and does not stop the others.

Replication ``r`` runs with the same seed at every point (common random numbers), so
neighbouring points differ by their parameters, not by their noise.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import math
import os
import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

import numpy as np
import pandas as pd

from . import executors
from .metrics import (
    METRICS,
    PENDING,
    MetricFunction,
    check_split,
    metric_kind,
    metric_value,
    resolve_metrics,
)
from .options import Progress, RunOptions
from .report import (
    format_estimate,
    html_table,
    interval_caption,
    pending_warnings,
    text_table,
    with_style,
    write_frame,
)
from .runner import RunRecord, RunSpec
from .stats import mean_ci, share_ci
from .store import ResultStore

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# A column of the runs table: the values of its rows (a list, an array, a Series or a
# Categorical).
Column: TypeAlias = "Sequence[object] | np.ndarray | pd.Series | pd.Categorical[str]"

__all__ = ["Runs", "SweepResult", "design_points", "run_specs", "split_values", "sweep"]


RESERVED = frozenset(
    {
        "point",
        "config",
        "replication",
        "seed",
        "wall_s",
        "error",
        "traceback",
        "metric",
        "mean",
        "half_width",
        "ci_low",
        "ci_high",
        "n",
        *METRICS,
    }
)
"""Column names of the tables: no varied parameter may be called so."""


# --- running a batch of specs ----------------------------------------------------------


@contextlib.contextmanager
def open_executor(jobs: int = 1, scheduler: str | None = None) -> Iterator[executors.Executor]:
    """``executors.make_executor(jobs, scheduler)``, closed on the way out; ``jobs=0``
    means one worker process per CPU."""
    if jobs < 0:
        raise ValueError(f"jobs must be at least 0 (0: one per CPU), got {jobs!r}")
    jobs = jobs or os.cpu_count() or 1
    executor = executors.make_executor(jobs=jobs, scheduler=scheduler)
    try:
        yield executor
    finally:
        executor.close()  # a Dask client; local pools end per map


class _Bar:
    """A tqdm bar over the runs of a batch, with tqdm's ETA and the failures so far."""

    def __init__(self, total: int, desc: str, reused: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=desc, unit="run", leave=False, dynamic_ncols=True)
        self._reused = reused
        self.failed = 0
        self._show()

    def _show(self) -> None:
        bits = []
        if self._reused:
            bits.append(f"{self._reused} reused")
        if self.failed:
            bits.append(f"{self.failed} failed")
        self._bar.set_postfix_str(", ".join(bits), refresh=False)

    def update(self, record: RunRecord) -> None:
        if record.error is not None:
            self.failed += 1
        self._show()
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def run_specs(
    specs: Sequence[RunSpec],
    *,
    executor: executors.Executor,
    store: ResultStore | None = None,
    progress: bool | Progress | None = None,
    desc: str = "runs",
    retry_failed: bool = False,
) -> tuple[list[RunRecord], int, int]:
    """Run ``specs`` (those not already in ``store``) on ``executor``; each record is
    put in ``store`` as soon as it finishes, before ``progress`` hears of it.

    Returns the records in the order of ``specs``, how many runs were run now and how
    many were reused from the store (failed runs too, unless ``retry_failed``). Specs
    with the same key are run once. ``progress`` is True for a tqdm bar, or a callable
    ``progress(done, total)``.
    """
    records: list[RunRecord | None] = [None] * len(specs)
    todo: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        key = spec.key()
        if key in todo:
            todo[key].append(i)
        else:
            stored = store.get(key) if store is not None and key in store else None
            # a finished run is reused with its tables (an older store lacks them: run
            # it again, so that every metric can be computed); a failed one unless asked
            usable = stored is not None and (
                stored.tables is not None if stored.error is None else not retry_failed
            )
            if usable:
                records[i] = stored
            else:
                todo[key] = [i]
    reused = sum(r is not None for r in records)
    unique = [specs[indices[0]] for indices in todo.values()]
    bar = _Bar(len(unique), desc, reused) if progress is True and unique else None
    done = 0

    def on_done(record: RunRecord) -> None:
        nonlocal done
        done += 1
        if store is not None:
            store.put(record)
        if bar is not None:
            bar.update(record)
        elif callable(progress):
            progress(done, len(unique))

    if unique:
        try:
            results = executor.map(unique, on_done=on_done)
        finally:
            if bar is not None:
                bar.close()
        for indices, record in zip(todo.values(), results, strict=True):
            for i in indices:
                records[i] = record
    assert all(r is not None for r in records)
    return [r for r in records if r is not None], len(unique), reused


def error_line(error: str | None) -> str | None:
    """The exception of a traceback on one line: ``ValueError: bad value``."""
    if error is None:
        return None
    lines = [line.rstrip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return "error"
    last_indented = max(
        (i for i, line in enumerate(lines) if line[:1].isspace() or line.startswith("Traceback (")),
        default=-1,
    )
    tail = lines[last_indented + 1 :] if last_indented + 1 < len(lines) else lines[-1:]
    text = "; ".join(line.strip() for line in tail)
    return re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=\w+:)", "", text)  # no module path


def metric_columns(
    records: Sequence[RunRecord],
    metrics: Sequence[str],
    functions: Mapping[str, MetricFunction] | None = None,
) -> dict[str, list[float]]:
    """Each metric of each record: the value it was measured with, or else computed
    from its tables (``functions``: user metrics by name). NaN for a failed run, or a
    record without tables that lacks the metric."""
    out: dict[str, list[float]] = {m: [] for m in metrics}
    for record in records:
        values = record.metrics if record.error is None else {}
        for m in metrics:
            if record.error is not None:
                value: float | None = math.nan
            elif m in values and not (functions and m in functions):
                value = values[m]
            elif record.tables is not None:
                value = metric_value(record.tables, m, functions)
            else:
                value = math.nan
            out[m].append(math.nan if value is None else float(value))
    return out


class Runs:
    """What a comparison and a sweep both are: the runs of an experiment, each a
    ``RunRecord`` (``records``), and their ``runs`` table, one row per run: the
    ``keys`` columns (which configuration or point), ``replication``, ``seed``, every
    built-in metric and those of ``metrics``, ``wall_s`` and ``error`` (the exception's
    last line); ``errors``: the failed runs with their whole ``traceback``;
    ``ran``/``reused``: runs run now and runs found in the store."""

    def __init__(
        self,
        *,
        keys: Mapping[str, Column],
        specs: Sequence[RunSpec],
        records: Sequence[RunRecord],
        metrics: Sequence[str],
        functions: Mapping[str, MetricFunction] | None,
        ran: int,
        reused: int,
        replications: int,
        seed: int,
        until: float | None,
        confidence: float,
        out: Path | None,
    ) -> None:
        self.metrics = tuple(metrics)
        self.functions = dict(functions or {})
        self.ran = ran
        self.reused = reused
        self.replications = replications
        self.seed = seed
        self.until = until
        self.confidence = confidence
        self.out = out
        self.records = list(records)
        frame: dict[str, Column] = dict(keys)
        frame["replication"] = [s.replication for s in specs]
        frame["seed"] = [s.seed for s in specs]
        frame.update(
            metric_columns(self.records, list(dict.fromkeys([*METRICS, *metrics])), self.functions)
        )
        frame["wall_s"] = [float(r.wall_s) for r in self.records]
        frame["error"] = np.array([error_line(r.error) for r in self.records], dtype=object)
        self.runs = pd.DataFrame(frame)
        failed = self.runs["error"].notna().to_numpy()
        self.errors = (
            self.runs.loc[failed, [*keys, "replication", "seed", "error"]]
            .assign(
                traceback=np.array(
                    [r.error for r, bad in zip(self.records, failed, strict=True) if bad],
                    dtype=object,
                )
            )
            .reset_index(drop=True)
        )
        self.failed = int(failed.sum())

    def __len__(self) -> int:
        return len(self.runs)

    def add_metrics(
        self,
        metrics: Sequence[str | MetricFunction] | Mapping[str, MetricFunction],
    ) -> tuple[str, ...]:
        """Compute more metrics (names, split names, functions) from the runs' kept
        tables, without running again; they become columns of ``runs``, before
        ``wall_s`` (a function replaces a column of its name). Returns their names."""
        names, new = resolve_metrics(metrics, known=self.functions)
        self.functions.update(new)
        missing = [m for m in names if m not in self.runs.columns or m in new]
        if missing:
            columns = metric_columns(self.records, missing, self.functions)
            self.runs = self.runs.drop(columns=[m for m in missing if m in self.runs])
            position = list(self.runs.columns).index("wall_s")
            for offset, m in enumerate(missing):
                self.runs.insert(position + offset, m, columns[m])
        return names


def shown_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    """The metrics a table or report shows: those asked for, and ``pending_rate``
    always (without it, a lower delivery ratio may be mail still queued at the end)."""
    return tuple(metrics) if PENDING in metrics else (*metrics, PENDING)


def ci_rows(
    groups: Sequence[tuple[Mapping[str, object], pd.DataFrame]],
    metrics: Sequence[str],
    confidence: float,
) -> list[dict[str, object]]:
    """A row per group and metric: mean, half-width and interval over the successful
    runs of the group (``n`` counts the finite values). ``half_width`` is the Student-t
    one; the interval ``ci_low``-``ci_high`` is mean ± half-width, except for shares,
    whose interval is the Wilson one (``stats.share_ci``), inside [0, 1]."""
    rows = []
    for keys, runs in groups:
        ok = runs[runs["error"].isna()] if "error" in runs else runs
        for metric in metrics:
            values = [float(v) for v in ok[metric] if math.isfinite(float(v))]
            mean, half = mean_ci(values, confidence) if values else (math.nan, math.nan)
            if metric_kind(metric) == "share" and values:
                _, low, high = share_ci(values, confidence)
            else:
                low, high = mean - half, mean + half
            rows.append(
                {
                    **keys,
                    "metric": metric,
                    "mean": mean,
                    "half_width": half,
                    "ci_low": low,
                    "ci_high": high,
                    "n": len(values),
                }
            )
    return rows


def parse_until(until: float | str | None) -> float | None:
    """Seconds from a number or a duration such as ``"30min"``; None stays None."""
    if until is None:
        return None
    if isinstance(until, str):
        from ..scenario.units import parse_duration

        return float(parse_duration(until))
    value = float(until)
    if not value > 0 or not math.isfinite(value):
        raise ValueError(f"until must be a number of seconds > 0, got {until!r}")
    return value


def read_scenario(source: str | os.PathLike[str]) -> tuple[str, str]:
    """The YAML text of a scenario file (or of YAML text itself) and a name for it.

    Raises ``ScenarioError`` (one problem at ``<file>``) for a file that cannot be read.
    """
    from ..scenario import Problem, ScenarioError

    if isinstance(source, str) and ("\n" in source or not source.strip()):
        return source, "<text>"
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScenarioError([Problem("<file>", f"cannot read {str(path)!r}: {reason}")]) from None


# --- the design ------------------------------------------------------------------------

_CLOSE = {"[": "]", "{": "}", "(": ")"}


def split_values(text: str) -> list[str]:
    """``"1h,2h,4h"`` -> ``["1h", "2h", "4h"]``: split at commas that are not inside
    brackets, braces or quotes (so ``[a, b],[c]`` is two values)."""
    parts: list[str] = []
    depth: list[str] = []
    quote = ""
    current = ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in _CLOSE:
            depth.append(_CLOSE[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif ch == "," and not depth:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    parts.append(current.strip())
    return parts


def _as_text(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def design_points(
    vary: Mapping[str, Sequence[object] | str] | None = None,
    points: Sequence[Mapping[str, object]] | None = None,
) -> tuple[list[str], list[dict[str, str]]]:
    """The varied parameters and the design points: each of ``points`` (or one empty
    point) crossed with the full factorial of ``vary`` (the first parameter varies
    slowest). Values become strings, as given to ``--set``. Raises ``ValueError``."""
    vary = dict(vary or {})
    axes: list[tuple[str, list[str]]] = []
    for path, values in vary.items():
        path = str(path).strip()
        if isinstance(values, str):
            values = split_values(values)
        texts = [_as_text(v) for v in values]
        if not path:
            raise ValueError("a varied parameter needs a path")
        if not texts:
            raise ValueError(f"{path}: no values to vary")
        if len(set(texts)) != len(texts):
            raise ValueError(f"{path}: a value is given twice")
        axes.append((path, texts))
    base: list[dict[str, str]] = []
    for point in points or ():
        clean = {str(k).strip(): _as_text(v) for k, v in point.items()}
        if "" in clean:
            raise ValueError("a point's parameter needs a path")
        base.append(clean)
    if points is not None and not base:
        raise ValueError("points is empty")
    if not base:
        base = [{}]
    parameters = list(dict.fromkeys([k for p in base for k in p] + [p for p, _ in axes]))
    for path in parameters:
        if path in RESERVED:
            why = (
                " (replications vary the seed already)"
                if path == "seed"
                else " (a column of the tables has that name)"
            )
            raise ValueError(f"cannot vary {path!r}{why}")
    clash = sorted({k for p in base for k in p} & {p for p, _ in axes})
    if clash:
        raise ValueError(f"{clash[0]} is both varied and set by the points")
    design: list[dict[str, str]] = []
    for point in base:
        for combo in itertools.product(*(values for _, values in axes)):
            design.append({**point, **dict(zip([p for p, _ in axes], combo, strict=True))})
    unique = list({tuple(sorted(p.items())): p for p in design}.values())
    if len(unique) != len(design):
        raise ValueError("the same point is given twice")
    return parameters, design


def check_paths(
    text: str,
    overrides: Sequence[str],
    parameters: Sequence[str],
    design: Sequence[Mapping[str, str]],
) -> None:
    """Load the scenario with the common overrides (every problem raised as a
    ``ScenarioError``), and check that each varied path exists in the schema (a
    bad value shows at its own runs, which fail and are recorded)."""
    import yaml

    from ..scenario import ScenarioError, apply_overrides, load_scenario

    load_scenario(text, overrides=list(overrides))
    data = yaml.safe_load(text) or {}
    problems = []
    for path in parameters:
        value = next(p[path] for p in design if path in p)
        try:
            apply_overrides(data, [*overrides, f"{path}={value}"])
        except ScenarioError as error:
            problems.extend(error.problems)
    if problems:
        from ..scenario import Problem

        raise ScenarioError(
            [Problem(p.path, p.message.replace("(in --set", "(in --vary")) for p in problems]
        )


def _point_label(point: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items())


# --- the result ------------------------------------------------------------------------


def parameter_column(values: Sequence[str | None]) -> pd.Series:
    """A parameter's values as numbers when they all are, else as an ordered
    categorical in the order of the design."""
    present = [v for v in values if v is not None]
    try:
        numbers = [float(v) for v in present]
    except ValueError:
        numbers = None
    if numbers is not None and present and all(math.isfinite(x) for x in numbers):
        if all(re.fullmatch(r"[+-]?\d+", v.strip()) for v in present):
            if len(present) == len(values):
                return pd.Series([int(v) for v in present], dtype="int64")
            return pd.Series([None if v is None else int(v) for v in values], dtype="Int64")
        return pd.Series([math.nan if v is None else float(v) for v in values], dtype="float64")
    order = list(dict.fromkeys(present))
    return pd.Series(pd.Categorical(np.array(values, dtype=object), categories=order, ordered=True))


class SweepResult(Runs):
    """The runs of a sweep and their statistics.

    ``runs``: one row per run (``point``, a column per varied parameter,
    ``replication``, ``seed``, a column per metric, ``wall_s``, ``error``: the last
    line of the exception of a failed run, else missing). ``table()``: mean and
    confidence interval per point and metric. ``errors``: the failed runs with their
    whole traceback. ``ran``/``reused``: runs run now and runs found in the store.
    """

    def __init__(
        self,
        *,
        scenario: str,
        parameters: list[str],
        points: list[dict[str, str]],
        specs: Sequence[RunSpec],
        records: Sequence[RunRecord],
        metrics: Sequence[str],
        ran: int,
        reused: int,
        replications: int,
        seed: int,
        until: float | None,
        confidence: float,
        out: Path | None,
        functions: Mapping[str, MetricFunction] | None = None,
    ) -> None:
        self.scenario = scenario
        self.parameters = parameters
        self.points = points
        assert len(points) * replications == len(specs)
        point_of = [i // replications for i in range(len(specs))]
        keys: dict[str, Column] = {"point": point_of}
        for path in parameters:
            keys[path] = parameter_column([points[i].get(path) for i in point_of])
        super().__init__(
            keys=keys,
            specs=specs,
            records=records,
            metrics=metrics,
            functions=functions,
            ran=ran,
            reused=reused,
            replications=replications,
            seed=seed,
            until=until,
            confidence=confidence,
            out=out,
        )

    def table(self, metrics: Sequence[str | MetricFunction] | None = None) -> pd.DataFrame:
        """One row per design point and metric: ``point``, a column per parameter,
        ``metric``, ``mean``, ``half_width`` (Student-t), ``ci_low``, ``ci_high`` (for
        shares the Wilson interval, in [0, 1]), ``n`` (successful runs with a value).
        A metric not measured yet is computed from the kept tables (``add_metrics``)."""
        metrics = self.metrics if metrics is None else self.add_metrics(metrics)
        groups = []
        for i, _point in enumerate(self.points):
            runs = self.runs[self.runs["point"] == i]
            keys = {
                "point": i,
                **{p: runs[p].iloc[0] if len(runs) else None for p in self.parameters},
            }
            groups.append((keys, runs))
        table = pd.DataFrame(ci_rows(groups, metrics, self.confidence))
        for path in self.parameters:  # keep the parameters' types (categories, numbers)
            column = self.runs[path]
            if isinstance(column.dtype, pd.CategoricalDtype):
                table[path] = pd.Categorical(
                    table[path], categories=column.cat.categories, ordered=True
                )
            else:
                table[path] = table[path].astype(column.dtype)
        table["metric"] = pd.Categorical(table["metric"], categories=list(metrics))
        return table

    # --- figures

    def plot(self, metric: str, parameter: str | None = None, *, ax: Axes | None = None) -> Axes:
        """``metric`` against ``parameter`` (default: the first varied one), with
        confidence-interval error bars, one line per combination of the other
        parameters. Returns the matplotlib ``Axes``."""
        from ..plots.experiment import sweep_metric

        if parameter is None:
            if not self.parameters:
                raise ValueError("this sweep varies no parameter")
            parameter = self.parameters[0]
        if parameter not in self.parameters:
            raise ValueError(
                f"{parameter!r} is not varied here; varied: {', '.join(self.parameters) or 'none'}"
            )
        return sweep_metric(
            self.table([metric]),
            metric,
            parameter,
            self.parameters,
            confidence=self.confidence,
            ax=ax,
        )

    def write(
        self,
        directory: str | Path,
        *,
        fmt: str = "png",
        plots: bool = True,
    ) -> list[Path]:
        """Write ``runs``, ``table`` and ``errors`` (CSV and Parquet), a plot of each
        metric against each parameter (``plots/METRIC-vs-PARAMETER.FMT``) and
        ``report.html``. Returns the paths written."""
        out = Path(directory)
        written = write_frame(self.runs, out, "runs")
        written += write_frame(self.table(shown_metrics(self.metrics)), out, "table")
        written += write_frame(self.errors, out, "errors")
        from .report import write_sweep_report  # figures and report.html

        return written + write_sweep_report(self, out, fmt=fmt, plots=plots)

    # --- text and HTML

    def _cells(self, metrics: Sequence[str]) -> tuple[list[str], list[list[str]]]:
        metrics = shown_metrics(metrics)
        table = self.table(metrics)
        header = [*self.parameters, *metrics] if self.parameters else ["point", *metrics]
        rows = []
        for i, point in enumerate(self.points):
            sub = table[table["point"] == i].set_index("metric").to_dict("index")
            first = [point.get(p, "") for p in self.parameters] or [str(i)]
            rows.append(
                first
                + [
                    format_estimate(
                        m,
                        float(sub[m]["mean"]),
                        float(sub[m]["half_width"]),
                        float(sub[m]["ci_low"]),
                        float(sub[m]["ci_high"]),
                    )
                    for m in metrics
                ]
            )
        return header, rows

    def warnings(self) -> list[str]:
        """A warning per point whose mean ``pending_rate`` is above 2 %."""
        table = self.table([PENDING])

        def label(row: Mapping[Hashable, object]) -> str:
            point = row["point"]
            assert isinstance(point, int | np.integer)  # the table's point numbers
            return _point_label(self.points[int(point)]) or f"point {point}"

        return pending_warnings(table, label)

    def summary_line(self) -> str:
        total = len(self.runs)
        text = (
            f"{total} run{'s' if total != 1 else ''} ({len(self.points)} point"
            f"{'s' if len(self.points) != 1 else ''} x {self.replications} replication"
            f"{'s' if self.replications != 1 else ''}): {self.ran} run now, "
            f"{self.reused} reused"
        )
        if self.failed:
            text += f", {self.failed} failed"
        return text

    def format(self, metrics: Sequence[str] | None = None, width: int | None = None) -> str:
        """The table as text: a row per point, a ``mean ± half-width`` column per metric."""
        metrics = self.metrics if metrics is None else tuple(metrics)
        header, rows = self._cells(metrics)
        n_index = max(1, len(self.parameters))
        return "\n".join([text_table(header, rows, index=n_index, width=width), *self.warnings()])

    def __repr__(self) -> str:
        return (
            f"<SweepResult {self.scenario}: {self.summary_line()}; "
            f"parameters {', '.join(self.parameters) or 'none'}>"
        )

    def _html_body(self) -> str:
        header, rows = self._cells(self.metrics)
        caption = f"{self.summary_line()}; {interval_caption(self.confidence)}"
        body = html_table(header, rows, index=max(1, len(self.parameters)), caption=caption)
        body += "".join(f"<p><b>{html.escape(w)}</b></p>" for w in self.warnings())
        if self.failed:
            err_rows = [
                [_point_label(self.points[int(point)]) or str(point), str(rep), str(err)]
                for point, rep, err in zip(
                    self.errors["point"].tolist(),
                    self.errors["replication"].tolist(),
                    self.errors["error"].tolist(),
                    strict=True,
                )
            ]
            body += html_table(
                ["point", "replication", "error"], err_rows, index=3, caption="failed runs"
            )
        return body

    def _repr_html_(self) -> str:
        return with_style(self._html_body())


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "parameter"


# --- the API ---------------------------------------------------------------------------


def sweep(
    scenario: str | os.PathLike[str],
    options: RunOptions | None = None,
    *,
    vary: Mapping[str, Sequence[object] | str] | None = None,
    points: Sequence[Mapping[str, object]] | None = None,
    out: str | os.PathLike[str],
) -> SweepResult:
    """Run ``scenario`` at every point of a design, ``options.replications`` times
    each (default 3).

    ``vary`` maps override paths to their values (a list, or a string ``"1h,2h"``):
    the sweep runs their full factorial. ``points`` is an explicit list of points
    (``{path: value}``); with both, each point is crossed with the factorial.
    ``options`` (``RunOptions``): the overrides that apply everywhere, the seed
    (default: the scenario's; replication ``r`` has the same seed at every point),
    ``until``, metrics (``pending_rate`` is always shown beside them), confidence,
    executor and progress. ``out`` is required: finished runs are stored in
    ``OUT/runs``, so that calling again with the same arguments runs only what is
    missing (nothing once the sweep is complete; failed runs are found there too,
    and run again only with ``options.retry_failed``); the tables and figures are not
    written unless you call ``write(out)``. Each run's tables are kept in
    ``OUT/runs``, so a metric asked for later is computed without running again.
    Raises ``ValueError``
    for a bad design and ``ScenarioError`` for a scenario (with ``overrides``) that
    does not load or a varied path that does not exist; a bad value at some point
    only fails that point's runs, which are recorded in ``errors``.
    """
    from ..scenario import load_scenario

    options = options or RunOptions()
    replications = options.replications_or(3)
    names, functions = resolve_metrics(options.metrics)
    end = parse_until(options.until)
    text, name = read_scenario(scenario)
    overrides = list(options.overrides)
    parameters, design = design_points(vary, points)
    check_paths(text, overrides, parameters, design)
    base = load_scenario(text, overrides=overrides)
    for metric in names:
        if metric not in functions:
            check_split(base, metric)
    base_seed = int(base.seed if options.seed is None else options.seed)
    specs = [
        RunSpec(
            scenario=text,
            overrides=(*overrides, *(f"{k}={v}" for k, v in point.items())),
            replication=r,
            base_seed=base_seed,
            until=end,
            config=_point_label(point),
            params=tuple(point.items()),
        )
        for point in design
        for r in range(replications)
    ]
    store = ResultStore(Path(out))  # records in OUT/runs/KEY.json
    with open_executor(options.jobs, options.scheduler) as executor:
        records, ran, reused = run_specs(
            specs,
            executor=executor,
            store=store,
            progress=options.progress,
            desc=f"sweep {base.name}",
            retry_failed=options.retry_failed,
        )
    return SweepResult(
        scenario=base.name if name == "<text>" else name,
        parameters=parameters,
        points=design,
        specs=specs,
        records=records,
        metrics=names,
        ran=ran,
        reused=reused,
        replications=replications,
        seed=base_seed,
        until=end,
        confidence=options.confidence,
        out=Path(out),
        functions=functions,
    )
