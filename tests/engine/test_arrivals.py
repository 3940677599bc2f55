"""Arrivals on their own (``smtpsim.workload.arrivals``): a Poisson process whose rate
varies with time, made by thinning (Lewis and Shedler, 1979), gives in every window
as many arrivals on average as the rate profile's integral, ``expected_count``.

The tolerance is the confidence interval of the mean count over independent seeds
(``smtpsim.experiment.stats.mean_ci``): a profile that kept the wrong candidates, or
kept them all, misses it by many half-widths."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import smtpsim
from smtpsim.experiment.stats import mean_ci
from smtpsim.sim import Streams
from smtpsim.workload.arrivals import burst_times, poisson_times

SEEDS = range(1, 121)
CONFIDENCE = 0.999  # per window: a few windows per profile, each must hold


def _profile(rate: str):
    """The rate profile a scenario's flow gets from ``rate: ...`` (the YAML forms)."""
    scenario = smtpsim.load_scenario(f"""
name: arrivals
duration: 1d
hosts: {{out: {{role: mta, accepts: [corp.example]}}}}
dns: {{corp.example: {{mx: {{out: 10}}}}}}
traffic:
  t:
    submit_to: out
    rate: {rate}
    recipients: {{per_message: {{fixed: 1}}, domains: {{corp.example: 1}}}}
""")
    return scenario.traffic["t"].rate


def _counts(profile, start: float, stop: float, edges: list[float]) -> np.ndarray:
    """Arrivals per window (``edges``) in ``[start, stop)``, one row per seed."""
    rows = []
    for seed in SEEDS:
        rng = Streams(seed).generator("workload.t.arrivals")
        times = np.fromiter(poisson_times(profile, rng, start, stop), dtype=float)
        assert np.all(np.diff(times) > 0) and times.min() >= start and times.max() < stop
        rows.append(np.histogram(times, bins=edges)[0])
    return np.array(rows)


@pytest.mark.parametrize(
    ("rate", "start", "stop", "edges"),
    [
        ("2/s", 0.0, 600.0, [0.0, 300.0, 600.0]),
        (
            "{piecewise: [{at: 0, rate: 0.5/s}, {at: 150s, rate: 3/s}, {at: 300s, rate: 0},"
            " {at: 450s, rate: 1/s}]}",
            0.0,
            600.0,
            [0.0, 150.0, 300.0, 450.0, 600.0],
        ),
        # a window that starts and ends inside steps
        (
            "{piecewise: [{at: 0, rate: 0.5/s}, {at: 150s, rate: 3/s}]}",
            100.0,
            400.0,
            [100.0, 150.0, 275.0, 400.0],
        ),
        (
            "{diurnal: {peak: 0.05/s, trough: 0.005/s, peak_at: '10:00'}}",
            0.0,
            86400.0,
            [0.0, 21600.0, 43200.0, 64800.0, 86400.0],
        ),
    ],
)
def test_thinning_gives_the_expected_count_in_every_window(
    rate: str, start: float, stop: float, edges: list[float]
) -> None:
    profile = _profile(rate)
    counts = _counts(profile, start, stop, edges)
    for k, (lo, hi) in enumerate(itertools.pairwise(edges)):
        expected = profile.expected_count(lo, hi)
        if expected == 0:  # a zero rate keeps no candidate at all
            assert counts[:, k].sum() == 0, (lo, hi)
            continue
        mean, half = mean_ci(counts[:, k], CONFIDENCE)
        assert abs(mean - expected) <= half, (lo, hi, mean, half, expected)
        # and the spread of a Poisson count: its variance is its mean (the interval
        # of a sample variance of n counts is about +-3.3 sqrt(2/n) at this level)
        assert counts[:, k].var(ddof=1) / expected == pytest.approx(1.0, abs=0.5), (lo, hi)


def test_no_arrivals_without_a_rate_or_a_window() -> None:
    rng = Streams(1).generator("workload.t.arrivals")
    later = _profile("{piecewise: [{at: 0, rate: 0}, {at: 1h, rate: 5/s}]}")
    assert list(poisson_times(later, rng, 0.0, 3600.0)) == []
    assert list(poisson_times(_profile("2/s"), rng, 600.0, 600.0)) == []


def test_a_burst_is_at_its_time_or_spread_over_its_window() -> None:
    rng = Streams(1).generator("workload.t.bursts")
    assert burst_times(60.0, 3, 0.0, rng) == [60.0, 60.0, 60.0]
    spread = burst_times(60.0, 1000, 30.0, rng)
    assert spread == sorted(spread) and min(spread) >= 60.0 and max(spread) < 90.0
    # uniform: each third of the window holds about a third (binomial, 4 sd)
    thirds = np.histogram(spread, bins=[60.0, 70.0, 80.0, 90.0])[0]
    assert np.all(np.abs(thirds - 1000 / 3) <= 4 * np.sqrt(1000 * 1 / 3 * 2 / 3))
