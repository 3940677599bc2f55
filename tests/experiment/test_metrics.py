"""``run_metrics`` and the per-run series, against numbers computed here independently
from the result tables of a short quickstart run with an outage at mx-small (so that
there are deferrals, a deferred queue, expiries and bounces) and a 2-minute warm-up."""

from __future__ import annotations

import math
from bisect import bisect_right
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smtpsim.experiment.metrics import (
    METRICS,
    PROBABILITIES,
    delay_quantiles,
    queue_series,
    run_metrics,
)
from smtpsim.metrics.result import RunResult
from smtpsim.scenario import load_scenario
from smtpsim.simulation import simulate

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
OUTAGE = (
    "warmup=2min",
    "incidents=[{host_down: {host: mx-small, mode: refuse}, at: 3min, for: 12min}]",
    "hosts.out.postfix.maximal_queue_lifetime=5min",
)
WARMUP, END = 120.0, 1200.0


def run(overrides: tuple[str, ...] = OUTAGE, until: float = END) -> RunResult:
    return simulate(load_scenario(QUICKSTART, overrides=overrides), seed=3, until=until)


@pytest.fixture(scope="module")
def result() -> RunResult:
    return run()


def counted_recipients(result: RunResult) -> pd.DataFrame:
    messages = result.messages.set_index("msg_id")
    rcpts = result.recipients.join(messages[["origin", "t_submit"]], on="msg_id")
    return rcpts[(rcpts["origin"].astype(str) != "bounce") & (rcpts["t_submit"] >= WARMUP)]


def level_stats(levels: pd.DataFrame, start: float, end: float) -> tuple[float, float]:
    """Time-weighted mean and max over [start, end] of the sum over hosts of active +
    deferred: each host's queue as its own step function, summed at every instant."""
    rows = levels[levels["metric"].astype(str).isin(["active", "deferred"])]
    steps = {
        key: (list(g["t"]), list(g["value"]))
        for key, g in rows.groupby(["host", "metric"], observed=True)
    }

    def total(at: float) -> float:
        out = 0.0
        for ts, vs in steps.values():
            i = bisect_right(ts, at)
            out += vs[i - 1] if i else 0.0
        return out

    points = sorted({start} | {t for t in rows["t"] if start < t <= end})
    totals = [total(p) for p in points]
    widths = np.diff([*points, end])
    return float(np.dot(totals, widths)) / (end - start), max(totals)


def test_metrics_equal_numbers_from_the_tables(result: RunResult) -> None:
    m = run_metrics(result)
    assert tuple(m) == METRICS
    rcpts = counted_recipients(result)
    n = len(rcpts)
    status = rcpts["status"].astype(str)
    assert n > 1000 and (status == "expired").sum() > 0 and (status == "bounced").sum() > 0
    assert m["delivery_ratio"] == pytest.approx((status == "delivered").sum() / n, rel=1e-12)
    assert m["bounce_rate"] == pytest.approx((status == "bounced").sum() / n, rel=1e-12)
    assert m["expired_rate"] == pytest.approx((status == "expired").sum() / n, rel=1e-12)
    delays = np.sort(rcpts.loc[status == "delivered", "delay_s"].to_numpy())
    for q, name in ((0.5, "delay_p50"), (0.95, "delay_p95"), (0.99, "delay_p99")):
        assert m[name] == pytest.approx(np.percentile(delays, 100 * q), rel=1e-12)
    assert m["attempts_per_recipient"] == pytest.approx(rcpts["attempts"].mean(), rel=1e-12)

    attempts = result.attempts.join(
        result.messages.set_index("msg_id")[["origin", "t_submit"]], on="msg_id"
    )
    attempts = attempts[
        (attempts["origin"].astype(str) != "bounce") & (attempts["t_submit"] >= WARMUP)
    ]
    deferred = (attempts["outcome"].astype(str) == "deferred").mean()
    assert deferred > 0 and m["deferral_rate"] == pytest.approx(deferred, rel=1e-12)

    mean_queue, peak_queue = level_stats(result.levels, WARMUP, END)
    assert peak_queue > 50  # the deferred queue at out during the outage
    assert m["mean_queue"] == pytest.approx(mean_queue, rel=1e-9)
    assert m["peak_queue"] == peak_queue


def test_delay_quantiles_and_queue_series(result: RunResult) -> None:
    m = run_metrics(result)
    quantiles = delay_quantiles(result)
    assert len(quantiles) == len(PROBABILITIES) == 101
    assert quantiles[50] == m["delay_p50"] and quantiles[95] == m["delay_p95"]
    assert quantiles[99] == m["delay_p99"]
    assert list(quantiles) == sorted(quantiles)

    series = queue_series(result)
    assert len(series) == 200
    assert series[0][0] == 0.0 and series[-1][0] == END
    rows = result.levels[result.levels["metric"].astype(str).isin(["active", "deferred"])]
    for t, value in series[::17]:
        held = rows[rows["t"] <= t].groupby(["host", "metric"], observed=True)["value"].last()
        assert value == float(held.sum())


def test_undefined_metrics_are_nan_and_no_levels_give_zero() -> None:
    # Stopped before the first delivery: recipients submitted, none delivered.
    early = run(overrides=(), until=0.85)
    m = run_metrics(early)
    assert m["delivery_ratio"] == 0.0
    assert all(math.isnan(m[k]) for k in ("delay_p50", "delay_p95", "delay_p99"))
    assert delay_quantiles(early) == ()
    # Before the first message: nothing at all.
    m = run_metrics(run(overrides=(), until=0.5))
    assert math.isnan(m["delivery_ratio"]) and math.isnan(m["bounce_rate"])
    assert m["mean_queue"] == 0.0 and m["peak_queue"] == 0.0
    # Levels not recorded: the queue metrics are 0.
    quiet = run(overrides=("simulation.record_levels=false",), until=120.0)
    assert quiet.levels.empty
    m = run_metrics(quiet)
    assert (m["mean_queue"], m["peak_queue"]) == (0.0, 0.0)
    assert m["delivery_ratio"] > 0.9
