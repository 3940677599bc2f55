"""Scenarios fitted from real Postfix logs (``smtpsim fit``, issue 15).

``fit_logs(paths, FitOptions(...))`` reads the logs (:mod:`smtpsim.logs`), fits the
traffic (:mod:`.traffic`: flows, rates, sizes, recipients, domains, unknown
recipients) and the destinations' behaviour (:mod:`.destinations`), with the
uncertainty of each estimate (:mod:`.estimates`), and returns a :class:`Fit` whose
``scenario`` ``smtpsim run`` takes; :mod:`.report` says what was fitted, how well,
and what could not be, and why.
"""

from __future__ import annotations

from .fitter import Fit, FitOptions, fit_log, fit_logs, outcome_counts

__all__ = ["Fit", "FitOptions", "fit_log", "fit_logs", "outcome_counts"]
