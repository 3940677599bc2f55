"""Running a scenario in a test: the one helper every test directory uses (found
through ``pythonpath = ["tests"]`` in pyproject.toml).

Incidents that the scenario format cannot say (a link cut at a chosen time, a probe
of the model's state) are scripted with ``setup(model)``, which may change the
built model or add SimPy processes before the run (``at_times`` is the usual way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model, build
from smtpsim.scenario import Scenario

__all__ = ["REPO", "at_times", "run_model"]

REPO = Path(__file__).resolve().parents[1]


def run_model(
    source: str | Path | Scenario,
    *,
    seed: int | None = 1,
    until: float | None = None,
    overrides: Sequence[str] = (),
    setup: Callable[[Model], Any] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> tuple[Model, RunResult]:
    """Load ``source`` (YAML text, a path, or a ``Scenario``), build it with ``seed``
    (``None``: the scenario's own), let ``setup(model)`` change it or add processes,
    run to ``until`` (default: the scenario's duration) and return the model and its
    tables. Their ``meta`` holds the scenario's name, the seed and the warm-up, and
    whatever ``meta`` adds."""
    scenario = source if isinstance(source, Scenario) else smtpsim.load_scenario(
        source, overrides=list(overrides)
    )
    model = build(scenario, seed)
    if setup is not None:
        setup(model)
    model.run(until)
    info = {"scenario": scenario.name, "seed": model.seed,
            "warmup_s": float(scenario.warmup), **(meta or {})}
    return model, RunResult.from_recorder(model.recorder, info)


def at_times(model: Model, *steps: tuple[float, Callable[[], Any]]) -> None:
    """Do ``action()`` at each simulated time ``t`` of ``steps`` (in order)."""

    def process():
        for t, action in steps:
            if t > model.env.now:
                yield model.env.timeout(t - model.env.now)
            action()

    model.env.process(process())
