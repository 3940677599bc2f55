"""``smtpsim.sweep``: full-factorial and explicit designs, a store that makes sweeps
resume (only missing runs run again), failed runs recorded apart, tidy tables, figures."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import smtpsim
from smtpsim.experiment import executors
from smtpsim.experiment.metrics import METRICS
from smtpsim.experiment.options import RunOptions
from smtpsim.experiment.store import ResultStore
from smtpsim.experiment.sweep import (
    SweepResult,
    design_points,
    parameter_column,
    split_values,
    sweep,
)
from smtpsim.scenario import ScenarioError

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
QUICKSTART = SCENARIOS / "quickstart.yaml"
UNTIL = 300.0
RATE = "traffic.staff.rate"
UNKNOWN = "traffic.staff.unknown_users"
VARY = {RATE: ["1/s", "2/s"], UNKNOWN: ["1%", "10%"]}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[SweepResult, Path]:
    out = tmp_path_factory.mktemp("sweep")
    return sweep(QUICKSTART, RunOptions(replications=2, until=UNTIL), vary=VARY, out=out), out


def test_a_full_factorial_runs_every_point_and_replication(
    finished: tuple[SweepResult, Path],
) -> None:
    result, out = finished
    assert (result.ran, result.reused, result.failed) == (8, 0, 0)
    assert result.parameters == [RATE, UNKNOWN]
    assert result.points == [{RATE: r, UNKNOWN: u} for r in ("1/s", "2/s") for u in ("1%", "10%")]
    runs = result.runs
    assert list(runs.columns[:4]) == ["point", RATE, UNKNOWN, "replication"]
    assert {"seed", *METRICS, "wall_s", "error"} <= set(runs.columns)
    assert len(runs) == 8 and runs["error"].isna().all()
    assert sorted(runs.groupby([RATE, UNKNOWN], observed=True).size()) == [2, 2, 2, 2]
    # replication r has the same seed at every point
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()
    assert len(list((out / "runs").glob("*.json"))) == 8
    table = result.table()
    assert len(table) == 4 * len(METRICS)
    assert list(table.columns) == [
        "point",
        RATE,
        UNKNOWN,
        "metric",
        "mean",
        "half_width",
        "ci_low",
        "ci_high",
        "n",
    ]
    bounce = table[table["metric"] == "bounce_rate"].groupby(UNKNOWN, observed=True)["mean"]
    assert bounce.mean()["10%"] > bounce.mean()["1%"]


def test_rerunning_a_finished_sweep_runs_nothing(finished: tuple[SweepResult, Path]) -> None:
    first, out = finished
    again = sweep(QUICKSTART, RunOptions(replications=2, until=UNTIL), vary=VARY, out=out)
    assert (again.ran, again.reused) == (0, 8)
    pd.testing.assert_frame_equal(first.runs, again.runs)
    pd.testing.assert_frame_equal(first.table(), again.table())


def test_an_interrupted_sweep_runs_only_the_missing_runs(tmp_path: Path) -> None:
    k = 3

    def interrupt(done: int, total: int) -> None:
        if done == k:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(
            QUICKSTART,
            RunOptions(replications=2, until=UNTIL, progress=interrupt),
            vary=VARY,
            out=tmp_path,
        )
    assert len(ResultStore(tmp_path).records()) == k  # each stored as it finished
    resumed = sweep(QUICKSTART, RunOptions(replications=2, until=UNTIL), vary=VARY, out=tmp_path)
    assert (resumed.ran, resumed.reused) == (8 - k, k)
    assert resumed.runs["error"].isna().all()


def test_a_sweep_over_a_subset_first_then_the_whole_design(tmp_path: Path) -> None:
    part = sweep(
        QUICKSTART,
        RunOptions(replications=2, until=UNTIL),
        vary={RATE: ["1/s"], UNKNOWN: ["1%", "10%"]},
        out=tmp_path,
    )
    assert part.ran == 4
    whole = sweep(QUICKSTART, RunOptions(replications=3, until=UNTIL), vary=VARY, out=tmp_path)
    assert (whole.ran, whole.reused) == (12 - 4, 4)


def test_a_failing_run_is_recorded_and_the_others_are_intact(tmp_path: Path) -> None:
    result = sweep(
        QUICKSTART,
        RunOptions(replications=2, until=UNTIL),
        vary={RATE: ["1/s", "fast", "2/s"]},
        out=tmp_path,
    )
    assert (result.ran, result.failed) == (6, 2)
    errors = result.errors
    assert list(errors.columns) == ["point", RATE, "replication", "seed", "error", "traceback"]
    assert list(errors[RATE]) == ["fast", "fast"]
    assert errors["error"].str.contains("traffic.staff.rate: expected a rate").all()
    assert errors["traceback"].str.startswith("Traceback").all()
    ok = result.runs[result.runs["error"].isna()]
    assert len(ok) == 4 and np.isfinite(ok["delivery_ratio"].to_numpy(dtype=float)).all()
    table = result.table().set_index([RATE, "metric"])
    assert table.loc[("fast", "delivery_ratio"), "n"] == 0
    assert math.isnan(table.loc[("fast", "delivery_ratio"), "mean"])
    assert table.loc[("2/s", "delivery_ratio"), "n"] == 2
    # failed runs are in the store too: reused, unless asked to retry them
    again = sweep(
        QUICKSTART,
        RunOptions(replications=2, until=UNTIL),
        vary={RATE: ["1/s", "fast", "2/s"]},
        out=tmp_path,
    )
    assert (again.ran, again.failed) == (0, 2)
    retried = sweep(
        QUICKSTART,
        RunOptions(replications=2, until=UNTIL, retry_failed=True),
        vary={RATE: ["1/s", "fast", "2/s"]},
        out=tmp_path,
    )
    assert (retried.ran, retried.reused, retried.failed) == (2, 4, 2)
    assert "failed runs" in result._repr_html_()


def test_explicit_points(tmp_path: Path) -> None:
    points = [{RATE: "1/s"}, {RATE: "2/s", "warmup": "1min"}]
    result = sweep(QUICKSTART, RunOptions(replications=1, until=UNTIL), points=points, out=tmp_path)
    assert result.parameters == [RATE, "warmup"]
    assert len(result.runs) == 2
    assert result.runs["warmup"].isna().tolist() == [True, False]  # the scenario's own
    assert result.runs.loc[1, "warmup"] == "1min"


def test_points_crossed_with_a_factorial() -> None:
    parameters, design = design_points({"b": "1,2"}, [{"a": "x"}, {"a": "y"}])
    assert parameters == ["a", "b"]
    assert design == [
        {"a": "x", "b": "1"},
        {"a": "x", "b": "2"},
        {"a": "y", "b": "1"},
        {"a": "y", "b": "2"},
    ]


def test_design_errors() -> None:
    with pytest.raises(ValueError, match="seed"):
        design_points({"seed": [1, 2]})
    with pytest.raises(ValueError, match="twice"):
        design_points({"a": ["1", "1"]})
    with pytest.raises(ValueError, match="no values"):
        design_points({"a": []})
    with pytest.raises(ValueError, match="both"):
        design_points({"a": ["1"]}, [{"a": "2"}])
    assert design_points({"a": [1, True, None]})[1] == [{"a": "1"}, {"a": "true"}, {"a": "none"}]


def test_a_varied_path_that_does_not_exist_stops_the_sweep_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        sweep(QUICKSTART, vary={"traffic.staff.rte": ["1/s"]}, out=tmp_path / "x")
    assert info.value.problems[0].path == "traffic.staff.rte"
    assert "--vary" in info.value.problems[0].message
    assert not (tmp_path / "x").exists()


def test_split_values() -> None:
    assert split_values("1h,2h, 4h") == ["1h", "2h", "4h"]
    assert split_values("[a, b],[c]") == ["[a, b]", "[c]"]
    assert split_values("{x: 1, y: 2},'a,b'") == ["{x: 1, y: 2}", "'a,b'"]


def test_parameter_columns_are_numbers_when_they_can_be() -> None:
    assert parameter_column(["1", "2", "10"]).dtype == "int64"
    assert parameter_column(["0.5", "2"]).dtype == "float64"
    categorical = parameter_column(["2h", "30min", "2h"])
    assert list(categorical.cat.categories) == ["2h", "30min"]  # the design's order
    assert categorical.cat.ordered


def test_numeric_parameters_plot_on_a_numeric_axis(tmp_path: Path) -> None:
    result = sweep(
        QUICKSTART,
        RunOptions(replications=2, until=120),
        vary={"traffic.staff.senders": ["50", "200"]},
        out=tmp_path,
    )
    assert result.runs["traffic.staff.senders"].dtype == "int64"
    ax = result.plot("mean_queue")
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) == 2]
    assert lines and list(lines[0].get_xdata()) == [50.0, 200.0]


def test_figures_and_files(finished: tuple[SweepResult, Path], tmp_path: Path) -> None:
    result, _ = finished
    ax = result.plot("bounce_rate", UNKNOWN)
    assert ax.get_xlabel() == UNKNOWN
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["1%", "10%"]
    assert len(ax.get_legend().get_texts()) == 2  # a line per rate
    with pytest.raises(ValueError, match="not varied"):
        result.plot("bounce_rate", "warmup")
    written = result.write(tmp_path)
    for name in ("runs", "table", "errors"):
        assert (tmp_path / f"{name}.csv").exists() and (tmp_path / f"{name}.parquet").exists()
    figures = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert len(figures) == 2 * len(METRICS)
    assert "delay_p95-vs-traffic.staff.rate.png" in figures
    assert tmp_path / "report.html" in written
    back = pd.read_csv(tmp_path / "runs.csv")
    assert list(back.columns[:3]) == ["point", RATE, UNKNOWN]


def test_text_and_html(finished: tuple[SweepResult, Path]) -> None:
    result, _ = finished
    assert result.summary_line() == "8 runs (4 points x 2 replications): 8 run now, 0 reused"
    text = result.format(metrics=["bounce_rate"], width=200)
    # pending_rate is always shown beside the metric asked for (issue 8)
    assert text.splitlines()[0].split() == [RATE, UNKNOWN, "bounce_rate", "pending_rate"]
    assert len(text.splitlines()) == 5
    assert "<table" in result._repr_html_()


def test_the_scheduler_goes_to_the_executor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[int, Any]] = []

    def fake(jobs: int = 1, scheduler: str | None = None) -> Any:
        seen.append((jobs, scheduler))
        return executors.SerialExecutor()

    monkeypatch.setattr(executors, "make_executor", fake)
    sweep(
        QUICKSTART,
        RunOptions(replications=1, until=60, scheduler="tcp://10.0.0.1:8786", jobs=2),
        vary={RATE: ["1/s"]},
        out=tmp_path,
    )
    assert seen == [(2, "tcp://10.0.0.1:8786")]


def test_the_top_level_api() -> None:
    assert smtpsim.sweep is sweep
