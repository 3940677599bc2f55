"""Running a scenario in a test, and the conservation law every run must obey: the
helpers every test directory uses (found through ``pythonpath = ["tests"]`` in
pyproject.toml).

Incidents that the scenario format cannot say (a link cut at a chosen time, a probe
of the model's state) are scripted with ``setup(model)``, which may change the
built model or add SimPy processes before the run (``at_times`` is the usual way)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model, build
from smtpsim.scenario import Scenario

__all__ = ["REPO", "STATUSES", "at_times", "check_conservation", "run_model"]

REPO = Path(__file__).resolve().parents[1]
STATUSES = ("delivered", "bounced", "expired", "lost", "pending", "unsent")


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
    scenario = (
        source
        if isinstance(source, Scenario)
        else smtpsim.load_scenario(source, overrides=list(overrides))
    )
    model = build(scenario, seed)
    if setup is not None:
        setup(model)
    model.run(until)
    info = {
        "scenario": scenario.name,
        "seed": model.seed,
        "warmup_s": float(scenario.warmup),
        **(meta or {}),
    }
    return model, RunResult.from_recorder(model.recorder, info)


def at_times(model: Model, *steps: tuple[float, Callable[[], Any]]) -> None:
    """Do ``action()`` at each simulated time ``t`` of ``steps`` (in order)."""

    def process():
        for t, action in steps:
            if t > model.env.now:
                yield model.env.timeout(t - model.env.now)
            action()

    model.env.process(process())


def check_conservation(result: RunResult) -> dict[str, int]:
    """Every recipient of every message (bounces included) is in exactly one of the
    six statuses; final ones have a time and a non-negative delay, pending ones
    have neither. Returns the counts per status."""
    messages, rcpts = result.messages, result.recipients
    # one row per (message, recipient), and as many rows per message as it has recipients
    assert not rcpts.duplicated(["msg_id", "rcpt"]).any()
    per_message = rcpts.groupby("msg_id").size().reindex(messages["msg_id"], fill_value=0)
    np.testing.assert_array_equal(per_message.to_numpy(), messages["n_rcpt"].to_numpy())
    status = rcpts["status"].astype(str)
    assert set(status.unique()) <= set(STATUSES)
    counts = {s: int((status == s).sum()) for s in STATUSES}
    assert sum(counts.values()) == int(messages["n_rcpt"].sum()) == len(rcpts)
    final = rcpts[status != "pending"]
    pending = rcpts[status == "pending"]
    assert final["t_final"].notna().all() and final["delay_s"].notna().all()
    assert (final["delay_s"] >= 0).all()
    t_submit = messages.set_index("msg_id")["t_submit"]
    np.testing.assert_allclose(
        final["delay_s"].to_numpy(),
        final["t_final"].to_numpy() - t_submit.loc[final["msg_id"]].to_numpy(),
    )
    assert pending["t_final"].isna().all() and pending["delay_s"].isna().all()
    # docs/results.md: dsn is 2.0.0 when delivered
    delivered = rcpts[status == "delivered"]
    assert (delivered["dsn"].astype(str) == "2.0.0").all()
    # unsent ones never entered the mail system: each says why (the reply the client saw)
    unsent = rcpts[status == "unsent"]
    assert (unsent["reply"].astype(str).str.len() > 0).all()
    return counts
