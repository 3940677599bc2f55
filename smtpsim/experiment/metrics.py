"""The numbers of one run that an experiment compares across replications.

One flat ``dict[str, float]`` per run, so that replications can be averaged metric by
metric and confidence intervals put on them (``smtpsim.experiment.stats``). Each value
is computed after the warm-up (``result.meta["warmup_s"]``), over the recipients of
messages submitted at or after it (bounce messages left out), like
``RunResult.summary()``, which gives most of them. NaN marks a metric undefined in the
run; the statistics leave such values out.

``delivery_ratio``
    delivered recipients / submitted recipients.
``bounce_rate``
    bounced recipients / submitted recipients (5xx: rejected for good).
``expired_rate``
    expired recipients / submitted recipients (still undeliverable at
    ``maximal_queue_lifetime``).
``deferral_rate``
    the share of SMTP delivery attempts (all hops) that ended deferred (4xx, timeouts,
    lost connections); NaN without attempts, or when attempts were not recorded.
``delay_p50``, ``delay_p95``, ``delay_p99``
    percentiles of the submission-to-mailbox delay of delivered recipients, in seconds
    (linear interpolation, ``numpy.quantile``); NaN when none was delivered.
``mean_queue``
    the time-weighted mean, over [warm-up, end], of the number of messages queued in the
    network: the sum over every host of the ``levels`` table (the traffic sources'
    client hosts ``traffic.NAME`` included) of its ``active`` and ``deferred`` queues,
    each value held until the next change. 0 when the levels table is empty
    (``simulation.record_levels: false``, or nothing happened).
``peak_queue``
    the largest value of that same sum over [warm-up, end].
``attempts_per_recipient``
    SMTP delivery attempts per submitted recipient, all hops included.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..metrics.result import RunResult

__all__ = ["METRICS", "PROBABILITIES", "delay_quantiles", "delivered_delays", "queue_series",
           "queue_total", "run_metrics"]

METRICS: tuple[str, ...] = (
    "delivery_ratio",
    "bounce_rate",
    "expired_rate",
    "deferral_rate",
    "delay_p50",
    "delay_p95",
    "delay_p99",
    "mean_queue",
    "peak_queue",
    "attempts_per_recipient",
)

PROBABILITIES: tuple[float, ...] = tuple(i / 100 for i in range(101))
"""The probabilities of ``delay_quantiles``: 0, 0.01, ..., 1 (exact decimals)."""

_QUEUES = ("active", "deferred")


def _number(value: object) -> float:
    return math.nan if value is None else float(value)  # type: ignore[arg-type]


def _end(result: RunResult) -> float:
    """The simulated time the run stopped at."""
    meta = result.meta
    return float(meta.get("until_s", meta.get("sim_time_s", 0.0)))


def run_metrics(result: RunResult) -> dict[str, float]:
    """The :data:`METRICS` of one run, in that order (see the module's docstring)."""
    summary = result.summary()
    counts = summary["recipients"]
    submitted = counts["submitted"]
    delay = summary["delay_s"]
    mean_queue, peak_queue = _queue_stats(result)
    return {
        "delivery_ratio": _number(summary["delivery_ratio"]),
        "bounce_rate": _number(summary["bounce_rate"]),
        "expired_rate": counts["expired"] / submitted if submitted else math.nan,
        "deferral_rate": _number(summary["deferral_rate"]),
        "delay_p50": _number(delay["p50"]),
        "delay_p95": _number(delay["p95"]),
        "delay_p99": _number(delay["p99"]),
        "mean_queue": mean_queue,
        "peak_queue": peak_queue,
        "attempts_per_recipient": _number(summary["attempts_per_recipient"]),
    }


def queue_total(levels: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The total of every host's ``active`` and ``deferred`` queue as a step function.

    Returns ``(times, totals)``: increasing change times and the total from each of them
    until the next (0 before the first). Each row of ``levels`` is the new value of one
    host's queue, so the total moves by the difference from that queue's previous value.
    """
    rows = levels[levels["metric"].astype(str).isin(_QUEUES)]
    if rows.empty:
        return np.array([], dtype=float), np.array([], dtype=float)
    rows = rows.sort_values("t", kind="stable")
    series = [rows["host"].astype(str), rows["metric"].astype(str)]
    value = rows["value"].astype("float64")
    previous = value.groupby(series).shift(1).fillna(0.0)
    totals = (value - previous).cumsum().to_numpy()
    times = rows["t"].to_numpy(dtype=float)
    last = np.append(times[1:] != times[:-1], True)  # the last change at each instant
    return times[last], totals[last]


def _level_at(times: np.ndarray, totals: np.ndarray, at: np.ndarray) -> np.ndarray:
    index = np.searchsorted(times, at, side="right") - 1
    return np.where(index >= 0, totals[np.maximum(index, 0)], 0.0) if len(times) else \
        np.zeros(len(at))


def _queue_stats(result: RunResult) -> tuple[float, float]:
    """``mean_queue`` and ``peak_queue``."""
    times, totals = queue_total(result.levels)
    if not len(times):
        return 0.0, 0.0
    start, end = float(result.meta.get("warmup_s", 0.0)), _end(result)
    if end <= start:
        return math.nan, math.nan
    inside = (times > start) & (times <= end)
    values = np.concatenate([_level_at(times, totals, np.array([start])), totals[inside]])
    edges = np.concatenate([[start], times[inside], [end]])
    mean = float(np.sum(values * np.diff(edges)) / (end - start))
    return mean, float(values.max())


def delivered_delays(result: RunResult) -> np.ndarray:
    """The delays (``delay_s``) of the delivered recipients counted by the metrics:
    of messages submitted at or after the warm-up, bounce messages left out."""
    warmup = float(result.meta.get("warmup_s", 0.0))
    messages, recipients = result.messages, result.recipients
    counted = ((messages["origin"].astype(str) != "bounce")
               & (messages["t_submit"] >= warmup)).to_numpy()
    if not len(recipients):
        return np.array([], dtype=float)
    keep = counted[recipients["msg_id"].to_numpy()] \
        & (recipients["status"].astype(str) == "delivered").to_numpy()
    delays: np.ndarray = recipients["delay_s"].to_numpy(dtype=float)[keep]
    return delays


def delay_quantiles(result: RunResult) -> tuple[float, ...]:
    """The delivered recipients' delays at :data:`PROBABILITIES` (for CDF bands across
    replications); empty when none was delivered. Entry 50 equals ``delay_p50``."""
    delays = delivered_delays(result)
    if not len(delays):
        return ()
    return tuple(float(q) for q in np.quantile(delays, PROBABILITIES))


def queue_series(result: RunResult, points: int = 200) -> tuple[tuple[float, float], ...]:
    """``(t, total queued)`` on ``points`` evenly spaced times over [0, end], the total
    being that of ``queue_total`` (for queue bands across replications)."""
    grid = np.linspace(0.0, _end(result), points)
    times, totals = queue_total(result.levels)
    values = _level_at(times, totals, grid)
    return tuple((float(t), float(v)) for t, v in zip(grid, values, strict=True))
