"""Shared pieces of the validation tests: running a scenario with incidents scripted
as SimPy processes, and the conservation law every run must obey."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model, build

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "scenarios" / "quickstart.yaml"
STATUSES = ("delivered", "bounced", "expired", "lost", "pending")


def run_model(
    source: str | Path,
    *,
    seed: int = 1,
    until: float | None = None,
    overrides: Sequence[str] = (),
    setup: Callable[[Model], Any] | None = None,
) -> tuple[Model, RunResult]:
    """Load ``source`` (a path or YAML text), build it, let ``setup(model)`` add
    processes (outages...), run to ``until`` and return the model and its tables."""
    scenario = smtpsim.load_scenario(source, overrides=list(overrides))
    model = build(scenario, seed)
    if setup is not None:
        setup(model)
    model.run(until)
    meta = {"warmup_s": float(scenario.warmup), "seed": seed}
    return model, RunResult.from_recorder(model.recorder, meta)


def check_conservation(result: RunResult) -> dict[str, int]:
    """Every recipient of every message (bounces included) is in exactly one of the
    five statuses; final ones have a time and a non-negative delay, pending ones
    have neither. Returns the counts per status."""
    messages, rcpts = result.messages, result.recipients
    # one row per (message, recipient), and as many rows per message as it has recipients
    assert not rcpts.duplicated(["msg_id", "rcpt"]).any()
    per_message = rcpts.groupby("msg_id").size().reindex(messages["msg_id"], fill_value=0)
    np.testing.assert_array_equal(per_message.to_numpy(), messages["n_rcpt"].to_numpy())
    status = rcpts["status"].astype(str)
    assert set(status.unique()) <= set(STATUSES)
    counts = {s: int((status == s).sum()) for s in STATUSES}
    assert sum(counts.values()) == int(messages["n_rcpt"].sum()) == len(rcpts)
    final = rcpts[status != "pending"]
    pending = rcpts[status == "pending"]
    assert final["t_final"].notna().all() and final["delay_s"].notna().all()
    assert (final["delay_s"] >= 0).all()
    t_submit = messages.set_index("msg_id")["t_submit"]
    np.testing.assert_allclose(
        final["delay_s"].to_numpy(),
        final["t_final"].to_numpy() - t_submit.loc[final["msg_id"]].to_numpy(),
    )
    assert pending["t_final"].isna().all() and pending["delay_s"].isna().all()
    # docs/results.md: dsn is 2.0.0 when delivered
    delivered = rcpts[status == "delivered"]
    assert (delivered["dsn"].astype(str) == "2.0.0").all()
    return counts


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


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom, by
    bisection on its CDF (Simpson's rule on the density); no scipy needed."""
    norm = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(x: float) -> float:
        return norm * (1.0 + x * x / df) ** (-(df + 1) / 2)

    def cdf(x: float) -> float:
        n = 2000
        h = x / n
        s = density(0.0) + density(x)
        s += 4.0 * sum(density((2 * i - 1) * h) for i in range(1, n // 2 + 1))
        s += 2.0 * sum(density(2 * i * h) for i in range(1, n // 2))
        return 0.5 + s * h / 3.0

    lo, hi = 0.0, 100.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def t_interval(values: Sequence[float], level: float = 0.99) -> tuple[float, float]:
    """Mean and half-width of the t-based ``level`` confidence interval."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    half = t_quantile(0.5 + level / 2, n - 1) * float(x.std(ddof=1)) / math.sqrt(n)
    return float(x.mean()), half


def frame_by_origin(result: RunResult, origin: str) -> pd.DataFrame:
    messages = result.messages
    return messages[messages["origin"].astype(str) == origin].reset_index(drop=True)
