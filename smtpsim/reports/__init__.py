"""Reports for people: the self-contained ``report.html`` of a run, the look shared
with the compare and sweep reports (``page``), and one message's journey
(``trace``).

Reports read result tables, ``meta`` and figures only (``smtpsim.metrics``,
``smtpsim.plots``, ``smtpsim.scenario``): nothing of the engine.
"""

from .run import build_run_report, write_run_report

__all__ = ["build_run_report", "write_run_report"]
