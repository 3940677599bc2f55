"""``simulate(scenario, seed=...)``: build a model, run it, collect its tables."""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import simpy

from .metrics.result import RunResult
from .metrics.run_dir import new_run_id
from .model import Model, build
from .progress import ProgressBar
from .scenario import Scenario
from .sim import EventLimitError

__all__ = ["EventLimitError", "simulate"]

Progress = Callable[[float, float, int], None]
"""Called as ``progress(simulated_now, until, messages_so_far)`` during a run."""

_STEPS = 200  # progress is reported this many times over a run


def simulate(
    scenario: Scenario,
    *,
    seed: int | None = None,
    until: float | None = None,
    drain: bool | None = None,
    progress: Progress | bool | None = None,
) -> RunResult:
    """Run ``scenario`` (from ``load_scenario``) and return its ``RunResult``.

    ``seed`` defaults to the scenario's; ``until`` (simulated seconds) to its
    duration. ``progress`` is ``True`` for a progress bar (on stderr), or a callable
    ``progress(simulated_now, until, messages_so_far)`` called 200 times over the run.
    With ``drain`` (default: the scenario's ``simulation.drain``) the
    traffic stops at that end, and the run goes on until no recipient is pending
    any more (bounce notices included) or ``simulation.drain_limit`` after the end:
    see :func:`run_drain`. The same scenario and seed give identical tables (and a
    drained run the same tables as the undrained one up to the end). An exception
    in the engine is recorded in ``meta`` and raised again; a run that processes
    more than the scenario's ``simulation.max_events`` events raises
    :class:`EventLimitError`.
    """
    model = build(scenario, seed)
    bar = ProgressBar(scenario.name) if progress is True else None
    report: Progress | None = (
        bar if bar is not None else (None if isinstance(progress, bool) else progress)
    )
    end = float(scenario.duration if until is None else until)
    drain_on = bool(scenario.simulation.drain if drain is None else drain)
    if drain_on:
        for flow in model.flows.values():  # no arrival after the end, even with --until
            flow.stop = min(flow.stop, end)
    meta: dict[str, Any] = {  # RunResult.meta, written as meta.json
        "run_id": new_run_id(),  # names this run's files (smtpsim.metrics.run_dir)
        "scenario": scenario.name,
        "scenario_digest": scenario.digest(),
        "seed": model.seed,
        "until_s": end,
        "warmup_s": float(scenario.warmup),
        "wire": bool(scenario.simulation.wire),
        "versions": _versions(),
        "hosts": {
            key: {"name": h.name, "ip": h.ip, "role": h.role} for key, h in model.hosts.items()
        },
        "incidents": model.incidents,
        "drain": drain_on,
    }
    if drain_on:
        meta["drain_limit_s"] = float(scenario.simulation.drain_limit)
    wall0 = time.perf_counter()
    try:
        if report is None:
            model.run(end)
        else:
            for k in range(1, _STEPS + 1):
                model.run(end * k / _STEPS)
                report(model.env.now, end, len(model.recorder.m_size))
        if drain_on:
            meta["drained_at_s"] = run_drain(model, end + meta["drain_limit_s"])
    except Exception as exc:
        meta["exception"] = "".join(traceback.format_exception(exc))
        raise
    finally:
        if bar is not None:
            bar.close()
        meta["wall_s"] = time.perf_counter() - wall0
        meta["events"] = next(model.env._eid)  # SimPy's event counter
        meta["sessions"] = model.sessions()
        meta["sim_time_s"] = float(model.env.now)
    return RunResult.from_recorder(model.recorder, meta)


def run_drain(model: Model, limit: float) -> float | None:
    """Run ``model`` on from now until no recipient is pending (every one delivered,
    bounced, expired or lost: the queues are empty) or until ``limit``; the time it
    settled, or None when ``limit`` came first.

    The recorder counts the pending recipients and calls ``on_settled`` when the count
    falls to 0, which ends the run at that very instant. A bounce notice created in
    the same instant (for the last recipient, bounced) makes the count positive again:
    then the run goes on.
    """
    env = model.env
    recorder = model.recorder
    while recorder.pending and env.now < limit:
        settled = env.event()
        recorder.on_settled = settled.succeed
        env.run(until=simpy.AnyOf(env, [settled, env.timeout(limit - env.now)]))
        recorder.on_settled = None
    return float(env.now) if not recorder.pending else None


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("smtpsim", "simpy", "numpy", "networkx", "pandas", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "unknown"
    return out
