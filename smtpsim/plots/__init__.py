"""Figures of a run, from its result tables only (pandas and matplotlib; nothing of
the engine).

Each figure is a function that takes DataFrames (``docs/results.md``), an optional
``incidents`` list for time axes (``{"kind", "target", "start", "end"}``, as in
``RunResult.meta["incidents"]``) and an optional matplotlib ``ax``, and returns the
``Axes`` it drew on::

    import matplotlib.pyplot as plt
    from smtpsim import plots

    fig, ax = plt.subplots()
    plots.delay_cdf(result.recipients, result.messages, ax=ax)

Without ``ax``, a figure gets a new ``matplotlib.figure.Figure`` of its own (not
through pyplot): ``ax.figure.savefig(...)``. ``write_plots(result, dir)`` writes them
all. Time axes are in minutes, or in hours for a run longer than 3 h.
"""

from ._common import Incident, parse_incidents
from .bounces import bounces_by_dsn, dsn_meaning, failed_by_dsn
from .breakdown import COMPONENTS, delay_breakdown, delay_components
from .cdf import delay_cdf
from .experiment import (
    compared_metric,
    compared_metrics,
    queue_bands,
    replication_cdf,
    sweep_metric,
)
from .outcomes import deferral_counts, deferrals_over_time, outcome_counts, outcomes_over_time
from .output import FIGURES, FORMATS, figure_totals, write_plots
from .population import recipients_of_interest
from .queues import level_bins, queue_sizes

__all__ = [
    "COMPONENTS",
    "FIGURES",
    "FORMATS",
    "Incident",
    "bounces_by_dsn",
    "compared_metric",
    "compared_metrics",
    "deferral_counts",
    "deferrals_over_time",
    "delay_breakdown",
    "delay_cdf",
    "delay_components",
    "dsn_meaning",
    "failed_by_dsn",
    "figure_totals",
    "level_bins",
    "outcome_counts",
    "outcomes_over_time",
    "parse_incidents",
    "queue_bands",
    "queue_sizes",
    "recipients_of_interest",
    "replication_cdf",
    "sweep_metric",
    "write_plots",
]
