"""Retrieval (issue 13, item 3): a mailbox host's access service and its users' mail
clients, against what theory says a polling or an IDLE client makes people wait.

- A client checking every T, at a phase independent of when mail arrives, makes each
  message wait a uniform share of T: T/2 on average (and never more than T).
- Exponential intervals (a Poisson process of checks) are memoryless: the wait is
  exponential with the same mean T (the inspection paradox).
- IDLE: the wait is the push delay (plus the session's processing).
- An outage of the service delays every fetch until it ends (to the next check; an
  IDLE client's reconnect); congestion stretches the sessions.

The tolerance of each mean is the half-width of its confidence interval from the sample
itself (99 %: z = 2.576, standard error s / sqrt(n)); mailboxes are many, so that two
messages rarely wait for the same check of one user and the waits are close to
independent.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from model_runs import check_conservation, run_model

from smtpsim.metrics.summary import summarize

Z99 = 2.576

SCENARIO = """
name: retrieval
duration: {duration}
hosts:
  out: {{role: mta, accepts: [corp.example]}}
  mx:
    role: mx
    accepts: [example.org]
    mailboxes: 200000
    access: {access}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx, internet], latency: 20ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  example.org: {{mx: {{mx: 10}}}}
traffic:
  staff:
    submit_to: out
    rate: {rate}
    stop: {stop}
    recipients: {{per_message: {{fixed: 1}}, domains: {{example.org: 1}}}}
