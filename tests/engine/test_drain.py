"""``simulation.drain`` (``--drain``): the traffic stops at the end, and the run goes on
until no recipient is pending, or until ``simulation.drain_limit``; issue 8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smtpsim.experiment.metrics import run_metrics
from smtpsim.scenario import load_scenario
from smtpsim.simulation import simulate

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
# mx-small refuses connections from minute 3 to 15: its mail is deferred at `out`,
# and some of it expires there after 5 minutes in the queue
OUTAGE = (
    "incidents=[{host_down: {host: mx-small, mode: refuse}, at: 3min, for: 12min}]",
    "hosts.out.postfix.maximal_queue_lifetime=5min",
)
END = 600.0


def run(*extra: str, drain: bool | None = None):
    scenario = load_scenario(QUICKSTART, overrides=[*OUTAGE, *extra])
    return simulate(scenario, seed=5, until=END, drain=drain)


@pytest.fixture(scope="module")
def pair():
    return run(), run(drain=True)


def test_a_drained_run_empties_every_queue(pair) -> None:
    plain, drained = pair
    assert (plain.recipients["status"].astype(str) == "pending").sum() > 20
    status = drained.recipients["status"].astype(str)
    assert (status == "pending").sum() == 0  # bounce notices included
    assert np.isfinite(drained.recipients["t_final"]).all()
    # every host's active and deferred queue ends at 0
    levels = drained.levels[drained.levels["metric"].astype(str).isin(["active", "deferred"])]
    last = (
        levels.sort_values("t", kind="stable")
        .groupby(["host", "metric"], observed=True)["value"]
        .last()
    )
    assert (last == 0).all()
    meta = drained.meta
    assert meta["drain"] is True and meta["until_s"] == END
    assert meta["drained_at_s"] == meta["sim_time_s"] > END
    assert meta["drained_at_s"] == pytest.approx(float(drained.recipients["t_final"].max()))
    s = drained.summary()
    assert s["pending_rate"] == 0.0 and s["warnings"] == []
    assert s["run"] == {
        "end_s": meta["sim_time_s"],
        "traffic_end_s": END,
        "drain": True,
        "drain_limit_s": 864000.0,
        "drained": True,
        "drained_at_s": meta["drained_at_s"],
        "pending_at_end": 0,
    }
    assert s["delivery_ratio"] + s["bounce_rate"] + s["expired_rate"] + s[
        "lost_rate"
    ] == pytest.approx(1.0)
    assert s["expired_rate"] > 0  # mail for smallorg expired at out during the drain


def test_no_arrival_after_the_end_and_the_same_run_before_it(pair) -> None:
    plain, drained = pair
    submitted = drained.messages[drained.messages["origin"].astype(str) != "bounce"]
    assert submitted["t_submit"].max() < END
    # up to the end a drained run is the plain run: same messages, same attempts
    flows = plain.messages[plain.messages["origin"].astype(str) != "bounce"]
    pd.testing.assert_frame_equal(flows.reset_index(drop=True), submitted.reset_index(drop=True))
    # (the plain run's attempts table is the start of the drained one's; compared by
    # value, as a phase such as "qmgr" may first occur after the end)
    pd.testing.assert_frame_equal(
        drained.attempts.iloc[: len(plain.attempts)], plain.attempts, check_categorical=False
    )
    # the queue metrics keep the traffic window [warm-up, end]: equal with and without
    a, b = run_metrics(plain), run_metrics(drained)
    assert a["mean_queue"] == pytest.approx(b["mean_queue"])
    assert a["peak_queue"] == b["peak_queue"]
    assert b["pending_rate"] == 0.0 < a["pending_rate"]
    assert b["delivery_ratio"] > a["delivery_ratio"]


def test_the_drain_stops_at_its_limit_and_says_so() -> None:
    # mx-small down for two hours, a lifetime of 5 days: its mail cannot settle in 1 min
    result = run(
        "incidents=[{host_down: {host: mx-small, mode: refuse}, at: 3min, for: 2h}]",
        "hosts.out.postfix.maximal_queue_lifetime=5d",
        "simulation.drain_limit=1min",
        drain=True,
    )
    meta = result.meta
    assert meta["drained_at_s"] is None and meta["sim_time_s"] == END + 60.0
    s = result.summary()
    assert s["run"]["drained"] is False and s["recipients"]["pending"] > 0
    assert len(s["warnings"]) == 1 and "drain stopped at its limit" in s["warnings"][0]


def test_the_scenario_setting_turns_it_on() -> None:
    result = run("simulation.drain=true")
    assert result.meta["drain"] is True and result.meta["drained_at_s"] is not None
    assert run().meta["drain"] is False
