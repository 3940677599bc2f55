"""Experiments: replications of runs, their statistics, executors and a result store;
``compare`` (configurations side by side, with paired differences) and ``sweep``
(parameters varied, resumable) on top of them.

    from smtpsim.experiment import RunSpec, make_executor, mean_ci
    text = open("scenarios/quickstart.yaml").read()
    specs = [RunSpec(text, ("duration=20min",), r, base_seed=1) for r in range(10)]
    records = make_executor(jobs=4).map(specs)
    mean_ci([r.metrics["delay_p95"] for r in records])

A run is described by a ``RunSpec`` (the scenario text, overrides, replication and base
seed) and executed anywhere by ``execute`` into a ``RunRecord`` (metrics, delay
quantiles, queue series, or the error); ``ResultStore`` keeps records by key so that
sweeps resume. Configurations compared with the same base seed share each
replication's seed: common random numbers (``seeds``).
"""

from .compare import Comparison, compare
from .executors import DaskExecutor, Executor, LocalExecutor, SerialExecutor, make_executor
from .metrics import METRICS, run_metrics
from .options import RunOptions
from .runner import RunRecord, RunSpec, execute
from .seeds import replication_seed
from .stats import mean_ci, needs_more, paired_difference, t_quantile
from .store import ResultStore
from .sweep import SweepResult, sweep

__all__ = [
    "METRICS",
    "Comparison",
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "ResultStore",
    "RunOptions",
    "RunRecord",
    "RunSpec",
    "SerialExecutor",
    "SweepResult",
    "compare",
    "execute",
    "make_executor",
    "mean_ci",
    "needs_more",
    "paired_difference",
    "replication_seed",
    "run_metrics",
    "sweep",
    "t_quantile",
]
