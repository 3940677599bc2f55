"""Metrics split by flow, domain and host (``NAME@domain=D``), user-defined metrics,
and metrics computed later from the tables an experiment keeps of each run, without
running again (issue 8, "What to build" 4)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smtpsim.experiment import RunOptions, compare, sweep
from smtpsim.experiment.metrics import (
    METRICS,
    metric_value,
    parse_metric,
    register_metric,
    run_metrics,
)
from smtpsim.experiment.run_tables import RunTables, run_tables
from smtpsim.scenario import load_scenario
from smtpsim.simulation import simulate

QUICKSTART = str(Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml")
OUTAGE = (
    "warmup=1min",
    "incidents=[{host_down: {host: mx-small, mode: refuse}, at: 2min, for: 10min}]",
)
UNTIL = 480.0


@pytest.fixture(scope="module")
def result():
    return simulate(load_scenario(QUICKSTART, overrides=list(OUTAGE)), seed=4, until=UNTIL)


def counted(result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The summary's recipients and their attempts, by hand."""
    m = result.messages.set_index("msg_id")
    keep = m.index[(m["origin"].astype(str) != "bounce") & (m["t_submit"] >= 60.0)]
    rcpts = result.recipients[result.recipients["msg_id"].isin(keep)]
    attempts = result.attempts[result.attempts["msg_id"].isin(keep)]
    return rcpts, attempts


def test_split_metrics_equal_a_hand_computation_from_the_tables(result) -> None:
    tables = run_tables(result)
    rcpts, attempts = counted(result)
    small = rcpts[rcpts["domain"].astype(str) == "smallorg.example"]
    status = small["status"].astype(str)
    assert (status == "pending").sum() > 0 and (status == "delivered").sum() > 0
    assert metric_value(tables, "delivery_ratio@domain=smallorg.example") == pytest.approx(
        (status == "delivered").mean(), rel=1e-12
    )
    assert metric_value(tables, "pending_rate@domain=smallorg.example") == pytest.approx(
        (status == "pending").mean(), rel=1e-12
    )
    delays = small.loc[status == "delivered", "delay_s"].to_numpy()
    assert metric_value(tables, "delay_p95@domain=smallorg.example") == pytest.approx(
        float(np.quantile(delays, 0.95)), rel=1e-12
    )
    big = rcpts[rcpts["domain"].astype(str) == "bigmail.example"]
    assert metric_value(tables, "pending_rate@domain=bigmail.example") == pytest.approx(
        (big["status"].astype(str) == "pending").mean()
    )
    # attempts made by `out`, and the recipients that went through mx-small
    by_out = attempts[attempts["host"].astype(str) == "out"]
    deferred = by_out["outcome"].astype(str) == "deferred"
    assert deferred.sum() > 0
    assert metric_value(tables, "deferral_rate@host=out") == pytest.approx(deferred.mean())
    through = attempts[
        (attempts["host"].astype(str) == "mx-small") | (attempts["peer"].astype(str) == "mx-small")
    ]
    keys = set(zip(through["msg_id"], through["rcpt"], strict=True))
    mine = rcpts[[k in keys for k in zip(rcpts["msg_id"], rcpts["rcpt"], strict=True)]]
    assert len(mine) > 0
    assert metric_value(tables, "delivery_ratio@host=mx-small") == pytest.approx(
        (mine["status"].astype(str) == "delivered").mean()
    )
    # retries: the deferred attempts of the flow's recipients, per recipient
    assert metric_value(tables, "retries_per_recipient@flow=staff") == pytest.approx(
        (attempts["outcome"].astype(str) == "deferred").sum() / len(rcpts)
    )
    # the unsplit metrics are run_metrics'
    whole = run_metrics(result)
    for name in METRICS:
        value = metric_value(tables, name)
        assert value == whole[name] or (math.isnan(value) and math.isnan(whole[name])), name
    assert whole["pending_rate"] == pytest.approx((rcpts["status"].astype(str) == "pending").mean())
    assert whole["mean_queue"] > metric_value(tables, "mean_queue@host=out") > 0


def test_bad_split_names_are_refused_with_the_reason() -> None:
    assert parse_metric("delay_p95@flow=staff").by == "flow"
    with pytest.raises(ValueError, match="unknown metric 'delivery'"):
        parse_metric("delivery")
    with pytest.raises(ValueError, match="split mean_queue by host only"):
        parse_metric("mean_queue@domain=bigmail.example")
    with pytest.raises(ValueError, match="split by flow, domain or host"):
        parse_metric("delivery_ratio@tld=example")
    with pytest.raises(ValueError, match=r"no domain 'nosuch\.example' in the scenario"):
        compare(
            [QUICKSTART],
            RunOptions(replications=1, until=30, metrics=["delivery_ratio@domain=nosuch.example"]),
        )


def small_share(tables: RunTables) -> float:
    """A user metric: the share of recipients that went to smallorg.example."""
    rcpts = tables.recipients
    return float((rcpts["domain"].astype(str) == "smallorg.example").mean())


def test_user_metrics_and_recomputing_from_the_stored_tables(tmp_path: Path) -> None:
    first = sweep(
        QUICKSTART,
        RunOptions(overrides=OUTAGE, replications=2, until=UNTIL, metrics=["delivery_ratio"]),
        vary={"traffic.staff.unknown_users": ["1%", "5%"]},
        out=tmp_path,
    )
    assert first.ran == 4
    stored = sorted((tmp_path / "runs").glob("*.tables"))
    assert len(stored) == 4 and (stored[0] / "recipients.parquet").exists()
    # asked later: split and user metrics, computed from the stored tables, no run
    register_metric(
        "bounced_per_1000",
        lambda t: 1000 * float((t.recipients["status"].astype(str) == "bounced").mean()),
    )
    again = sweep(
        QUICKSTART,
        RunOptions(
            overrides=OUTAGE,
            replications=2,
            until=UNTIL,
            metrics=["pending_rate@domain=smallorg.example", small_share, "bounced_per_1000"],
        ),
        vary={"traffic.staff.unknown_users": ["1%", "5%"]},
        out=tmp_path,
    )
    assert (again.ran, again.reused) == (0, 4)
    assert again.metrics == (
        "pending_rate@domain=smallorg.example",
        "small_share",
        "bounced_per_1000",
    )
    # the same numbers as from each run's own tables, run here again by hand
    for record, row in zip(again.records, again.runs.itertuples(), strict=True):
        scenario = load_scenario(QUICKSTART, overrides=list(record.spec.overrides))
        hand = run_tables(simulate(scenario, seed=record.spec.seed, until=UNTIL))
        assert row.small_share == pytest.approx(small_share(hand))
        assert again.runs.loc[row.Index, "pending_rate@domain=smallorg.example"] == pytest.approx(
            metric_value(hand, "pending_rate@domain=smallorg.example")
        )
        assert row.bounced_per_1000 == pytest.approx(1000 * metric_value(hand, "bounce_rate"))
        break  # one run by hand is enough (the others are the same code)
    table = again.table()
    assert set(table["metric"].astype(str)) == set(again.metrics)
    # bounces grow with unknown users: the user metric sees it
    means = table[table["metric"].astype(str) == "bounced_per_1000"]["mean"].to_numpy()
    assert means[1] > means[0] > 0
    # a comparison adds a metric after the fact too
    assert "small_share" in again.format(width=300)
    extra = first.table(["lost_rate@flow=staff"])
    assert list(extra["metric"].astype(str).unique()) == ["lost_rate@flow=staff"]
