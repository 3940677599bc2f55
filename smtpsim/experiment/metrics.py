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
``lost_rate``
    lost recipients / submitted recipients (in a queue an incident destroyed).
``pending_rate``
    recipients still queued when the run stopped / submitted recipients: mail whose
    outcome the run did not see. The five shares above add up to 1, so a gap in
    ``delivery_ratio`` between configurations may be only mail still pending (censored
    at the end); compare and sweep always show it, and ``simulation.drain`` (``--drain``)
    runs on until it is 0.
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
    SMTP delivery attempts per submitted recipient, all hops included (a recipient
    relayed over three hops at the first try counts 3).
``retries_per_recipient``
    deferred SMTP attempts per submitted recipient, all hops: the retries; NaN when
    attempts were not recorded.

"end" is when the traffic stopped (``meta["until_s"]``): the scenario's duration or
``--until``. A drained run (``simulation.drain``) goes on after it until its queues
are empty, and the shares and delays count that tail, but ``mean_queue`` and
``peak_queue`` stay over [warm-up, end], the same window with or without a drain
(averaging over the drain too would divide by a length that differs between
configurations).

**Split by flow, domain or host.** ``NAME@flow=F``, ``NAME@domain=D``, ``NAME@host=H``
(``delivery_ratio@domain=bigmail.example``) compute a metric over part of the run:
the recipients of flow ``F``, or to domain ``D``, or that went through host ``H``
(an attempt by it or to it; a host key as in the scenario); attempt metrics
(``deferral_rate``, and the retries) over the attempts of that flow, to that
domain, or made by that host; ``mean_queue`` and ``peak_queue`` only by host (the
host's own active + deferred queue).

**Your own metrics.** A function of a run's :class:`~smtpsim.experiment.run_tables.RunTables`
returning a float, registered with :func:`register_metric` or given to ``compare`` and
``sweep`` in ``metrics=`` (named by the function's name, or ``{name: function}``).
Experiments keep each run's tables (in ``OUT/runs/KEY.tables/``), so a metric added
later is computed from them without running anything again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..metrics.result import RunResult
from .run_tables import RunTables, queue_total, run_tables

if TYPE_CHECKING:
    from ..scenario import Scenario

__all__ = [
    "METRICS",
    "PROBABILITIES",
    "SHARES",
    "MetricFunction",
    "check_split",
    "delay_quantiles",
    "delivered_delays",
    "metric_kind",
    "metric_value",
    "parse_metric",
    "queue_series",
    "queue_total",
    "register_metric",
    "resolve_metrics",
    "run_metrics",
]

METRICS: tuple[str, ...] = (
    "delivery_ratio",
    "bounce_rate",
    "expired_rate",
    "lost_rate",
    "pending_rate",
    "deferral_rate",
    "delay_p50",
    "delay_p95",
    "delay_p99",
    "mean_queue",
    "peak_queue",
    "attempts_per_recipient",
    "retries_per_recipient",
)

SHARES = frozenset(
    {"delivery_ratio", "bounce_rate", "expired_rate", "lost_rate", "pending_rate", "deferral_rate"}
)
"""The metrics that are shares, in [0, 1] (their intervals: ``stats.share_ci``)."""

PENDING = "pending_rate"

PROBABILITIES: tuple[float, ...] = tuple(i / 100 for i in range(101))
"""The probabilities of ``delay_quantiles``: 0, 0.01, ..., 1 (exact decimals)."""

MetricFunction = Callable[[RunTables], float]
"""A user-defined metric: a run's tables in, a number out (NaN: undefined)."""

_STATUS_OF = {
    "delivery_ratio": "delivered",
    "bounce_rate": "bounced",
    "expired_rate": "expired",
    "lost_rate": "lost",
    "pending_rate": "pending",
}
_DELAYS = {"delay_p50": 0.50, "delay_p95": 0.95, "delay_p99": 0.99}
_SPLITS = ("flow", "domain", "host")
_SELECTOR = re.compile(r"^(?P<base>[^@]+)@(?P<by>[a-z]+)=(?P<value>.+)$")


@dataclass(frozen=True)
class _Registered:
    function: MetricFunction
    kind: str


_REGISTRY: dict[str, _Registered] = {}


def register_metric(name: str, function: MetricFunction, *, kind: str = "number") -> None:
    """Make ``function`` (a run's ``RunTables`` -> float) a metric called ``name`` for
    ``compare`` and ``sweep`` (``metrics=[name]``, ``--metric`` cannot reach it: it
    lives in this Python process). ``kind`` says how it is shown: ``"share"`` (in %,
    Wilson interval), ``"delay"`` (seconds) or ``"number"``."""
    if not re.fullmatch(r"[A-Za-z_][\w.-]*", name) or name in METRICS:
        raise ValueError(f"a metric needs a new name of letters, digits and _, got {name!r}")
    if kind not in ("share", "delay", "number"):
        raise ValueError(f"kind is 'share', 'delay' or 'number', got {kind!r}")
    if not callable(function):
        raise ValueError(f"metric {name!r}: expected a function, got {function!r}")
    _REGISTRY[name] = _Registered(function, kind)


@dataclass(frozen=True)
class MetricName:
    """A metric asked for: a base metric, and the part of the run it is computed on
    (``by``: flow, domain or host, and its ``value``), if any."""

    base: str
    by: str | None = None
    value: str | None = None


def parse_metric(name: str) -> MetricName:
    """``delivery_ratio@domain=bigmail.example`` -> its parts; ``ValueError`` naming
    the problem for an unknown metric or split."""
    name = name.strip()
    match = _SELECTOR.match(name)
    if match is None:
        if name not in METRICS and name not in _REGISTRY:
            raise ValueError(
                f"unknown metric {name!r}; known: {', '.join(METRICS)}"
                + (f", {', '.join(_REGISTRY)}" if _REGISTRY else "")
                + "; split one with @flow=NAME, @domain=NAME or @host=KEY"
            )
        return MetricName(name)
    base, by, value = match["base"].strip(), match["by"], match["value"].strip()
    if base not in METRICS:
        raise ValueError(
            f"{name!r}: only the built-in metrics can be split, "
            f"not {base!r}; known: {', '.join(METRICS)}"
        )
    if by not in _SPLITS:
        raise ValueError(f"{name!r}: split by flow, domain or host, not {by!r}")
    if base in ("mean_queue", "peak_queue") and by != "host":
        raise ValueError(
            f"{name!r}: queues hold mail of every flow and domain; split {base} by host only"
        )
    return MetricName(base, by, value)


def metric_kind(metric: str) -> str:
    """``"share"`` (a ratio from 0 to 1), ``"delay"`` (seconds) or ``"number"``."""
    base = metric.split("@", 1)[0].strip()
    if base in _REGISTRY:
        return _REGISTRY[base].kind
    if base in SHARES or base.endswith(("_ratio", "_rate")):
        return "share"
    if base.startswith("delay") or base.endswith("_s"):
        return "delay"
    return "number"


def resolve_metrics(
    metrics: str | Sequence[str | MetricFunction] | Mapping[str, MetricFunction],
    known: Collection[str] = (),
) -> tuple[tuple[str, ...], dict[str, MetricFunction]]:
    """Names of the metrics asked for, and the functions of those given as functions
    (named by ``__name__``, or by the keys of a mapping). ``ValueError`` for an
    unknown name (the names in ``known`` are: a result's own user metrics)."""
    if isinstance(metrics, str):
        metrics = (metrics,)
    items = (
        list(metrics.items())
        if isinstance(metrics, Mapping)
        else [(m, m) if isinstance(m, str) else (getattr(m, "__name__", ""), m) for m in metrics]
    )
    names: list[str] = []
    functions: dict[str, MetricFunction] = {}
    for name, item in items:
        if isinstance(item, str):
            if item.strip() not in known:
                parse_metric(item)
            names.append(item.strip())
            continue
        if not callable(item) or not name or name == "<lambda>":
            raise ValueError(
                f"a metric function needs a name: give {{name: function}}, got {item!r}"
            )
        if name in METRICS or "@" in name:
            raise ValueError(f"metric function {name!r}: the name of a built-in metric")
        functions[name] = item
        names.append(name)
    if not names:
        raise ValueError("no metric asked for")
    if len(set(names)) != len(names):
        raise ValueError("a metric is asked for twice")
    return tuple(names), functions


def run_metrics(result: RunResult) -> dict[str, float]:
    """The :data:`METRICS` of one run, in that order (see the module's docstring)."""
    tables = run_tables(result)
    return {m: metric_value(tables, m) for m in METRICS}


def metric_value(
    tables: RunTables, metric: str, functions: Mapping[str, MetricFunction] | None = None
) -> float:
    """One metric of a run from its tables: a built-in one, split or not, or a user's
    (``functions``, then those of :func:`register_metric`). Undefined: ``math.nan``."""
    value = _value(tables, metric, functions)
    return math.nan if math.isnan(value) else value  # one NaN object: records compare


def _value(tables: RunTables, metric: str, functions: Mapping[str, MetricFunction] | None) -> float:
    if functions and metric in functions:
        return float(functions[metric](tables))
    name = parse_metric(metric)
    if name.base in _REGISTRY:
        return float(_REGISTRY[name.base].function(tables))
    rcpts, attempts = tables.recipients, tables.attempts
    if name.by is not None:
        rcpts = _recipients_of(tables, name.by, str(name.value))
        attempts = _attempts_of(tables, name.by, str(name.value))
    base = name.base
    n = len(rcpts)
    if base in _STATUS_OF:
        return float((rcpts["status"].astype(str) == _STATUS_OF[base]).sum() / n) if n else math.nan
    if base in _DELAYS:
        delays = rcpts.loc[rcpts["status"].astype(str) == "delivered", "delay_s"].to_numpy()
        return float(np.quantile(delays, _DELAYS[base])) if len(delays) else math.nan
    if base == "attempts_per_recipient":
        return float(rcpts["attempts"].sum() / n) if n else math.nan
    if base == "retries_per_recipient":
        if not n or not tables.attempts_recorded:
            return math.nan
        return float(rcpts["retries"].sum() / n)
    if base == "deferral_rate":
        total = int(attempts["n"].sum())
        deferred = int(attempts.loc[attempts["outcome"].astype(str) == "deferred", "n"].sum())
        return deferred / total if total else math.nan
    if base in ("mean_queue", "peak_queue"):
        queues = tables.queues
        key = "" if name.by is None else str(name.value)
        row = queues[queues["host"].astype(str) == key]
        if not len(row):  # a host whose queue never changed
            return 0.0
        return float(row["mean" if base == "mean_queue" else "peak"].iloc[0])
    raise ValueError(f"unknown metric {metric!r}")  # pragma: no cover (parse_metric)


def check_split(scenario: Scenario, metric: str) -> None:
    """``ValueError`` when a split metric names a flow, domain or host that
    ``scenario`` (a loaded one) does not have: a typo would give NaN everywhere."""
    name = parse_metric(metric)
    if name.by is None:
        return
    if name.by == "flow":
        known = sorted(scenario.traffic)
    elif name.by == "host":
        known = sorted([*scenario.hosts, *(f"traffic.{f}" for f in scenario.traffic)])
    else:
        known = sorted(
            {str(d).lower() for h in scenario.hosts.values() for d in h.accepts}
            | {str(d).lower() for d in scenario.dns}
        )
    value = str(name.value).lower() if name.by == "domain" else str(name.value)
    if value not in known:
        raise ValueError(
            f"{metric!r}: no {name.by} {name.value!r} in the scenario; "
            f"{name.by}s: {', '.join(known)}"
        )


def _recipients_of(tables: RunTables, by: str, value: str) -> pd.DataFrame:
    rcpts = tables.recipients
    if by == "host":
        rows = tables.passages.loc[tables.passages["host"].astype(str) == value, "row"]
        return rcpts.iloc[np.unique(rows.to_numpy())]
    return rcpts[rcpts[by].astype(str) == value]


def _attempts_of(tables: RunTables, by: str, value: str) -> pd.DataFrame:
    attempts = tables.attempts
    return attempts[attempts[by].astype(str) == value]


def _end(result: RunResult) -> float:
    """When the traffic stopped: the end of the window of the queue metrics."""
    meta = result.meta
    return float(meta.get("until_s", meta.get("sim_time_s", 0.0)))


def delivered_delays(result: RunResult) -> np.ndarray:
    """The delays (``delay_s``) of the delivered recipients counted by the metrics:
    of messages submitted at or after the warm-up, bounce messages left out."""
    warmup = float(result.meta.get("warmup_s", 0.0))
    messages, recipients = result.messages, result.recipients
    counted = (
        (messages["origin"].astype(str) != "bounce") & (messages["t_submit"] >= warmup)
    ).to_numpy()
    if not len(recipients):
        return np.array([], dtype=float)
    keep = (
        counted[recipients["msg_id"].to_numpy()]
        & (recipients["status"].astype(str) == "delivered").to_numpy()
    )
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
    from .run_tables import level_at

    grid = np.linspace(0.0, _end(result), points)
    times, totals = queue_total(result.levels)
    values = level_at(times, totals, grid)
    return tuple((float(t), float(v)) for t, v in zip(grid, values, strict=True))
