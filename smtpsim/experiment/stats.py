"""Confidence intervals over independent replications, without SciPy.

Replications of a terminating simulation are independent and identically distributed
observations of each metric, so the classical Student-t interval applies to their mean
(Law & Kelton, *Simulation Modeling and Analysis*, 5th ed., section 4.5 and 9.4.1);
two configurations run with common random numbers are compared by the paired-t interval
on the differences (section 10.2.1). Non-finite values (a metric undefined in some
replication, such as a delay percentile when nothing was delivered) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from statistics import NormalDist

__all__ = ["mean_ci", "needs_more", "paired_difference", "share_ci", "t_quantile"]

_EPS = 1e-16
_TINY = 1e-300
_LARGE_DF = 1e5  # above it, the expansion in 1/df (the incomplete beta loses digits)


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function, by the modified Lentz
    method (Press et al., *Numerical Recipes*, 3rd ed., section 6.4, ``betacf``)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            delta = d * c
            h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta fraction did not converge (a={a}, b={b}, x={x})")


def _betainc(a: float, b: float, x: float, y: float) -> float:
    """The regularized incomplete beta function I_x(a, b), with ``y = 1 - x`` given
    apart so that it keeps its precision when x is near 1 (Numerical Recipes 6.4)."""
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(a, b, x) / a
    return 1.0 - front * _beta_fraction(b, a, y) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0: half of I_{df/(df+t^2)}(df/2, 1/2) (Abramowitz & Stegun
    26.7.1 with 26.5.27)."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t), t * t / (df + t * t))


def _t_expansion(p: float, df: float) -> float:
    """The t quantile as the normal quantile plus its expansion in powers of 1/df
    (Abramowitz & Stegun 26.7.5); the error is of order df**-5."""
    z = NormalDist().inv_cdf(p)
    g1 = (z**3 + z) / 4.0
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96.0
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384.0
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160.0
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


@lru_cache(maxsize=1024)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t distribution with ``df`` degrees of freedom.

    Closed forms for df 1 and 2; above 1e5 degrees of freedom the expansion around the
    normal quantile; otherwise bisection on the upper tail computed from the regularized
    incomplete beta function, to a relative tolerance of 1e-13 (the result agrees with
    published tables to better than 1e-9).
    """
    p, df_f = float(p), float(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p!r}")
    if not df_f > 0.0 or math.isinf(df_f):
        raise ValueError(f"df must be a positive number of degrees of freedom, got {df!r}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df_f > _LARGE_DF:
        return _t_expansion(p, df_f)
    if df_f == 1.0:
        return math.tan(math.pi * (p - 0.5))
    tail = 1.0 - p
    if df_f == 2.0:
        return (1.0 - 2.0 * tail) / math.sqrt(2.0 * tail * (1.0 - tail))
    low, high = 0.0, 1.0
    while _t_upper_tail(high, df_f) > tail:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if _t_upper_tail(mid, df_f) > tail:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * high:
            break
    return 0.5 * (low + high)


def _finite(values: Iterable[float]) -> list[float]:
    return [float(v) for v in values if math.isfinite(float(v))]


def mean_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean.

    ``mean +- t_{n-1, (1+confidence)/2} * s / sqrt(n)`` with ``s`` the sample standard
    deviation of the ``n`` finite values (Law & Kelton, equation 4.12). NaN and infinite
    values are left out; the half-width is NaN with fewer than 2 finite values, and the
    mean too with none.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    xs = _finite(values)
    n = len(xs)
    if n == 0:
        return math.nan, math.nan
    mean = math.fsum(xs) / n
    if n < 2:
        return mean, math.nan
    variance = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    return mean, t_quantile(0.5 + confidence / 2.0, n - 1) * math.sqrt(variance / n)


def share_ci(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean, lower and upper bound of a confidence interval for the mean of shares.

    Each value is one replication's share (of recipients, of attempts), in [0, 1]. The
    symmetric Student-t interval of :func:`mean_ci` crosses 0 or 1 for a small share
    measured in few replications (say 0.3 % +- 0.5). Here the Wilson score interval
    is used with an *effective sample size*, as for proportions estimated from
    clustered samples (Korn & Graubard, 1998, *Survey Methodology* 24(2); Dean &
    Pagano, 2015, *Stat. Med.* 34(3)): with ``m`` the mean, ``se = s / sqrt(n)`` its
    standard error over the replications and ``t`` the Student-t quantile with n - 1
    degrees of freedom, ``n_eff = m (1 - m) / se**2`` and the bounds are
    ``(m + t^2/(2 n_eff) -+ t sqrt(m (1 - m)/n_eff + t^2/(4 n_eff^2))) / (1 + t^2/n_eff)``.
    They stay inside [0, 1], asymmetric near the ends, and near the middle they are
    the t interval's. In a simulation of replications with binomial and
    between-replication noise it keeps about its 95 % coverage at shares of 1 %, where
    the t interval falls to about 92 % (``tests/experiment/test_stats.py``); unlike
    an interval on the logit scale it does not blow up when one replication sits at
    0 or 1 (say delivery ratios 1.0 and 0.9998).

    When every replication gives the same share (all 0 bounces, say) the interval is
    that point; NaN bounds with fewer than 2 finite values (and a NaN mean with none).
    """
    mean, half = mean_ci(values, confidence)
    if not math.isfinite(half):
        return mean, math.nan, math.nan
    if not 0.0 < mean < 1.0 or half == 0.0:
        return mean, mean, mean
    n = len(_finite(values))
    t = t_quantile(0.5 + confidence / 2.0, n - 1)
    variance = mean * (1.0 - mean)
    n_eff = variance / (half / t) ** 2
    k = t * t / n_eff
    centre = (mean + k / 2.0) / (1.0 + k)
    spread = t * math.sqrt(variance / n_eff + k / (4.0 * n_eff)) / (1.0 + k)
    return mean, max(0.0, centre - spread), min(1.0, centre + spread)


def paired_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = 0.95
) -> tuple[float, float]:
    """Mean and half-width of the paired-t interval of ``a_i - b_i``.

    ``a[i]`` and ``b[i]`` are one metric of two configurations in replication ``i``,
    run with the same seed (common random numbers): the positive correlation they share
    cancels in the differences, which narrows the interval (Law & Kelton, section 10.2.1,
    "paired-t confidence interval"). The interval is valid without assuming equal
    variances. Pairs where either value is not finite are left out.
    """
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    diffs = [
        float(x) - float(y)
        for x, y in zip(a, b, strict=True)
        if math.isfinite(float(x)) and math.isfinite(float(y))
    ]
    return mean_ci(diffs, confidence)


def needs_more(
    values_by_metric: dict[str, list[float]], relative: float, confidence: float = 0.95
) -> bool:
    """Whether another replication is needed for the precision asked.

    The sequential procedure of Law & Kelton (section 9.4.1, "obtaining a specified
    precision", the *sequential procedure*): after each replication, compute every
    metric's confidence interval and go on while some half-width exceeds ``relative *
    |mean|``. A metric whose mean is exactly 0 (say, no bounces in any replication) is
    held to the absolute bound ``half-width <= relative`` instead. A metric with fewer
    than 2 values asks for more; a metric with 2 or more values but fewer than 2 finite
    ones (undefined in nearly every replication) does not, since replicating would not
    make it defined.

    Known caveat (Law & Kelton, same section): the number of replications is itself
    random and depends on the very estimates it stops on; the procedure tends to stop
    when the sample variance happens to be small, so the final interval's coverage can
    fall below ``confidence``, and its mean is slightly biased. They advise at least
    n0 >= 10 initial replications and a relative precision of at most 0.15. For an
    actual relative error of ``gamma`` pass ``relative = gamma / (1 + gamma)``, their
    adjusted relative precision.
    """
    if relative < 0:
        raise ValueError(f"relative precision must be at least 0, got {relative!r}")
    for values in values_by_metric.values():
        if len(values) < 2:
            return True
        mean, half = mean_ci(values, confidence)
        if math.isnan(half):
            continue
        bound = relative if mean == 0 else relative * abs(mean)
        if half > bound:
            return True
    return False
