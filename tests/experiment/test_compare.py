"""``smtpsim.compare``: tables with confidence intervals, paired differences under common
random numbers, the sequential --target-ci procedure, the store, figures and HTML."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import smtpsim
from smtpsim.experiment import executors
from smtpsim.experiment.compare import (
    Comparison,
    ConfigError,
    compare,
    make_configs,
    parse_config,
)
from smtpsim.experiment.metrics import METRICS, SHARES
from smtpsim.experiment.options import RunOptions
from smtpsim.experiment.stats import needs_more

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
QUICKSTART = str(SCENARIOS / "quickstart.yaml")
BLACKLISTING = str(SCENARIOS / "blacklisting-incident.yaml")
UNTIL = 600.0  # 10 simulated minutes
_TRACE = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nRuntimeError: boom\n'


@pytest.fixture(scope="module")
def unknown_users() -> Comparison:
    """quickstart against itself with 5 % unknown users instead of 1 %."""
    return compare(
        [QUICKSTART, f"{QUICKSTART}::traffic.staff.unknown_users=5%"],
        RunOptions(replications=3, until=UNTIL),
    )


def test_the_table_has_a_row_per_config_and_metric_with_finite_intervals(
    unknown_users: Comparison,
) -> None:
    table = unknown_users.table()
    assert list(table.columns) == [
        "config",
        "metric",
        "mean",
        "half_width",
        "ci_low",
        "ci_high",
        "n",
    ]
    assert len(table) == 2 * len(METRICS)
    assert list(table["config"].unique()) == unknown_users.labels
    assert unknown_users.labels == ["quickstart", "quickstart [unknown_users=5%]"]
    assert set(table["metric"]) == set(METRICS)
    for column in ("mean", "half_width", "ci_low", "ci_high"):
        assert np.isfinite(table[column].to_numpy(dtype=float)).all(), column
    assert (table["n"] == 3).all()
    # symmetric Student-t intervals, except for shares: a Wilson interval inside [0, 1]
    share = table["metric"].astype(str).isin(SHARES).to_numpy()
    rest = table[~share]
    assert np.allclose(rest["ci_high"] - rest["ci_low"], 2 * rest["half_width"])
    shares = table[share]
    assert (
        (shares["ci_low"] >= 0)
        & (shares["ci_low"] <= shares["mean"])
        & (shares["mean"] <= shares["ci_high"])
        & (shares["ci_high"] <= 1)
    ).all()
    # the runs: one row per configuration and replication, with the same seeds in each
    runs = unknown_users.runs
    assert len(runs) == 6 and runs["error"].isna().all()
    assert {"config", "replication", "seed", *METRICS, "wall_s", "error"} <= set(runs.columns)
    seeds = runs.pivot(index="replication", columns="config", values="seed")
    assert (seeds.nunique(axis=1) == 1).all()  # common random numbers
    assert seeds.iloc[:, 0].nunique() == 3  # independent replications
    assert unknown_users.ran == 6 and unknown_users.reused == 0


def test_more_unknown_users_bounce_more_and_the_interval_says_so(unknown_users: Comparison) -> None:
    diffs = unknown_users.differences().set_index("metric")
    assert list(diffs.columns) == [
        "config",
        "versus",
        "diff",
        "half_width",
        "ci_low",
        "ci_high",
        "excludes_zero",
        "n",
    ]
    bounce = diffs.loc["bounce_rate"]
    assert bounce["diff"] > 0.02 and bounce["ci_low"] > 0 and bool(bounce["excludes_zero"])
    assert diffs["versus"].eq("quickstart").all()


def test_identical_configurations_differ_by_exactly_zero() -> None:
    same = compare({"a": QUICKSTART, "b": QUICKSTART}, RunOptions(replications=3, until=300))
    diffs = same.differences()
    assert len(diffs) == len(METRICS)
    assert (diffs["diff"] == 0).all() and (diffs["half_width"] == 0).all()
    assert not diffs["excludes_zero"].any()
    assert same.ran == 3  # the same runs (same key): run once, used for both


def test_without_the_fallback_relay_mail_expires_during_a_listing() -> None:
    # The listing starts at 1 min and mail expires after 5 min, so 20 minutes show it.
    short = ["incidents[0].at=1min", "hosts.out.postfix.maximal_queue_lifetime=5min"]
    result = compare(
        [BLACKLISTING, (BLACKLISTING, ["hosts.out.postfix.smtp_fallback_relay=none"])],
        RunOptions(overrides=short, replications=3, until="20min"),
        labels=["fallback", "no fallback"],
    )
    diffs = result.differences().set_index("metric")
    expired = diffs.loc["expired_rate"]
    assert expired["diff"] > 0 and bool(expired["excludes_zero"])
    delivered = diffs.loc["delivery_ratio"]
    assert delivered["diff"] < 0 and bool(delivered["excludes_zero"])
    table = result.table().set_index(["config", "metric"])
    assert table.loc[("fallback", "expired_rate"), "mean"] == 0


def _precise_at(result: Comparison, n: int, relative: float) -> bool:
    runs = result.runs[result.runs["replication"] < n]
    return not needs_more({m: list(runs[m]) for m in result.metrics}, relative)


def test_target_ci_adds_replications_until_the_half_width_is_small_enough() -> None:
    loose = compare(
        [QUICKSTART], RunOptions(replications=3, until=300, metrics=["delay_p50"]), target_ci=0.5
    )
    assert loose.replications == 3
    tight = compare(
        [QUICKSTART], RunOptions(replications=3, until=300, metrics=["delay_p50"]), target_ci=0.01
    )
    n = tight.replications
    assert 3 < n < 100
    assert sorted(tight.runs["replication"]) == list(range(n))
    # the sequential procedure: the first n at which the precision is reached
    assert _precise_at(tight, n, 0.01)
    assert not _precise_at(tight, n - 1, 0.01)
    row = tight.table().iloc[0]
    assert row["half_width"] <= 0.01 * row["mean"]


def test_target_ci_stops_at_max_replications() -> None:
    capped = compare(
        [QUICKSTART],
        RunOptions(replications=2, until=300, metrics=["delay_p50"]),
        target_ci=1e-6,
        max_replications=4,
    )
    assert capped.replications == 4
    assert len(capped.runs) == 4


def test_runs_are_stored_and_reused(tmp_path: Path) -> None:
    first = compare([QUICKSTART], RunOptions(replications=2, until=300), out=tmp_path)
    assert (first.ran, first.reused) == (2, 0)
    assert len(list((tmp_path / "runs").glob("*.json"))) == 2
    again = compare([QUICKSTART], RunOptions(replications=3, until=300), out=tmp_path)
    assert (again.ran, again.reused) == (1, 2)
    pd.testing.assert_frame_equal(
        first.runs.drop(columns="wall_s"), again.runs.drop(columns="wall_s").iloc[:2]
    )


def test_write_saves_tables_figures_and_a_report(unknown_users: Comparison, tmp_path: Path) -> None:
    written = unknown_users.write(tmp_path)
    for name in ("runs", "table", "differences", "delays", "queues", "errors"):
        assert (tmp_path / f"{name}.csv").exists() and (tmp_path / f"{name}.parquet").exists()
    for name in ("delay-cdf", "metrics", "queues"):
        assert (tmp_path / "plots" / f"{name}.png").stat().st_size > 1000
    assert (tmp_path / "report.html").exists() and tmp_path / "report.html" in written
    back = pd.read_parquet(tmp_path / "table.parquet")
    assert len(back) == len(unknown_users.table())


def test_text_and_html(unknown_users: Comparison) -> None:
    text = unknown_users.format(width=200)
    assert "quickstart [unknown_users=5%]" in text and "difference to quickstart" in text
    assert " ± " in text and "*" in text
    html = unknown_users._repr_html_()
    assert html.count("<table") == 2 and "bounce_rate" in html
    assert "Comparison" in repr(unknown_users)


def test_figures(unknown_users: Comparison) -> None:
    ax = unknown_users.plot_cdf()
    gids = {artist.get_gid() for artist in ax.get_children()}
    assert {"cdf:quickstart", "band:quickstart"} <= gids
    assert ax.get_xscale() == "log"
    ax = unknown_users.plot_queues(band=(0.1, 0.9))
    assert "queue:quickstart [unknown_users=5%]" in {a.get_gid() for a in ax.get_children()}
    fig = unknown_users.plot_metrics(["bounce_rate", "delay_p95"])
    # the pending share is always drawn beside the metrics asked for
    assert [a.get_title() for a in fig.axes if a.get_visible()] == [
        "bounce_rate",
        "delay_p95",
        "pending_rate",
    ]
    assert unknown_users.plot_metric("bounce_rate").get_title() == "bounce_rate"


def test_delays_and_queues_are_tidy(unknown_users: Comparison) -> None:
    delays = unknown_users.delays
    assert list(delays.columns) == ["config", "replication", "q", "delay_s"]
    assert len(delays) == 6 * 101
    assert (
        delays.groupby(["config", "replication"], observed=True)["delay_s"]
        .apply(lambda d: bool(np.all(np.diff(d.to_numpy()) >= 0)))
        .all()
    )
    queues = unknown_users.queues
    assert list(queues.columns) == ["config", "replication", "t", "queue"]
    assert len(queues) == 6 * 200


def test_config_syntax() -> None:
    assert parse_config("a.yaml") == ("a.yaml", ())
    assert parse_config("a.yaml::x.y=1::z=2h") == ("a.yaml", ("x.y=1", "z=2h"))
    # '::' inside a value (an IPv6 address) does not start an override
    assert parse_config("a.yaml::hosts.x.ip=2001:db8::1") == ("a.yaml", ("hosts.x.ip=2001:db8::1",))
    assert parse_config('a.yaml::dns."a.example".ttl=5min') == (
        "a.yaml",
        ('dns."a.example".ttl=5min',),
    )
    with pytest.raises(ValueError):
        parse_config("::x=1")


def test_labels() -> None:
    configs = make_configs([QUICKSTART, (QUICKSTART, ["traffic.staff.rate=2/s"]), BLACKLISTING])
    assert [c.label for c in configs] == [
        "quickstart",
        "quickstart [rate=2/s]",
        "blacklisting-incident",
    ]
    assert configs[1].overrides == ("traffic.staff.rate=2/s",)
    assert [c.label for c in make_configs([QUICKSTART, QUICKSTART])] == [
        "quickstart #1",
        "quickstart #2",
    ]
    with pytest.raises(ValueError, match="label"):
        make_configs([QUICKSTART], labels=["a", "b"])
    with pytest.raises(ValueError, match="same label"):
        make_configs([QUICKSTART, BLACKLISTING], labels=["a", "a"])


def test_a_configuration_that_does_not_load_is_named() -> None:
    with pytest.raises(ConfigError) as info:
        compare([QUICKSTART, f"{QUICKSTART}::traffic.staff.rate=fast"], RunOptions(until=60))
    assert info.value.label == "quickstart [rate=fast]"
    assert [p.path for p in info.value.problems] == ["traffic.staff.rate"]
    with pytest.raises(ConfigError) as info:
        compare(["no-such-file.yaml"])
    assert info.value.problems[0].path == "<file>"


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="replications"):
        compare([QUICKSTART], RunOptions(replications=0))
    with pytest.raises(ValueError, match="unknown metric"):
        compare([QUICKSTART], RunOptions(metrics=["speed"]))
    with pytest.raises(ValueError, match="target_ci"):
        compare([QUICKSTART], target_ci=-1)


def test_the_scheduler_goes_to_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[int, Any]] = []

    def fake(jobs: int = 1, scheduler: str | None = None) -> Any:
        seen.append((jobs, scheduler))
        return executors.SerialExecutor()

    monkeypatch.setattr(executors, "make_executor", fake)
    compare(
        [QUICKSTART], RunOptions(replications=1, until=60, jobs=3, scheduler="tcp://10.0.0.1:8786")
    )
    assert seen == [(3, "tcp://10.0.0.1:8786")]


def test_local_processes_give_the_same_results() -> None:
    serial = compare([QUICKSTART], RunOptions(replications=2, until=120))
    parallel = compare([QUICKSTART], RunOptions(replications=2, until=120, jobs=2))
    pd.testing.assert_frame_equal(serial.table(), parallel.table())


def test_progress_is_called_after_each_run() -> None:
    calls: list[tuple[int, int]] = []
    compare(
        [QUICKSTART],
        RunOptions(replications=2, until=60, progress=lambda d, t: calls.append((d, t))),
    )
    assert calls == [(1, 2), (2, 2)]


def test_the_top_level_api() -> None:
    assert smtpsim.compare is compare
    assert "compare" in smtpsim.__all__ and "sweep" in smtpsim.__all__


def test_failed_runs_are_left_out_of_the_statistics(monkeypatch: pytest.MonkeyPatch) -> None:
    from smtpsim.experiment import runner

    real = runner.execute

    def flaky(spec: runner.RunSpec) -> runner.RunRecord:
        if spec.replication == 1:
            return runner.RunRecord(spec, {}, (), (), 0.0, _TRACE)
        return real(spec)

    monkeypatch.setattr(executors, "execute", flaky)
    result = compare([QUICKSTART], RunOptions(replications=3, until=60))
    assert result.failed == 1
    assert result.errors.loc[0, "error"] == "RuntimeError: boom"
    assert (result.table()["n"] == 2).all()
    assert math.isnan(float(result.runs.loc[1, "delivery_ratio"]))
