"""The oracle: real Postfix 3.7 against smtpsim on the same workload and faults (issue 11).

Modules: ``postfix_instance`` (a private Postfix), ``serve_process`` (``smtpsim serve``
as a child), ``submission`` (Poisson submission over SMTP), ``experiment`` (one
experiment both ways), ``catalogue`` (the experiments), ``comparison`` (metrics,
tolerances, verdicts), ``figures``, ``report`` (``docs/validation.md``);
``python -m smtpsim.oracle report``.
The maillog reader is :mod:`smtpsim.logs.postfix_log`, shared with the fitter.
"""
