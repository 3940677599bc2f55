"""smtpsim: a discrete-event simulator of networks of SMTP servers.

The public API::

    import smtpsim
    scenario = smtpsim.load_scenario("scenarios/quickstart.yaml", overrides=["seed=7"])
    result = smtpsim.simulate(scenario, seed=7)   # a RunResult
    result.recipients                             # pandas DataFrames, see docs/results.md
    result.summary()
    options = smtpsim.RunOptions(replications=10, until="30min")  # shared by every run
    comparison = smtpsim.compare(["a.yaml", "b.yaml"], options)   # with CIs
    swept = smtpsim.sweep("a.yaml", options, vary={"traffic.staff.rate": ["1/s", "2/s"]},
                          out="results/rate")                      # resumable

Layers (docs/architecture.md): ``protocol`` (sans-IO SMTP), ``mail`` (policies),
``drivers`` (real sockets), ``sim``/``net``/``mta``/``workload`` (the engine),
``scenario`` (the YAML format), ``model`` (building a run), ``metrics`` (results).
"""

import os
from typing import Any

__version__ = "0.1.0"

if os.environ.get("SMTPSIM_PURE", "").strip() == "1":  # the sources, even if compiled
    from . import compiled  # (smtpsim/compiled.py), loaded only then

    compiled.use_sources()

__all__ = [
    "RunOptions",
    "RunResult",
    "ScenarioError",
    "__version__",
    "compare",
    "load_scenario",
    "simulate",
    "sweep",
]


def __dir__() -> list[str]:
    # the public API, which __getattr__ loads lazily, is what dir(smtpsim) shows
    return sorted(set(__all__) | {"__doc__", "__name__", "__path__", "__file__"})


def __getattr__(name: str) -> Any:
    # Lazily, so that ``import smtpsim.protocol`` stays free of the simulation stack.
    if name in ("load_scenario", "ScenarioError"):
        from . import scenario

        return getattr(scenario, name)
    if name == "simulate":
        from .simulation import simulate

        return simulate
    if name == "compare":
        from .experiment.compare import compare

        return compare
    if name == "sweep":
        from .experiment.sweep import sweep

        return sweep
    if name == "RunOptions":
        from .experiment.options import RunOptions

        return RunOptions
    if name == "RunResult":
        from .metrics.result import RunResult

        return RunResult
    raise AttributeError(f"module 'smtpsim' has no attribute {name!r}")
