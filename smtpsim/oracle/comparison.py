"""Real against simulated, metric by metric, each with its tolerance and verdict.

A metric is computed on each side from the same tables (recipients and the relay's
attempts of the original messages, :func:`.experiment.tables_of`): once for the real
run, once per simulated seed. The verdict compares the real value with the mean over
the seeds: ``agrees`` when they are within the tolerance (absolute, or relative to the
real value, or 2.5 standard deviations of the seeds times sqrt(1 + 1/seeds), the
prediction interval of one more run, since the real run is one sample; whichever is
largest), else ``differs``. A metric whose difference issue 11
already explains carries that cause (``known``), shown beside the verdict, so that a fix
of the model turns a ``differs`` into ``agrees`` in plain sight.

Distributions are compared by quantiles and by a two-sample Kolmogorov-Smirnov test
(the asymptotic p-value; ``agrees`` when p >= 0.01) of the real sample against the
seeds' samples pooled.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Metric:
    """A number computed from one side's tables, and how close the sides must be."""

    key: str
    label: str
    compute: Callable[[Tables], float | str]  # a text: equal on every seed to agree
    tolerance: float  # absolute, in the metric's unit
    relative: float = 0.0  # of the real value
    known: str = ""  # the cause of a known difference (issue 11), if any
    # a sample: the row is a two-sample KS test (``tolerance``: the least p-value that
    # agrees) instead of ``compute``
    ks: Callable[[Tables], np.ndarray] | None = None


@dataclass(frozen=True)
class Row:
    """One metric's line of the comparison."""

    metric: Metric
    real: float | str
    sim_mean: float | str  # a text metric: the seeds' most common value
    sim_low: float
    sim_high: float
    allowed: float
    verdict: str  # agrees | differs


def ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov test: the asymptotic p-value of the largest
    distance between the two empirical CDFs (Kolmogorov's series, with Stephens's
    small-sample correction of the statistic)."""
    a, b = np.sort(np.asarray(a, float)), np.sort(np.asarray(b, float))
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    grid = np.concatenate([a, b])
    d = float(
        np.max(
            np.abs(
                np.searchsorted(a, grid, side="right") / len(a)
                - np.searchsorted(b, grid, side="right") / len(b)
            )
        )
    )
    n = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    if lam < 1e-3:
        return 1.0
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return float(min(1.0, max(0.0, p)))


def compare(metrics: Sequence[Metric], real: Tables, simulated: Sequence[Tables]) -> list[Row]:
    """A :class:`Row` per metric."""
    rows = []
    for m in metrics:
        if m.ks is not None:
            sample = m.ks(real)
            pooled = np.concatenate([m.ks(s) for s in simulated]) if simulated else np.array([])
            p = ks_pvalue(sample, pooled)
            per_seed = [ks_pvalue(sample, m.ks(s)) for s in simulated]
            verdict = "agrees" if p >= m.tolerance else "differs"
            rows.append(Row(m, p, p, min(per_seed), max(per_seed), m.tolerance, verdict))
            continue
        value = m.compute(real)
        values = [m.compute(s) for s in simulated]
        if isinstance(value, str) or any(isinstance(v, str) for v in values):
            texts = [str(v) for v in values]
            common = max(set(texts), key=texts.count) if texts else ""
            same = bool(texts) and all(v == str(value) for v in texts)
            nan = float("nan")
            rows.append(Row(m, value, common, nan, nan, 0.0, "agrees" if same else "differs"))
            continue
        numbers = [float(v) for v in values]
        number = float(value)
        mean = float(np.nanmean(numbers)) if numbers else float("nan")
        # the real run is one sample: within the seeds' own spread (a 2.5-sigma
        # prediction interval for one more run) it agrees too
        spread = float(np.nanstd(numbers, ddof=1)) if len(numbers) > 2 else 0.0
        spread *= 2.5 * math.sqrt(1 + 1 / len(numbers)) if numbers else 0.0
        allowed = max(m.tolerance, m.relative * abs(number), spread)
        close = abs(mean - number) <= allowed + 1e-9 or (math.isnan(mean) and math.isnan(number))
        low, high = min(numbers), max(numbers)
        rows.append(Row(m, number, mean, low, high, allowed, "agrees" if close else "differs"))
    return rows


# --- what the metrics read ---------------------------------------------------------------


def count_status(status: str) -> Callable[[Tables], float]:
    def compute(t: Tables) -> float:
        return float((t["recipients"]["status"].astype(str) == status).sum())

    return compute


def attempts_per_recipient(t: Tables) -> float:
    att = t["attempts"]
    n = len(t["recipients"])
    return len(att) / n if n else float("nan")


def count_attempts(
    outcome: str | None = None, phase: str | None = None
) -> Callable[[Tables], float]:
    def compute(t: Tables) -> float:
        att = t["attempts"]
        keep = np.ones(len(att), bool)
        if outcome is not None:
            keep &= (att["outcome"].astype(str) == outcome).to_numpy()
        if phase is not None:
            keep &= (att["phase"].astype(str) == phase).to_numpy()
        return float(keep.sum())

    return compute


def gaps(t: Tables) -> np.ndarray:
    """Time between consecutive attempts of a recipient (their starts)."""
    att = t["attempts"].sort_values(["msg_id", "rcpt", "t_start"])
    diff = att.groupby(["msg_id", "rcpt"], observed=True)["t_start"].diff()
    return np.asarray(diff.dropna().to_numpy(float))


def delays(t: Tables) -> np.ndarray:
    rec = t["recipients"]
    return np.asarray(rec.loc[rec["status"].astype(str) == "delivered", "delay_s"].to_numpy(float))


def expiry_ages(t: Tables) -> np.ndarray:
    rec = t["recipients"]
    return np.asarray(rec.loc[rec["status"].astype(str) == "expired", "delay_s"].to_numpy(float))


def attempt_ages(t: Tables) -> np.ndarray:
    """Each attempt's start, from its message's submission (the retry schedule)."""
    att = t["attempts"]
    submit = t["recipients"].set_index(["msg_id", "rcpt"])["t_submit"]
    keys = pd.MultiIndex.from_arrays([att["msg_id"], att["rcpt"].astype(str)])
    return np.asarray(att["t_start"].to_numpy(float) - submit.reindex(keys).to_numpy(float))


def nth_attempt_ages(n: int) -> Callable[[Tables], np.ndarray]:
    """When each recipient's ``n``-th attempt started (1: the first), from submission."""

    def sample(t: Tables) -> np.ndarray:
        att = t["attempts"].sort_values(["msg_id", "rcpt", "t_start"])
        rank = att.groupby(["msg_id", "rcpt"], observed=True).cumcount() + 1
        chosen = att[rank.to_numpy() == n]
        return attempt_ages({"attempts": chosen, "recipients": t["recipients"]})

    return sample


