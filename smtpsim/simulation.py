"""``simulate(scenario, seed=...)``: build a model, run it, collect its tables."""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from .metrics.result import RunResult
from .model import build
from .sim import EventLimitError

__all__ = ["EventLimitError", "simulate"]

Progress = Callable[[float, float, int], None]
"""Called as ``progress(simulated_now, until, messages_so_far)`` during a run."""

_STEPS = 200  # progress is reported this many times over a run


def simulate(scenario: Any, *, seed: int | None = None, until: float | None = None,
             progress: Progress | None = None) -> RunResult:
    """Run ``scenario`` (from ``load_scenario``) and return its ``RunResult``.

    ``seed`` defaults to the scenario's; ``until`` (simulated seconds) to its
    duration. The same scenario and seed give identical tables. An exception in the
    engine is recorded in ``meta`` and raised again; a run that processes more than
    the scenario's ``simulation.max_events`` events raises :class:`EventLimitError`.
    """
    model = build(scenario, seed)
    end = float(scenario.duration if until is None else until)
    meta: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_digest": scenario.digest(),
        "seed": model.seed,
        "until_s": end,
        "warmup_s": float(scenario.warmup),
        "wire": bool(scenario.simulation.wire),
        "versions": _versions(),
        "hosts": {key: {"name": h.name, "ip": h.ip, "role": h.role}
                  for key, h in model.hosts.items()},
        "incidents": model.incidents,
    }
    wall0 = time.perf_counter()
    try:
        if progress is None:
            model.run(end)
        else:
            for k in range(1, _STEPS + 1):
                model.run(end * k / _STEPS)
                progress(model.env.now, end, len(model.recorder.m_size))
    except Exception as exc:
        meta["exception"] = "".join(traceback.format_exception(exc))
        raise
    finally:
        meta["wall_s"] = time.perf_counter() - wall0
        meta["events"] = next(model.env._eid)  # SimPy's event counter
        meta["sim_time_s"] = float(model.env.now)
    return RunResult.from_recorder(model.recorder, meta)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("smtpsim", "simpy", "numpy", "networkx", "pandas", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out
