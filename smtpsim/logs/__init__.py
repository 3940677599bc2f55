"""Reading what real mail servers log: ``postfix_log`` turns a Postfix maillog (or the
one ``smtpsim run`` writes) into the tables of a run (docs/results.md).

Shared by the oracle (real Postfix's logs compared with smtpsim's runs) and the fitter
(scenarios made from an operator's logs), so it sits below both and loads nothing of
the simulation: the standard library and pandas only (tests/test_architecture.py).
"""
