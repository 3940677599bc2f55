"""Student-t quantiles against published tables, confidence intervals by hand and by
their coverage, and the sequential stopping rule."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from smtpsim.experiment.stats import (
    mean_ci,
    needs_more,
    paired_difference,
    share_ci,
    t_quantile,
)

# (p, df, quantile): NIST/SEMATECH e-Handbook table 1.3.6.7.2 and R's qt() to 15 digits.
KNOWN = [
    (0.975, 1, 12.706204736174703),
    (0.975, 2, 4.302652729749464),
    (0.975, 3, 3.182446305284263),
    (0.975, 4, 2.776445105197799),
    (0.975, 5, 2.570581835636314),
    (0.975, 9, 2.262157162798205),
    (0.975, 10, 2.228138851986274),
    (0.975, 30, 2.042272456301238),
    (0.975, 100, 1.983971518523552),
    (0.95, 1, 6.313751514675041),
    (0.95, 9, 1.833112932656237),
    (0.95, 20, 1.724718242920787),
    (0.995, 3, 5.840909309733355),
    (0.995, 29, 2.756385903670335),
    (0.9, 7, 1.414923949420177),
    (0.9995, 4, 8.610301581827),
]


@pytest.mark.parametrize(("p", "df", "expected"), KNOWN)
def test_t_quantile_matches_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-6)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-6)


def _t_cdf_by_simpson(t: float, df: int, n: int = 20_000) -> float:
    """P(T <= t) for t >= 0 by Simpson's rule on the density: an independent check."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    xs = np.linspace(0.0, t, n + 1)
    ys = c * (1 + xs**2 / df) ** (-(df + 1) / 2)
    h = t / n
    return 0.5 + h / 3 * float(ys[0] + ys[-1] + 4 * ys[1:-1:2].sum() + 2 * ys[2:-1:2].sum())


@pytest.mark.parametrize(("p", "df"), [(0.6, 12), (0.75, 5), (0.9, 3), (0.99, 17), (0.8, 250)])
def test_t_quantile_inverts_the_integrated_density(p: float, df: int) -> None:
    assert _t_cdf_by_simpson(t_quantile(p, df), df) == pytest.approx(p, abs=1e-9)


