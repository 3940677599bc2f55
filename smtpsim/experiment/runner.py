"""One run of an experiment: what to run (``RunSpec``), what came out (``RunRecord``),
and ``execute``, which turns the one into the other on any process or worker.

A run records its whole configuration (the scenario text, the overrides, the seed, the
stop time) and, when it failed, the exception, as in desmod and ns-3's sem: a result
can always be traced to what produced it and run again. Specs and records are plain
frozen data, picklable and JSON-able, so they travel to worker processes and Dask
workers and sit in the result store (``smtpsim.experiment.store``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from dataclasses import dataclass
from functools import lru_cache
from typing import NotRequired, TypedDict

from ..scenario import load_scenario
from ..simulation import simulate
from .metrics import METRICS, delay_quantiles, metric_value, queue_series
from .run_tables import RunTables, run_tables
from .seeds import replication_seed

__all__ = ["RecordJson", "RunRecord", "RunSpec", "SpecJson", "execute"]


@lru_cache(maxsize=4096)  # a key loads the scenario (some ms); sweeps ask many times
def _scenario_digest(text: str, overrides: tuple[str, ...]) -> str:
    """The digest of the scenario after the overrides; for a text or overrides that do
    not load, a digest of the text marked invalid (such runs still get a key, and a
    record with their error)."""
    try:
        return load_scenario(text, overrides=overrides).digest()
    except Exception:
        return "invalid:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class SpecJson(TypedDict):
    """A ``RunSpec`` in a store's JSON (``until``, ``config`` and ``params`` may be
    missing from records written before they existed)."""

    scenario: str
    overrides: list[str]
    replication: int
    base_seed: int
    until: NotRequired[float | None]
    config: NotRequired[str]
    params: NotRequired[list[list[str]]]


class RecordJson(TypedDict):
    """A ``RunRecord`` in a store's JSON (strict JSON: NaN metrics are null)."""

    key: str
    seed: int
    spec: SpecJson
    metrics: dict[str, float | None]
    delay_quantiles: list[float]
    queue_series: list[list[float]]
    wall_s: float
    error: str | None


@dataclass(frozen=True)
class RunSpec:
    """One run to do: replication ``replication`` of a scenario under overrides.

    ``scenario`` is the YAML text itself, not a path, so that a spec is picklable and
    means the same on every worker. ``config`` names the configuration the run belongs
    to and ``params`` its swept parameters as ``(name, value)`` text pairs; neither
    changes the run, so neither is part of :meth:`key`.
    """

    scenario: str
    overrides: tuple[str, ...]
    replication: int
    base_seed: int
    until: float | None = None
    config: str = ""
    params: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Lists (from JSON, or a caller) become tuples, so that specs hash and compare.
        overrides = (self.overrides,) if isinstance(self.overrides, str) else self.overrides
        object.__setattr__(self, "overrides", tuple(str(o) for o in overrides))
        object.__setattr__(self, "params", tuple((str(k), str(v)) for k, v in self.params))
        object.__setattr__(self, "replication", int(self.replication))
        object.__setattr__(self, "base_seed", int(self.base_seed))
        if self.until is not None:
            object.__setattr__(self, "until", float(self.until))

    @property
    def seed(self) -> int:
        """The run's seed: ``replication_seed(base_seed, replication)``."""
        return replication_seed(self.base_seed, self.replication)

    def key(self) -> str:
        """SHA-256 (hex) of what determines the run's result: the scenario's digest after
        the overrides, the overrides, the seed and ``until``. The same in every process;
        a formatting change of the YAML text that leaves the scenario the same keeps it."""
        payload = {
            "scenario": _scenario_digest(self.scenario, self.overrides),
            "overrides": list(self.overrides),
            "seed": self.seed,
            "until": self.until,
        }
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def to_json(self) -> SpecJson:
        return {
            "scenario": self.scenario,
            "overrides": list(self.overrides),
            "replication": self.replication,
            "base_seed": self.base_seed,
            "until": self.until,
            "config": self.config,
            "params": [list(p) for p in self.params],
        }

    @classmethod
    def from_json(cls, data: SpecJson) -> RunSpec:
        return cls(
            scenario=data["scenario"],
            overrides=tuple(data["overrides"]),
            replication=data["replication"],
            base_seed=data["base_seed"],
            until=data.get("until"),
            config=data.get("config", ""),
            params=tuple((k, v) for k, v in data.get("params", ())),
        )


@dataclass(frozen=True)
class RunRecord:
    """What one run gave.

    ``metrics`` are those of ``smtpsim.experiment.metrics.METRICS`` (NaN where
    undefined); ``delay_quantiles`` the delivered recipients' delays at the 101
    probabilities 0, 0.01, ..., 1 (empty if none was delivered), for CDF bands;
    ``queue_series`` ``(t, total active + deferred)`` on 200 evenly spaced times over
    [0, end], for queue bands; ``wall_s`` the wall-clock seconds of the whole run
    (loading included). When the run raised, ``error`` is the formatted exception
    (traceback text) and the metrics, quantiles and series are empty. ``tables``: the
    run's ``RunTables``, from which any other metric is computed later (not part of
    the JSON: a store keeps them as Parquet files beside it); None for a failed run,
    or a record read without them.
    """

    spec: RunSpec
    metrics: dict[str, float]
    delay_quantiles: tuple[float, ...]
    queue_series: tuple[tuple[float, float], ...]
    wall_s: float
    error: str | None = None
    tables: RunTables | None = None

    def to_json(self) -> RecordJson:
        """A JSON-able dict (strict JSON: NaN metrics become null). ``key`` and ``seed``
        are written for people reading the file; :meth:`from_json` ignores them."""
        return {
            "key": self.spec.key(),
            "seed": self.spec.seed,
            "spec": self.spec.to_json(),
            "metrics": {k: None if math.isnan(v) else v for k, v in self.metrics.items()},
            "delay_quantiles": list(self.delay_quantiles),
            "queue_series": [list(point) for point in self.queue_series],
            "wall_s": self.wall_s,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: RecordJson) -> RunRecord:
        return cls(
            spec=RunSpec.from_json(data["spec"]),
            metrics={k: math.nan if v is None else float(v) for k, v in data["metrics"].items()},
            delay_quantiles=tuple(float(q) for q in data["delay_quantiles"]),
            queue_series=tuple((float(t), float(v)) for t, v in data["queue_series"]),
            wall_s=float(data["wall_s"]),
            error=data.get("error"),
        )


def execute(spec: RunSpec) -> RunRecord:
    """Load the scenario text with the overrides, simulate it with ``spec.seed`` up to
    ``spec.until``, and measure it. Never raises for a failed run: any exception while
    loading, simulating or measuring is returned in ``error``, so that one bad run does
    not stop a sweep and its cause is kept with it."""
    wall0 = time.perf_counter()
    try:
        scenario = load_scenario(spec.scenario, overrides=spec.overrides)
        result = simulate(scenario, seed=spec.seed, until=spec.until)
        tables = run_tables(result)
        metrics = {m: metric_value(tables, m) for m in METRICS}
        quantiles = delay_quantiles(result)
        series = queue_series(result)
    except Exception:
        return RunRecord(spec, {}, (), (), time.perf_counter() - wall0, traceback.format_exc())
    return RunRecord(spec, metrics, quantiles, series, time.perf_counter() - wall0, tables=tables)
