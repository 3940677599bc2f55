"""Running tiny scenarios for the engine's behaviour tests, with incidents (hosts
down, links cut) scripted as SimPy processes added before the run."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model, build


def run_model(
    source: Any,
    *,
    seed: int = 1,
    until: float | None = None,
    overrides: Sequence[str] = (),
    setup: Callable[[Model], Any] | None = None,
) -> tuple[Model, RunResult]:
    """Load ``source`` (YAML text, a path, or a ``Scenario``), build it, let
    ``setup(model)`` change it or add processes, run to ``until`` (default: the
    scenario's duration) and return the model and its tables."""
    scenario = source if hasattr(source, "hosts") else smtpsim.load_scenario(
        source, overrides=list(overrides)
    )
    model = build(scenario, seed)
    if setup is not None:
        setup(model)
    model.run(until)
    meta = {"warmup_s": float(scenario.warmup), "seed": seed}
    return model, RunResult.from_recorder(model.recorder, meta)


def at_times(model: Model, *steps: tuple[float, Callable[[], Any]]) -> None:
    """Do ``action()`` at each simulated time ``t`` of ``steps`` (in order)."""

    def process():
        for t, action in steps:
            if t > model.env.now:
                yield model.env.timeout(t - model.env.now)
            action()

    model.env.process(process())


def attempts_from(result: RunResult, host: str) -> pd.DataFrame:
    attempts = result.attempts
    rows = attempts[attempts["host"].astype(str) == host]
    return rows.sort_values(["t_start", "msg_id"], kind="stable").reset_index(drop=True)


def strings(series: pd.Series) -> list[str]:
    return [str(v) for v in series]