def first_attempt_share(t: Tables) -> float:
    """Share of the recipients delivered at their first attempt (at the relay)."""
    rec = t["recipients"]
    if not len(rec):
        return float("nan")
    tries = t["attempts"].groupby(["msg_id", "rcpt"], observed=True).size()
    keys = pd.MultiIndex.from_arrays([rec["msg_id"], rec["rcpt"].astype(str)])
    once = tries.reindex(keys).to_numpy() == 1
    ok = (rec["status"].astype(str) == "delivered").to_numpy() & once
    return float(ok.mean())


def mean_of(sample: Callable[[Tables], np.ndarray]) -> Callable[[Tables], float]:
    def compute(t: Tables) -> float:
        x = sample(t)
        return float(np.mean(x)) if len(x) else float("nan")

    return compute


def quantile(sample: Callable[[Tables], np.ndarray], q: float) -> Callable[[Tables], float]:
    def compute(t: Tables) -> float:
        x = sample(t)
        return float(np.quantile(x, q)) if len(x) else float("nan")

    return compute


def share_below(sample: Callable[[Tables], np.ndarray], limit: float) -> Callable[[Tables], float]:
    def compute(t: Tables) -> float:
        x = sample(t)
        return float(np.mean(x < limit)) if len(x) else float("nan")

    return compute


def expired_text(column: str) -> Callable[[Tables], str]:
    """The most common ``column`` (``dsn``, ``reply``) of the expired recipients."""

    def compute(t: Tables) -> str:
        rec = t["recipients"]
        values = rec.loc[rec["status"].astype(str) == "expired", column].astype(str)
        return str(values.mode().iloc[0]) if len(values) else ""

    return compute


def deferral_phase(t: Tables) -> str:
    """The most common phase of the deferred attempts."""
    att = t["attempts"]
    phases = att.loc[att["outcome"].astype(str) == "deferred", "phase"].astype(str)
    return str(phases.mode().iloc[0]) if len(phases) else ""


def conn_uses(t: Tables) -> np.ndarray:
    """Each session's ``conn_use``: which transaction of its connection it was (1 a new
    connection, 2 and up a cached one). One value per session, not per recipient:
    the experiments send one recipient per message, so an attempt is a session."""
    att = t["attempts"]
    sessions = att[att["peer"].astype(str) != "none"]
    return np.asarray(sessions["conn_use"].to_numpy(float))


def share_reused(t: Tables) -> float:
    """The share of sessions on a cached connection (``conn_use`` above 1)."""
    uses = conn_uses(t)
    return float(np.mean(uses > 1)) if len(uses) else float("nan")


def connections_per_message(t: Tables) -> float:
    """New SMTP connections (sessions with ``conn_use`` 1) per message submitted:
    1 without connection caching, less the more connections are reused."""
    n = len(t["recipients"])
    return float(np.sum(conn_uses(t) == 1)) / n if n else float("nan")


def bounce_notices(t: Tables) -> float:
    return float(len(t["bounces"]))


def drain_time(t: Tables) -> float:
    """When the last recipient reached its final status."""
    final = t["recipients"]["t_final"].to_numpy(float)
    return float(np.nanmax(final)) if len(final) else float("nan")
