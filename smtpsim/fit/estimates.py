"""The statistics the fitter needs, with their uncertainty: a fit is only as good as
its sample, and the fit report says how good.

- proportions: Wilson's score interval (Wilson 1927; Brown, Cai & DasGupta 2001 show
  it keeps its coverage for small counts, where the normal interval does not);
- a Poisson count: the interval of the square-root transform, ``(sqrt(n) +- z/2)^2``
  (Anscombe's variance-stabilising transform; close to the exact Garwood interval
  from n of about 5);
- quantiles: the distribution-free interval between two order statistics whose ranks
  the binomial(n, q) distribution of "samples below the quantile" gives;
- a lognormal: maximum likelihood on the logs, with the Kolmogorov-Smirnov distance
  of the sample from the fitted CDF and its asymptotic p-value (Kolmogorov's series;
  the parameters come from the same sample, so the p-value is conservative: the
  Lilliefors correction would make it smaller);
- dispersion: the chi-square test that counts in equal windows are Poisson with one
  rate (Fisher's index of dispersion), the Wilson-Hilferty approximation for its
  p-value.

numpy and the standard library only (smtpsim does not depend on scipy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

__all__ = [
    "Interval",
    "LognormalFit",
    "dispersion_p",
    "fit_lognormal",
    "poisson_interval",
    "quantile_interval",
    "wilson",
    "z_of",
]


def z_of(confidence: float) -> float:
    """The two-sided normal quantile of ``confidence`` (0.95 -> 1.96)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


@dataclass(frozen=True)
class Interval:
    """An estimate and its confidence interval."""

    value: float
    low: float
    high: float

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def __str__(self) -> str:
        return f"{self.value:.4g} [{self.low:.4g}, {self.high:.4g}]"


def wilson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """A proportion and Wilson's score interval."""
    if n == 0:
        return Interval(float("nan"), 0.0, 1.0)
    z = z_of(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


def poisson_interval(count: int, exposure: float, confidence: float = 0.95) -> Interval:
    """A rate (count / exposure) and its interval from the square-root transform."""
    z = z_of(confidence)
    root = math.sqrt(count)
    low = max(0.0, root - z / 2) ** 2
    high = (root + z / 2) ** 2 + (z * z / 4 if count == 0 else 0.0)
    return Interval(count / exposure, low / exposure, high / exposure)


def quantile_interval(sorted_values: np.ndarray, q: float, confidence: float = 0.95) -> Interval:
    """The sample quantile ``q`` and the interval between the order statistics that hold
    the true quantile with about ``confidence`` (normal approximation to the binomial
    count of samples below it)."""
    n = len(sorted_values)
    z = z_of(confidence)
    centre = n * q
    spread = z * math.sqrt(n * q * (1 - q))
    lo = int(min(n - 1, max(0, math.floor(centre - spread))))
    hi = int(min(n - 1, math.ceil(centre + spread)))
    value = float(np.quantile(sorted_values, q))
    return Interval(value, float(sorted_values[lo]), float(sorted_values[hi]))


def _kolmogorov_p(d: float, n: int) -> float:
    """P(D_n > d) from Kolmogorov's limiting distribution, with Stephens' small-sample
    adjustment of the statistic."""
    x = d * (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n))
    if x < 0.2:
        return 1.0
    total = math.fsum((-1.0) ** (k - 1) * math.exp(-2 * k * k * x * x) for k in range(1, 101))
    return max(0.0, min(1.0, 2 * total))


@dataclass(frozen=True)
class LognormalFit:
    """A lognormal fitted by maximum likelihood, and how well it fits."""

    median: float
    sigma: float
    median_ci: Interval
    sigma_ci: Interval
    ks_distance: float
    ks_p: float
    n: int

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The fitted CDF at ``x``."""
        normal = NormalDist()
        safe = np.maximum(np.asarray(x, dtype=float), 1e-300)
        z = (np.log(safe) - math.log(self.median)) / max(self.sigma, 1e-12)
        return np.array([normal.cdf(float(v)) for v in z])


def fit_lognormal(values: np.ndarray, confidence: float = 0.95) -> LognormalFit:
    """The maximum likelihood lognormal of positive ``values``: mu and sigma of the logs,
    intervals from their asymptotic normality (var mu = sigma^2/n, var sigma =
    sigma^2/(2n)), and the Kolmogorov-Smirnov distance of the sample from it."""
    logs = np.log(np.asarray(values, dtype=float))
    n = len(logs)
    mu = float(logs.mean())
    sigma = float(logs.std())  # the MLE: divided by n
    z = z_of(confidence)
    se_mu = sigma / math.sqrt(n)
    se_sigma = sigma / math.sqrt(2 * n)
    fit = LognormalFit(
        median=math.exp(mu),
        sigma=sigma,
        median_ci=Interval(math.exp(mu), math.exp(mu - z * se_mu), math.exp(mu + z * se_mu)),
        sigma_ci=Interval(sigma, max(0.0, sigma - z * se_sigma), sigma + z * se_sigma),
        ks_distance=0.0,
        ks_p=1.0,
        n=n,
    )
    xs = np.sort(np.asarray(values, dtype=float))
    model = fit.cdf(xs)
    upper = np.arange(1, n + 1) / n
    lower = np.arange(0, n) / n
    d = float(max(np.max(upper - model), np.max(model - lower))) if n else 0.0
    return LognormalFit(
        fit.median, fit.sigma, fit.median_ci, fit.sigma_ci, d, _kolmogorov_p(d, n), n
    )


def dispersion_p(counts: np.ndarray) -> float:
    """The p-value of the index-of-dispersion test that ``counts`` (in equal windows)
    come from one Poisson rate: sum((x - mean)^2 / mean) is chi-square with k - 1
    degrees of freedom; its upper tail by Wilson and Hilferty's cube-root normal
    approximation. Small p: the rate varies (or the arrivals are bursty)."""
    counts = np.asarray(counts, dtype=float)
    k = len(counts)
    mean = counts.mean() if k else 0.0
    if k < 2 or mean == 0:
        return 1.0
    stat = float(((counts - mean) ** 2).sum() / mean)
    df = k - 1
    z = ((stat / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 1 - NormalDist().cdf(z)
