"""Shared pieces of the validation tests: the M/M/c relay and Erlang C; running a
scenario and the conservation law every run must obey come from ``model_runs``."""

from __future__ import annotations

import pandas as pd
from model_runs import REPO, STATUSES, check_conservation, run_model

from smtpsim.metrics.result import RunResult

__all__ = [
    "QUICKSTART",
    "STATUSES",
    "check_conservation",
    "erlang_c",
    "frame_by_origin",
    "mmc_scenario",
    "run_model",
]

QUICKSTART = REPO / "scenarios" / "quickstart.yaml"


def mmc_scenario(
    c: int, lam: float, mu: float, stop: float, drain: float, *, record_levels: bool = False
) -> str:
    """A relay that is an M/M/c queue. A flow submits one-recipient messages
    (Poisson arrivals, rate ``lam``) until ``stop``; the relay's queue manager sends
    everything to one next hop (``relayhost``: no DNS) with exactly ``c`` parallel
    deliveries (initial concurrency = concurrency limit = c). The next hop answers at
    once except after the final dot, where it takes an exponential time of mean
    ``1/mu``; links have no latency and a bandwidth so large that transfers take
    nanoseconds. The run goes on ``drain`` seconds after ``stop``."""
    return f"""
name: mmc
description: relay to one next hop with c parallel deliveries = M/M/c
duration: {stop + drain}s
hosts:
  relay:
    role: relay
    accepts: [corp.example]
    postfix:
      relayhost: mx
      initial_destination_concurrency: {c}
      default_destination_concurrency_limit: {c}
    processing: {{greeting: 0s, command: 0s, end_of_data: 0s}}
  mx:
    role: mx
    accepts: [dest.example]
    mailboxes: 100000
    processing: {{greeting: 0s, command: 0s, end_of_data: {{exponential: {{mean: {1 / mu}s}}}}}}
links:
  - {{between: [relay, mx], latency: 0s, bandwidth: 100Gbit/s}}
dns:
  corp.example: {{mx: {{relay: 10}}}}
  dest.example: {{mx: {{mx: 10}}}}
traffic:
  poisson:
    submit_to: relay
    rate: {lam}/s
    stop: {stop}s
    size: 500B
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
    link: {{latency: 0s, bandwidth: 100Gbit/s}}
simulation: {{record_levels: {str(record_levels).lower()}}}
"""


def erlang_c(c: int, lam: float, mu: float) -> tuple[float, float]:
    """Exact M/M/c (Erlang C, as the M/M/c reference model computes it): probability of waiting and
    mean wait in queue."""
    a = lam / mu
    rho = a / c
    assert rho < 1
    term = 1.0
    total = 1.0
    for k in range(1, c):
        term *= a / k
        total += term
    top = term * a / c / (1.0 - rho)
    p_wait = top / (total + top)
    return p_wait, p_wait / (c * mu - lam)


def frame_by_origin(result: RunResult, origin: str) -> pd.DataFrame:
    messages = result.messages
    return messages[messages["origin"].astype(str) == origin].reset_index(drop=True)