def test_t_quantile_tends_to_the_normal_and_is_monotone() -> None:
    assert t_quantile(0.5, 7) == 0.0
    assert t_quantile(0.975, 10**7) == pytest.approx(1.959963984540054, abs=1e-6)
    # continuous where the method changes (incomplete beta below 1e5 df, expansion above)
    assert t_quantile(0.975, 100_000) == pytest.approx(t_quantile(0.975, 100_001), abs=1e-8)
    values = [t_quantile(0.975, df) for df in range(1, 60)]
    assert all(a > b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(("p", "df"), [(0.0, 3), (1.0, 3), (0.5, 0), (1.5, 2)])
def test_t_quantile_rejects_bad_arguments(p: float, df: int) -> None:
    with pytest.raises(ValueError):
        t_quantile(p, df)


def test_mean_ci_by_hand_and_ignores_nan() -> None:
    values = [1.0, 2.0, 3.0, 4.0, math.nan]
    mean, half = mean_ci(values)
    s = math.sqrt(sum((x - 2.5) ** 2 for x in values[:4]) / 3)
    assert mean == 2.5
    assert half == pytest.approx(3.182446305284263 * s / 2.0, rel=1e-12)
    assert mean_ci([5.0])[0] == 5.0 and math.isnan(mean_ci([5.0, math.nan])[1])
    assert all(math.isnan(x) for x in mean_ci([]))
    assert mean_ci([3.0, 3.0, 3.0]) == (3.0, 0.0)


def test_mean_ci_covers_the_true_mean_at_the_nominal_rate() -> None:
    # 4000 samples of 5 normal values: with the t quantile the 95 % interval covers the
    # mean 95 % of the time; with the normal's 1.96 it would cover only about 88 %.
    rng = np.random.default_rng(20240601)
    samples = rng.normal(10.0, 3.0, size=(4000, 5))
    covered = 0
    for sample in samples:
        mean, half = mean_ci(sample.tolist())
        covered += abs(mean - 10.0) <= half
    assert covered / len(samples) == pytest.approx(0.95, abs=0.015)


def test_paired_difference_uses_the_differences() -> None:
    # Two configurations that share noise (common random numbers): the differences are
    # nearly constant, so the paired interval is much narrower than either one's.
    rng = np.random.default_rng(7)
    noise = rng.normal(0.0, 5.0, size=20)
    a, b = (100.0 + noise).tolist(), (99.0 + noise + rng.normal(0, 0.1, 20)).tolist()
    mean, half = paired_difference(a, b)
    assert mean == pytest.approx(1.0, abs=0.1)
    assert half < mean_ci(a)[1] / 10
    assert paired_difference([1.0, 2.0, math.nan], [0.0, 0.0, 1.0]) == mean_ci([1.0, 2.0])
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def test_needs_more_follows_the_relative_precision_rule() -> None:
    assert needs_more({"a": [1.0]}, 0.1)  # fewer than two replications
    tight = [10.0, 10.1, 9.9, 10.0, 10.05]
    loose = [10.0, 14.0, 6.0, 12.0, 8.0]
    assert not needs_more({"tight": tight}, 0.05)
    assert needs_more({"tight": tight, "loose": loose}, 0.05)
    assert not needs_more({"loose": loose}, 0.5)
    assert not needs_more({"zero": [0.0, 0.0, 0.0]}, 0.01)  # mean 0: absolute check
    assert needs_more({"zero": [-1.0, 1.0, 0.0]}, 0.01)
    assert not needs_more({"undefined": [math.nan, math.nan, math.nan]}, 0.01)
    assert not needs_more({}, 0.1)


def test_share_ci_by_hand_inside_zero_one_and_asymmetric() -> None:
    values = [0.0, 0.004, 0.001, 0.0, 0.002]
    mean, half = mean_ci(values)
    assert mean - half < 0  # the symmetric interval leaves [0, 1]
    m, low, high = share_ci(values)
    assert m == mean
    t = t_quantile(0.975, 4)
    n_eff = mean * (1 - mean) / (half / t) ** 2  # binomial variance / the observed one
    centre = (mean + t * t / (2 * n_eff)) / (1 + t * t / n_eff)
    spread = (
        t / (1 + t * t / n_eff) * math.sqrt(mean * (1 - mean) / n_eff + t * t / (4 * n_eff * n_eff))
    )
    assert (low, high) == pytest.approx((centre - spread, centre + spread), rel=1e-12)
    assert 0 < low < mean < high < 1
    assert high - mean > mean - low  # longer towards the middle
    # near 1 the other way round
    m, low, high = share_ci([1 - v for v in values])
    assert 0 < low < m < high < 1 and m - low > high - m
    # all the same: the point; too few values: NaN bounds
    assert share_ci([0.0, 0.0, 0.0]) == (0.0, 0.0, 0.0)
    assert share_ci([1.0, 1.0]) == (1.0, 1.0, 1.0)
    m, low, high = share_ci([0.3])
    assert m == 0.3 and math.isnan(low) and math.isnan(high)
    # one replication at the boundary: still a narrow interval near it, inside [0, 1]
    m, low, high = share_ci([1.0, 0.99983])
    assert 0.98 < low < m < high <= 1.0


def test_share_ci_covers_small_shares_where_the_t_interval_does_not() -> None:
    """Replications of a share near 1 %: binomial counts of 1,000 recipients around a
    share that itself varies between replications (as a run's load does). The Wilson
    interval keeps about its nominal 95 %; the symmetric t interval falls short."""
    rng = np.random.default_rng(2024)
    p, trials, reps = 0.01, 3000, 5
    wilson_hits = t_hits = 0
    for _ in range(trials):
        shares = rng.binomial(1000, rng.beta(p * 200, (1 - p) * 200, reps)) / 1000
        _, low, high = share_ci(shares)
        wilson_hits += low <= p <= high
        assert 0 <= low <= high <= 1
        mean, half = mean_ci(shares)
        t_hits += mean - half <= p <= mean + half
    assert 0.93 <= wilson_hits / trials <= 0.97
    assert t_hits / trials < wilson_hits / trials - 0.01
