"""Configurations compared over replications:
``compare([A, B, ...], RunOptions(replications=R))``.

A configuration is a scenario file with overrides (its own, after the options'
``overrides`` common to all). Every configuration runs the same replications with the same seeds
(common random numbers, ``smtpsim.experiment.seeds``), so the paired differences to
the first configuration have tight confidence intervals (paired-t, Law & Kelton
section 10.2.1). Means get Student-t intervals across replications; ``target_ci``
adds replications until each metric's half-width is within that fraction of its mean
(the sequential procedure of Law & Kelton section 9.4.1).
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import pandas as pd

from ..scenario import Problem, Scenario, ScenarioError
from .metrics import (
    PENDING,
    PROBABILITIES,
    MetricFunction,
    check_split,
    resolve_metrics,
)
from .options import RunOptions
from .report import (
    format_difference,
    format_estimate,
    html_table,
    interval_caption,
    pending_warnings,
    text_table,
    with_style,
    write_frame,
)
from .runner import RunRecord, RunSpec
from .stats import needs_more, paired_difference
from .store import ResultStore
from .sweep import (
    Runs,
    ci_rows,
    metric_columns,
    open_executor,
    parse_until,
    read_scenario,
    run_specs,
    shown_metrics,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Comparison", "Config", "ConfigError", "compare", "make_configs", "parse_config"]

ConfigSource = Union[str, "os.PathLike[str]", tuple[Union[str, "os.PathLike[str]"], Sequence[str]]]
"""A configuration: a scenario file (or YAML text), ``"FILE::PATH=VALUE::..."``, or a
pair ``(file, overrides)``."""

# ``::`` before ``PATH=`` starts an override; any other ``::`` (an IPv6 address in a
# value) is part of the value.
_OVERRIDE_START = re.compile(r"::(?=\s*[A-Za-z_\"'\[][\w.\-\[\]\"']*\s*=)")


def parse_config(text: str) -> tuple[str, tuple[str, ...]]:
    """``"FILE::PATH=VALUE::PATH=VALUE"`` -> ``(FILE, (PATH=VALUE, ...))``.

    The overrides are those of this configuration only, applied after the common
    ``--set`` ones. Raises ``ValueError`` for a malformed one."""
    head, *rest = _OVERRIDE_START.split(text)
    if head.endswith("::"):
        raise ValueError(f"expected FILE::PATH=VALUE, got {text!r}")
    if not head.strip():
        raise ValueError(f"a configuration needs a scenario file before '::', got {text!r}")
    overrides = tuple(part.strip() for part in rest)
    for part in overrides:
        if "=" not in part or not part.partition("=")[0].strip():
            raise ValueError(f"expected PATH=VALUE after '::', got {part!r} in {text!r}")
    return head, overrides


@dataclass(frozen=True)
class Config:
    """One configuration: ``label``, where its scenario came from (``source``: a file
    name, or ``<text>``), the YAML ``text`` read once, and its own ``overrides``."""

    label: str
    source: str
    text: str
    overrides: tuple[str, ...] = ()


class ConfigError(ScenarioError):
    """A configuration that does not load: ``source`` and ``label`` name it,
    ``problems`` list what is wrong (as ``ScenarioError``)."""

    def __init__(self, source: str, label: str, problems: Iterable[Problem]) -> None:
        super().__init__(problems)
        self.source = source
        self.label = label

    def __str__(self) -> str:
        return f"{self.source} ({self.label}):\n" + super().__str__()


def _short(override: str) -> str:
    path, _, value = override.partition("=")
    return f"{path.strip().split('.')[-1]}={value.strip()}"


def make_configs(
    scenarios: Sequence[ConfigSource] | Mapping[str, ConfigSource],
    labels: Sequence[str] | None = None,
) -> list[Config]:
    """Configurations from their sources (read once; ``ScenarioError`` for a file
    that cannot be read). Labels: ``labels``, the keys of a mapping, or the file's
    stem (with its overrides when two share a file)."""
    if isinstance(scenarios, Mapping):
        if labels is not None:
            raise ValueError("give labels either as the keys of scenarios or as labels")
        labels = [str(k) for k in scenarios]
        items: list[ConfigSource] = list(scenarios.values())
    elif isinstance(scenarios, str | os.PathLike):
        items = [scenarios]
    else:
        items = list(scenarios)
    if not items:
        raise ValueError("no configuration to compare")
    if labels is not None:
        labels = [str(x) for x in labels]
        if len(labels) != len(items):
            raise ValueError(f"{len(labels)} label(s) for {len(items)} configuration(s)")
        if len(set(labels)) != len(labels):
            raise ValueError("two configurations have the same label")
    read: list[tuple[str, str, tuple[str, ...], str]] = []  # source, text, overrides, stem
    for item in items:
        if isinstance(item, tuple):
            source, own = item[0], tuple(item[1])
            if isinstance(own, str):
                raise ValueError(f"overrides of {source!r} must be a list, got {own!r}")
            own = tuple(str(o) for o in own)
        elif isinstance(item, str) and "\n" not in item and "::" in item:
            source, own = parse_config(item)
        else:
            source, own = item, ()
        try:
            text, name = read_scenario(source)
        except ScenarioError as error:
            raise ConfigError(str(source), str(source), error.problems) from None
        stem = Path(name).stem if name != "<text>" else _scenario_name(text)
        read.append((name, text, own, stem))
    if labels is None:
        stems = [stem for _, _, _, stem in read]
        labels = []
        for _name, _text, own, stem in read:
            label = stem
            if stems.count(stem) > 1 and own:
                label = f"{stem} [{', '.join(_short(o) for o in own)}]"
            labels.append(label)
        given = list(labels)
        for i, label in enumerate(given):  # still the same: number them
            if given.count(label) > 1:
                labels[i] = f"{label} #{given[: i + 1].count(label)}"
    return [
        Config(label, name, text, own)
        for label, (name, text, own, _stem) in zip(labels, read, strict=True)
    ]


def _scenario_name(text: str) -> str:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return "scenario"
    name = data.get("name") if isinstance(data, dict) else None
    return str(name) if name else "scenario"


def check_config(config: Config, overrides: Sequence[str]) -> Scenario:
    """The loaded scenario of ``config`` (``ConfigError`` listing its problems)."""
    from ..scenario import load_scenario

    try:
        return load_scenario(config.text, overrides=[*overrides, *config.overrides])
    except ScenarioError as error:
        raise ConfigError(config.source, config.label, error.problems) from None


# --- the sequential procedure ------------------------------------------------------------


def _satisfied(
    by_config: Sequence[Sequence[RunRecord]],
    n: int,
    metrics: Sequence[str],
    relative: float,
    confidence: float,
    functions: Mapping[str, MetricFunction] | None = None,
) -> bool:
    """Whether, with the first ``n`` replications, every configuration's metrics are
    as precise as asked."""
    return not any(
        needs_more(metric_columns(records[:n], metrics, functions), relative, confidence)
        for records in by_config
    )


def _estimate(
    by_config: Sequence[Sequence[RunRecord]],
    n: int,
    metrics: Sequence[str],
    relative: float,
    confidence: float,
    functions: Mapping[str, MetricFunction] | None = None,
) -> int:
    """Replications the precision seems to need: ``n (h / (relative |mean|))^2`` at
    worst over configurations and metrics (Law & Kelton 9.4.1, the approximation)."""
    from .stats import mean_ci

    need = n + 1
    for records in by_config:
        for values in metric_columns(records[:n], metrics, functions).values():
            mean, half = mean_ci(values, confidence)
            if not math.isfinite(half):
                continue
            bound = relative if mean == 0 else relative * abs(mean)
            if half > bound:
                ratio = half / bound if bound > 0 else math.inf
                need = max(need, math.ceil(n * ratio * ratio) if math.isfinite(ratio) else 2 * n)
    return need


# --- the result ------------------------------------------------------------------------


class Comparison(Runs):
    """Configurations compared over the same replications.

    ``runs``: one row per run: ``config`` (categorical, in the order given),
    ``replication``, ``seed``, a column per metric, ``wall_s``, ``error`` (last line
    of the exception of a failed run, else missing). ``delays``: ``config``,
    ``replication``, ``q``, ``delay_s`` (each run's delivered delays at the
    probabilities 0, 0.01, ..., 1). ``queues``: ``config``, ``replication``, ``t``,
    ``queue`` (messages queued in the network, on 200 times). ``errors``: the failed
    runs with their traceback. ``table()`` and ``differences()``: the statistics.
    """

    def __init__(
        self,
        *,
        configs: Sequence[Config],
        overrides: Sequence[str],
        records: Sequence[Sequence[RunRecord]],
        specs: Sequence[Sequence[RunSpec]],
        metrics: Sequence[str],
        seed: int,
        until: float | None,
        confidence: float,
        target_ci: float | None,
        ran: int,
        reused: int,
        out: Path | None,
        functions: Mapping[str, MetricFunction] | None = None,
    ) -> None:
        self.configs = list(configs)
        self.labels = [c.label for c in self.configs]
        self.overrides = tuple(overrides)
        self.target_ci = target_ci
        flat_records = [r for per in records for r in per]
        flat_specs = [s for per in specs for s in per]
        config_col = pd.Categorical([s.config for s in flat_specs], categories=self.labels)
        super().__init__(
            keys={"config": config_col},
            specs=flat_specs,
            records=flat_records,
            metrics=metrics,
            functions=functions,
            ran=ran,
            reused=reused,
            replications=len(records[0]) if records else 0,
            seed=seed,
            until=until,
            confidence=confidence,
            out=out,
        )
        self.delays = self._delays(flat_specs, flat_records)
        self.queues = self._queues(flat_specs, flat_records)

    def _delays(self, specs: Sequence[RunSpec], records: Sequence[RunRecord]) -> pd.DataFrame:
        parts = []
        for spec, record in zip(specs, records, strict=True):
            quantiles = np.asarray(record.delay_quantiles, dtype=float)
            if quantiles.size == 0:
                continue
            q = (
                np.asarray(PROBABILITIES)
                if quantiles.size == len(PROBABILITIES)
                else np.linspace(0.0, 1.0, quantiles.size)
            )
            parts.append(
                pd.DataFrame(
                    {
                        "config": spec.config,
                        "replication": spec.replication,
                        "q": q,
                        "delay_s": quantiles,
                    }
                )
            )
        return self._stacked(parts, ("q", "delay_s"))

    def _queues(self, specs: Sequence[RunSpec], records: Sequence[RunRecord]) -> pd.DataFrame:
        parts = []
        for spec, record in zip(specs, records, strict=True):
            series = np.asarray(record.queue_series, dtype=float).reshape(-1, 2)
            if not len(series):
                continue
            parts.append(
                pd.DataFrame(
                    {
                        "config": spec.config,
                        "replication": spec.replication,
                        "t": series[:, 0],
                        "queue": series[:, 1],
                    }
                )
            )
        return self._stacked(parts, ("t", "queue"))

    def _stacked(self, parts: list[pd.DataFrame], values: tuple[str, ...]) -> pd.DataFrame:
        """The runs' ``parts`` (``config``, ``replication`` and the float columns
        ``values``) as one frame, ``config`` a categorical of the labels; empty with
        those columns when no run gave any."""
        frame = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(
                {
                    "config": [],
                    "replication": pd.Series([], dtype="int64"),
                    **{column: pd.Series([], dtype=float) for column in values},
                }
            )
        )
        frame["config"] = pd.Categorical(frame["config"], categories=self.labels)
        return frame

    # --- statistics

    def table(self, metrics: Sequence[str | MetricFunction] | None = None) -> pd.DataFrame:
        """One row per configuration and metric: ``config``, ``metric``, ``mean``,
        ``half_width`` (Student-t at ``confidence``), ``ci_low``, ``ci_high`` (mean ±
        half-width; for shares the Wilson interval, within [0, 1]), ``n`` (successful
        runs with a value). A metric not measured yet is computed from the runs' kept
        tables (``add_metrics``)."""
        metrics = self.metrics if metrics is None else self.add_metrics(metrics)
        groups = [
            ({"config": label}, self.runs[self.runs["config"] == label]) for label in self.labels
        ]
        table = pd.DataFrame(ci_rows(groups, metrics, self.confidence))
        table["config"] = pd.Categorical(table["config"], categories=self.labels)
        table["metric"] = pd.Categorical(table["metric"], categories=list(metrics))
        return table

    def differences(self, metrics: Sequence[str | MetricFunction] | None = None) -> pd.DataFrame:
        """One row per configuration after the first and metric: ``config``,
        ``versus`` (the first configuration), ``metric``, ``diff`` (mean of config
        minus first, replication by replication), ``half_width``, ``ci_low``,
        ``ci_high`` (paired-t interval), ``excludes_zero`` (the interval lies on one
        side of 0: a difference that is not noise), ``n`` (pairs used)."""
        metrics = self.metrics if metrics is None else self.add_metrics(metrics)
        wide = {
            label: self.runs[self.runs["config"] == label].set_index("replication")
            for label in self.labels
        }
        first = self.labels[0]
        rows = []
        for label in self.labels[1:]:
            a_runs, b_runs = wide[label], wide[first]
            common = [r for r in a_runs.index if r in b_runs.index]
            for metric in metrics:
                a = [_ok(a_runs, r, metric) for r in common]
                b = [_ok(b_runs, r, metric) for r in common]
                n = sum(math.isfinite(x) and math.isfinite(y) for x, y in zip(a, b, strict=True))
                diff, half = paired_difference(a, b, self.confidence)
                low, high = diff - half, diff + half
                rows.append(
                    {
                        "config": label,
                        "versus": first,
                        "metric": metric,
                        "diff": diff,
                        "half_width": half,
                        "ci_low": low,
                        "ci_high": high,
                        "excludes_zero": bool(low > 0 or high < 0),
                        "n": n,
                    }
                )
        columns = [
            "config",
            "versus",
            "metric",
            "diff",
            "half_width",
            "ci_low",
            "ci_high",
            "excludes_zero",
            "n",
        ]
        table = pd.DataFrame(rows, columns=columns)
        table["config"] = pd.Categorical(table["config"], categories=self.labels)
        table["metric"] = pd.Categorical(table["metric"], categories=list(metrics))
        table["excludes_zero"] = table["excludes_zero"].astype(bool)
        return table

    # --- figures

    def plot_cdf(self, *, band: tuple[float, float] | None = None, ax: Axes | None = None) -> Axes:
        """Delay CDFs overlaid: per configuration the median of the replications, in a
        band from the smallest to the largest (or the ``band`` quantiles, such as
        ``(0.1, 0.9)``). Returns the ``Axes``."""
        from ..plots.experiment import replication_cdf

        return replication_cdf(self.delays, band=band, shares=self.runs, ax=ax)

    def plot_metric(self, metric: str, *, ax: Axes | None = None) -> Axes:
        """One metric per configuration with its confidence interval as an error bar."""
        from ..plots.experiment import compared_metric

        return compared_metric(self.table([metric]), metric, ax=ax)

    def plot_metrics(
        self, metrics: Sequence[str] | None = None, *, fig: Figure | None = None
    ) -> Figure:
        """:meth:`plot_metric` for each metric, on one figure. Returns the ``Figure``."""
        from ..plots.experiment import compared_metrics

        metrics = shown_metrics(self.metrics if metrics is None else self.add_metrics(metrics))
        return compared_metrics(self.table(metrics), metrics, fig=fig, confidence=self.confidence)

    def plot_queues(
        self, *, band: tuple[float, float] | None = None, ax: Axes | None = None
    ) -> Axes:
        """Messages queued in the network over time, per configuration: the mean of
        the replications in a band from the smallest to the largest."""
        from ..plots.experiment import queue_bands

        return queue_bands(self.queues, band=band, ax=ax)

    def write(
        self,
        directory: str | Path,
        *,
        fmt: str = "png",
        plots: bool = True,
    ) -> list[Path]:
        """Write the tables ``runs``, ``table``, ``differences``, ``delays``,
        ``queues``, ``errors`` (CSV and Parquet), the figures
        ``plots/{delay-cdf,metrics,differences,queues}.FMT`` and ``report.html``; returns
        the paths."""
        out = Path(directory)
        written = write_frame(self.runs, out, "runs")
        shown = shown_metrics(self.metrics)  # pending_rate always
        written += write_frame(self.table(shown), out, "table")
        written += write_frame(self.differences(shown), out, "differences")
        written += write_frame(self.delays, out, "delays")
        written += write_frame(self.queues, out, "queues")
        written += write_frame(self.errors, out, "errors")
        from .report import write_compare_report  # figures and report.html

        return written + write_compare_report(self, out, fmt=fmt, plots=plots)

    # --- text and HTML

    def _cells(
        self,
    ) -> tuple[list[str], list[list[str]], list[str], list[list[str]], set[tuple[int, int]]]:
        metrics = shown_metrics(self.metrics)
        table = self.table(metrics).set_index(["metric", "config"]).to_dict("index")
        head = ["metric", *self.labels]
        rows = [
            [m]
            + [
                format_estimate(
                    m,
                    *(float(table[(m, c)][k]) for k in ("mean", "half_width", "ci_low", "ci_high")),
                )
                for c in self.labels
            ]
            for m in metrics
        ]
        diffs = self.differences(metrics).set_index(["metric", "config"]).to_dict("index")
        dhead = ["metric", *self.labels[1:]]
        drows = []
        strong = set()
        for i, m in enumerate(metrics):
            row = [m]
            for j, c in enumerate(self.labels[1:], start=1):
                d = diffs[(m, c)]
                row.append(
                    format_difference(
                        m, float(d["diff"]), float(d["half_width"]), bool(d["excludes_zero"])
                    )
                )
                if bool(d["excludes_zero"]):
                    strong.add((i, j))
            drows.append(row)
        return head, rows, dhead, drows, strong

    def summary_line(self) -> str:
        n = self.replications
        text = (
            f"{len(self.labels)} configuration{'s' if len(self.labels) != 1 else ''} x "
            f"{n} replication{'s' if n != 1 else ''} (base seed {self.seed}"
            + (f", until {self.until:g} s" if self.until is not None else "")
            + ")"
        )
        if self.target_ci is not None:
            text += f", target half-width {100 * self.target_ci:g} % of the mean"
        text += f"; {self.ran} run now, {self.reused} reused"
        if self.failed:
            text += f", {self.failed} failed"
        return text

    def format(self, width: int | None = None) -> str:
        """The tables as text: each metric's mean ± half-width per configuration, then
        the paired differences to the first configuration."""
        head, rows, dhead, drows, _ = self._cells()
        pct = f"{100 * self.confidence:g} %"
        parts = [
            self.summary_line(),
            "",
            interval_caption(self.confidence) + ":",
            text_table(head, rows, width=width),
        ]
        if len(self.labels) > 1:
            parts += [
                "",
                f"difference to {self.labels[0]} (paired, same seeds), "
                f"± {pct} half-width; * the interval excludes 0:",
                text_table(dhead, drows, width=width),
            ]
        warnings = self.warnings()
        if warnings:
            parts += ["", *warnings]
        return "\n".join(parts)

    def warnings(self) -> list[str]:
        """A warning per configuration whose mean ``pending_rate`` is above 2 %."""
        return pending_warnings(self.table([PENDING]), lambda row: str(row["config"]))

    def __repr__(self) -> str:
        return f"<Comparison {' vs '.join(self.labels)}: {self.summary_line()}>"

    def _html_body(self) -> str:
        head, rows, dhead, drows, strong = self._cells()
        pct = f"{100 * self.confidence:g} %"
        body = html_table(
            head, rows, caption=f"{self.summary_line()}; {interval_caption(self.confidence)}"
        )
        body += "".join(f"<p><b>{html.escape(w)}</b></p>" for w in self.warnings())
        if len(self.labels) > 1:
            body += html_table(
                dhead,
                drows,
                strong=strong,
                caption=f"difference to {self.labels[0]} (paired, same seeds),"
                f" ± {pct} half-width; * (bold) the interval "
                "excludes 0",
            )
        return body

    def _repr_html_(self) -> str:
        return with_style(self._html_body())


def _ok(runs: pd.DataFrame, replication: int, metric: str) -> float:
    row = runs.loc[replication]
    if isinstance(row, pd.DataFrame):  # a replication twice: should not happen
        row = row.iloc[0]
    if isinstance(row["error"], str):
        return math.nan
    return float(row[metric])


# --- the API ---------------------------------------------------------------------------


def compare(
    scenarios: Sequence[ConfigSource] | Mapping[str, ConfigSource],
    options: RunOptions | None = None,
    *,
    labels: Sequence[str] | None = None,
    target_ci: float | None = None,
    max_replications: int = 100,
    out: str | os.PathLike[str] | None = None,
) -> Comparison:
    """Run each configuration ``options.replications`` times (default 10) with the
    same seeds and compare.

    ``scenarios``: configurations, each a scenario file (``str`` or ``Path``), a
    ``"FILE::PATH=VALUE::PATH=VALUE"`` string, or a pair ``(file, [PATH=VALUE, ...])``;
    or a mapping ``{label: configuration}``. ``labels`` name them (default: the
    file's stem). ``options`` (``RunOptions``): the overrides common to all
    (applied before each configuration's own), seed, ``until``, metrics,
    confidence, executor and progress; the base seed defaults to the first
    configuration's.

    ``target_ci`` (such as 0.05): after the first replications, add replications
    until every metric has a confidence interval whose half-width is at most
    ``target_ci`` times its mean in every configuration, or ``max_replications`` is
    reached (Law & Kelton's sequential procedure; the result is that of adding one
    replication at a time, though runs go in batches). With ``out``, runs are stored
    in ``OUT/runs`` and found there next time (failed runs too, unless
    ``options.retry_failed``); ``.write(out)`` writes the tables and figures.

    Raises ``ConfigError`` (a ``ScenarioError``) for a configuration that does not
    load, ``ValueError`` for bad arguments. A run that fails is recorded in
    ``errors`` and left out of the statistics.
    """
    options = options or RunOptions()
    replications, confidence = options.replications_or(10), options.confidence
    if target_ci is not None and not (target_ci > 0 and math.isfinite(target_ci)):
        raise ValueError(f"target_ci must be a fraction > 0, such as 0.05, got {target_ci!r}")
    names, functions = resolve_metrics(options.metrics)
    overrides = list(options.overrides)
    end = parse_until(options.until)
    configs = make_configs(scenarios, labels)
    loaded = [check_config(config, overrides) for config in configs]
    for metric in names:
        for scenario in loaded:
            if metric not in functions:
                check_split(scenario, metric)
    base_seed = int(loaded[0].seed if options.seed is None else options.seed)
    max_n = max(replications, max_replications)
    store = ResultStore(Path(out)) if out is not None else None

    def spec(config: Config, r: int) -> RunSpec:
        return RunSpec(
            scenario=config.text,
            overrides=(*overrides, *config.overrides),
            replication=r,
            base_seed=base_seed,
            until=end,
            config=config.label,
        )

    by_config: list[list[RunRecord]] = [[] for _ in configs]
    ran = reused = 0
    n, batch = 0, replications
    with open_executor(options.jobs, options.scheduler) as executor:
        while True:
            specs = [spec(c, r) for c in configs for r in range(n, n + batch)]
            desc = "compare" if n == 0 else f"compare, replications {n + 1}-{n + batch}"
            records, now, old = run_specs(
                specs,
                executor=executor,
                store=store,
                progress=options.progress,
                desc=desc,
                retry_failed=options.retry_failed,
            )
            ran, reused = ran + now, reused + old
            for i in range(len(configs)):
                by_config[i].extend(records[i * batch : (i + 1) * batch])
            first_n, n = n, n + batch
            if target_ci is None:
                break
            # the first n at which the sequential procedure stops (n0 = replications)
            stop = next(
                (
                    k
                    for k in range(max(first_n + 1, replications), n + 1)
                    if _satisfied(by_config, k, names, target_ci, confidence, functions)
                ),
                None,
            )
            if stop is not None:
                n = stop
                break
            if n >= max_n:
                break
            estimate = _estimate(by_config, n, names, target_ci, confidence, functions)
            batch = max(1, min(estimate, 2 * n, max_n) - n)
    kept = [records[:n] for records in by_config]
    specs_kept = [[spec(c, r) for r in range(n)] for c in configs]
    return Comparison(
        configs=configs,
        overrides=overrides,
        records=kept,
        specs=specs_kept,
        metrics=names,
        seed=base_seed,
        until=end,
        confidence=confidence,
        target_ci=target_ci,
        ran=ran,
        reused=reused,
        out=Path(out) if out is not None else None,
        functions=functions,
    )