incidents: {incidents}
"""


def _run(access: str, *, duration="3h", rate="1/s", stop="2h", incidents="[]", seed=1):
    text = SCENARIO.format(
        duration=duration, access=access, rate=rate, stop=stop, incidents=incidents
    )
    return run_model(text, seed=seed)


def _waits(result) -> tuple[pd.DataFrame, np.ndarray]:
    r = result.recipients
    delivered = r[r["status"].astype(str) == "delivered"]
    return delivered, (delivered["t_fetched"] - delivered["t_final"]).to_numpy(dtype=float)


def _assert_mean(sample: np.ndarray, expected: float) -> None:
    n = len(sample)
    half = Z99 * float(sample.std(ddof=1)) / math.sqrt(n)
    mean = float(sample.mean())
    assert abs(mean - expected) <= half, f"mean {mean:.2f} s, expected {expected} ± {half:.2f}"


@pytest.fixture(scope="module")
def polling():
    return _run("{processing: 0s, clients: [{poll: 10min}]}")


def test_polling_every_t_waits_t_over_2_on_average(polling) -> None:
    model, result = polling
    _, wait = _waits(result)
    # the traffic stops at 2 h and the run goes on to 3 h: every delivery has had a
    # whole interval to be fetched, so none is censored
    assert not np.isnan(wait).any() and len(wait) > 5000
    assert (wait >= 0).all() and (wait <= 600.0 + 1e-9).all()
    _assert_mean(wait, 300.0)
    # the uniform's spread too: its standard deviation is T / sqrt(12)
    assert float(wait.std()) == pytest.approx(600.0 / math.sqrt(12), rel=0.05)
    service = model.access["mx"]
    assert service.sessions > 0 and service.failed == 0


def test_exponential_polling_waits_the_whole_mean_interval() -> None:
    _, result = _run(
        "{processing: 0s, clients: [{poll: {exponential: {mean: 5min}}}]}", duration="4h"
    )
    _, wait = _waits(result)
    assert not np.isnan(wait).any()
    _assert_mean(wait, 300.0)  # not 150 s: a random check interval is longer on average


def test_idle_gives_the_push_delay() -> None:
    _, result = _run("{processing: 20ms, clients: [{idle: 3s}]}", duration="2h", stop="1h")
    _, wait = _waits(result)
    np.testing.assert_allclose(wait, 3.02, atol=1e-9)  # told after 3 s, a 20 ms session


def test_idle_with_a_random_push_delay_averages_it() -> None:
    _, result = _run(
        "{processing: 0s, clients: [{idle: {exponential: {mean: 4s}}}]}", duration="2h", stop="1h"
    )
    _, wait = _waits(result)
    _assert_mean(wait, 4.0)


def test_an_outage_delays_fetches_until_it_ends() -> None:
    start, end = 1800.0, 3000.0
    _, result = _run(
        "{processing: 0s, clients: [{share: 0.5, poll: 5min}, {share: 0.5, idle: 2s}]}",
        incidents=f"[{{access_down: mx, at: {start:g}s, until: {end:g}s}}]",
    )
    delivered, wait = _waits(result)
    t_final = delivered["t_final"].to_numpy()
    t_fetched = delivered["t_fetched"].to_numpy()
    assert not np.isnan(t_fetched).any()
    # nothing is fetched while the service is down
    assert not ((t_fetched > start) & (t_fetched < end)).any()
    caught = (t_final > start) & (t_final < end)
    assert caught.sum() > 500
    # mail delivered during the outage is fetched after it, at the next check (5 min)
    # of a polling client or at an IDLE client's reconnect (1 min)
    assert (t_fetched[caught] >= end).all()
    assert (t_fetched[caught] <= end + 300.0 + 1e-9).all()
    # outside the outage's reach, the clients behave as without it
    before = t_final < start - 300.0
    assert (wait[before] <= 300.0 + 1e-9).all()


def test_congestion_stretches_the_sessions() -> None:
    _, result = _run(
        "{processing: 100ms, capacity: 1000, clients: [{idle: 0s}]}",
        duration="1h",
        stop="50min",
        incidents="[{access_slow: {host: mx, factor: 20}, at: 10min, for: 10min}]",
    )
    delivered, wait = _waits(result)
    t_final = delivered["t_final"].to_numpy()
    inside = (t_final > 600.0) & (t_final < 1198.0)
    outside = (t_final < 600.0) | (t_final > 1200.0)
    np.testing.assert_allclose(wait[inside], 2.0, atol=1e-9)  # 100 ms x 20
    np.testing.assert_allclose(wait[outside], 0.1, atol=1e-9)


def test_capacity_makes_sessions_wait_their_turn() -> None:
    # one slot, one second a session, about 2 sessions a second wanted: the fetch
    # queue grows, and a fetch waits behind the ones before it
    _, result = _run(
        "{processing: 1s, capacity: 1, clients: [{idle: 0s}]}",
        duration="20min",
        rate="2/s",
        stop="10min",
    )
    delivered, wait = _waits(result)
    fetched = ~np.isnan(wait)
    assert fetched.any()
    # sessions end one second apart at the least: never two in the same second
    ends = np.unique(delivered["t_fetched"].to_numpy()[fetched])
    assert (np.diff(ends) >= 1.0 - 1e-9).all()
    assert np.nanmax(wait) > 60.0


def test_conservation_and_fetches_only_of_delivered_mail(polling) -> None:
    _, result = polling
    check_conservation(result)
    r = result.recipients
    status = r["status"].astype(str)
    fetched = r["t_fetched"].notna()
    assert (status[fetched] == "delivered").all()
    assert (r.loc[fetched, "t_fetched"] >= r.loc[fetched, "t_final"]).all()


def test_the_summary_counts_the_unfetched_and_the_end_to_end_delay() -> None:
    # the traffic runs to the end: mail delivered in the last minutes is not fetched yet
    _, result = _run("{processing: 0s, clients: [{poll: 15min}]}", duration="1h", stop="1h")
    s = summarize(result.messages, result.recipients, result.attempts, result.levels)
    ret = s["retrieval"]
    r = result.recipients
    delivered = r[r["status"].astype(str) == "delivered"]
    assert ret["delivered"] == s["recipients"]["delivered"] == len(delivered)
    assert ret["fetched"] + ret["not_fetched"] == ret["delivered"]
    assert ret["not_fetched"] == int(delivered["t_fetched"].isna().sum()) > 0
    got = delivered[delivered["t_fetched"].notna()]
    e2e = (got["t_fetched"] - (got["t_final"] - got["delay_s"])).to_numpy()
    assert ret["end_to_end_s"]["p50"] == pytest.approx(float(np.quantile(e2e, 0.5)))
    assert ret["by_domain"]["example.org"]["not_fetched"] == ret["not_fetched"]
    assert any("not yet fetched" in w for w in s["warnings"])


def test_same_seed_same_fetch_times() -> None:
    access = (
        "{processing: {exponential: {mean: 50ms}},"
        " clients: [{poll: {uniform: {low: 1min, high: 9min}}}]}"
    )
    a = _run(access, duration="40min", stop="30min", seed=5)[1].recipients["t_fetched"]
    b = _run(access, duration="40min", stop="30min", seed=5)[1].recipients["t_fetched"]
    np.testing.assert_array_equal(a.to_numpy(), b.to_numpy())
    assert a.notna().sum() > 100


def test_a_run_without_access_service_has_no_retrieval_columns() -> None:
    text = SCENARIO.format(duration="10min", access="null", rate="1/s", stop="5min", incidents="[]")
    _, result = run_model(text)
    assert "t_fetched" not in result.recipients.columns
    s = summarize(result.messages, result.recipients, result.attempts, result.levels)
    assert "retrieval" not in s


def test_experiment_metrics_agree_with_the_summary() -> None:
    from smtpsim.experiment.metrics import metric_kind, metric_value, parse_metric
    from smtpsim.experiment.run_tables import run_tables

    _, result = _run("{processing: 0s, clients: [{poll: 15min}]}", duration="1h", stop="1h")
    s = summarize(result.messages, result.recipients, result.attempts, result.levels)
    tables = run_tables(result)
    ret = s["retrieval"]
    assert metric_value(tables, "e2e_p50") == pytest.approx(ret["end_to_end_s"]["p50"])
    assert metric_value(tables, "e2e_p95@domain=example.org") == pytest.approx(
        ret["end_to_end_s"]["p95"]
    )
    assert metric_value(tables, "fetch_wait_mean") == pytest.approx(ret["fetch_wait_s"]["mean"])
    assert metric_value(tables, "unfetched_rate") == pytest.approx(
        ret["not_fetched"] / ret["delivered"]
    )
    assert metric_kind("e2e_p95") == "delay" and metric_kind("unfetched_rate") == "share"
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric("e2e_p42")
    # without an access service the retrieval metrics are undefined, not 0
    text = SCENARIO.format(duration="10min", access="null", rate="1/s", stop="5min", incidents="[]")
    plain = run_tables(run_model(text)[1])
    assert math.isnan(metric_value(plain, "e2e_p50"))
    assert math.isnan(metric_value(plain, "unfetched_rate"))
