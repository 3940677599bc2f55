"""M/M/c against Erlang C (docs/architecture.md, section 7, "validation against theory").

The relay of ``validation_helpers.mmc_scenario`` is an M/M/c queue: ``queue_s`` of
the relay's attempts (arrival in the relay's queue to the start of the delivery) is
the wait in queue, whose mean is Erlang C's Wq.

R replications with different seeds; each drops a warm-up and keeps the messages
submitted before the flow stops (the run goes on until every one is delivered, so
no wait is cut short). The test asserts that the t-based 99 % confidence interval
of the mean wait over the replications contains Wq (likewise for the probability of
waiting), and that the interval is tight enough not to pass by being wide.
"""

from __future__ import annotations

import pytest
from validation_helpers import check_conservation, erlang_c, mmc_scenario, run_model

from smtpsim.experiment.stats import mean_ci

C = 2
RHO = 0.7
MU = 1.0
LAM = RHO * C * MU
WARMUP = 200.0
STOP = 2500.0  # about 3500 arrivals per replication
DRAIN = 300.0  # more than enough for the queue to empty after the flow stops
REPLICATIONS = 20

SCENARIO = mmc_scenario(C, LAM, MU, STOP, DRAIN)


def test_erlang_c_reference_values() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda)
    p, wq = erlang_c(1, 0.5, 1.0)
    assert p == pytest.approx(0.5) and wq == pytest.approx(1.0)
    # M/M/2 at a = 1: P(wait) = 1/3, Wq = P / (2 mu - lambda) = 1/3
    p, wq = erlang_c(2, 1.0, 1.0)
    assert p == pytest.approx(1 / 3) and wq == pytest.approx(1 / 3)


def test_relay_to_one_mx_is_mmc() -> None:
    p_wait, wq = erlang_c(C, LAM, MU)
    mean_waits: list[float] = []
    shares_waiting: list[float] = []
    for seed in range(1, REPLICATIONS + 1):
        _, result = run_model(SCENARIO, seed=seed)
        counts = check_conservation(result)
        # every message got through, first time: nothing bounced, expired or still queued
        assert counts["delivered"] == len(result.recipients)
        attempts = result.attempts
        at_relay = attempts[attempts["host"].astype(str) == "relay"]
        assert (at_relay["outcome"].astype(str) == "sent").all()
        assert (at_relay["peer"].astype(str) == "mx").all()
        assert at_relay["msg_id"].is_unique  # one attempt per message: no deferral
        assert len(at_relay) == len(result.messages)
        t_submit = result.messages.set_index("msg_id")["t_submit"]
        kept = at_relay[t_submit.loc[at_relay["msg_id"]].to_numpy() >= WARMUP]
        assert len(kept) > 3000
        waits = kept["queue_s"].to_numpy()
        assert (waits >= 0).all()
        mean_waits.append(float(waits.mean()))
        shares_waiting.append(float((waits > 0).mean()))

    mean, half = mean_ci(mean_waits, 0.99)
    assert half < 0.15 * wq, f"the CI is too wide to mean anything: {mean:.4f} +- {half:.4f}"
    assert mean - half <= wq <= mean + half, (
        f"Erlang C Wq = {wq:.4f} is outside the 99 % CI {mean:.4f} +- {half:.4f}"
    )
    share, share_half = mean_ci(shares_waiting, 0.99)
    assert share_half < 0.05
    assert share - share_half <= p_wait <= share + share_half, (
        f"Erlang C P(wait) = {p_wait:.4f} is outside the 99 % CI {share:.4f} +- {share_half:.4f}"
    )
