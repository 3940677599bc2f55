"""Little's law, L = lambda W (docs/architecture.md, section 7, "validation against
theory"), on the relay of ``validation_helpers.mmc_scenario``.

Two records of one queue that the simulator keeps apart are held against each other:

- L, the time-weighted mean number of messages in the relay's queue (active +
  deferred) from the ``levels`` table, over the window [warm-up, stop), computed as
  the experiment metric ``mean_queue@host=relay`` computes it
  (``smtpsim.experiment.run_tables``: ``queue_total``, ``time_average``);
- lambda W, from the ``attempts`` table: the messages that reached the relay in the
  window, per second, times their mean time in it, which is the delay split of their
  attempt (``queue_s + conn_s + xfer_s``: arrival in the relay's queue to the end
  of the delivery, Postfix's delays=a/b/c/d).

Little's law holds on every sample path up to the messages that straddle the
window's edges; in a stationary queue those terms cancel on average. So over R
replications the 99 % confidence interval of the difference L - lambda W must
contain 0, and be narrow next to L (a test that cannot pass by being vague). The
queue is M/M/c, so L must also match Erlang C's lambda (Wq + 1/mu) within the 99 %
interval of L.
"""

from __future__ import annotations

import numpy as np
from validation_helpers import check_conservation, erlang_c, mmc_scenario, run_model

from smtpsim.experiment.run_tables import queue_total, time_average
from smtpsim.experiment.stats import mean_ci
from smtpsim.metrics.result import RunResult

C = 2
MU = 1.0
LAM = 0.6 * C * MU
WARMUP = 200.0
STOP = 1800.0  # about 1900 arrivals in the window per replication
DRAIN = 300.0
REPLICATIONS = 10
HOST = "relay"


def little(result: RunResult) -> tuple[float, float]:
    """L from the levels table, lambda W from the attempts table, over [WARMUP, STOP)."""
    levels = result.levels
    L, _ = time_average(*queue_total(levels[levels["host"].astype(str) == HOST]), WARMUP, STOP)
    attempts = result.attempts
    mine = attempts[attempts["host"].astype(str) == HOST]
    assert mine["msg_id"].is_unique  # one attempt per message: W is one attempt's split
    sojourn = (mine["queue_s"] + mine["conn_s"] + mine["xfer_s"]).to_numpy()
    arrival = mine["t_end"].to_numpy() - sojourn
    inside = (arrival >= WARMUP) & (arrival < STOP)
    lam = inside.sum() / (STOP - WARMUP)
    return L, lam * float(sojourn[inside].mean())


def test_littles_law_on_the_relay_queue() -> None:
    scenario = mmc_scenario(C, LAM, MU, STOP, DRAIN, record_levels=True)
    queue, differences = [], []
    for seed in range(1, REPLICATIONS + 1):
        _, result = run_model(scenario, seed=seed)
        counts = check_conservation(result)
        assert counts["delivered"] == len(result.recipients)  # nothing left queued
        L, lam_w = little(result)
        queue.append(L)
        differences.append(L - lam_w)
    mean_l, half_l = mean_ci(queue, 0.99)
    gap, half = mean_ci(differences, 0.99)
    assert half < 0.01 * mean_l, f"the CI is too wide to mean anything: {gap:.4f} +- {half:.4f}"
    assert abs(gap) <= half, f"L - lambda W = {gap:.4f} +- {half:.4f} (L = {mean_l:.3f})"
    _, wq = erlang_c(C, LAM, MU)
    theory = LAM * (wq + 1.0 / MU)
    assert half_l < 0.15 * theory  # as test_mmc.py holds Wq
    assert abs(mean_l - theory) <= half_l, (
        f"L = {mean_l:.3f} +- {half_l:.3f}, Erlang C {theory:.3f}"
    )


def test_the_window_counts_a_queue_as_little_says() -> None:
    """The two sides on a queue worked by hand: one message in [0, 10) for 4 s at a
    time, every 5 s, gives L = 0.8 = (2 per 10 s) x 4 s."""
    times = np.array([0.0, 4.0, 5.0, 9.0])
    levels = np.array([1.0, 0.0, 1.0, 0.0])
    assert time_average(times, levels, 0.0, 10.0)[0] == 2 / 10 * 4
