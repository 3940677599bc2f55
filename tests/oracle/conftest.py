"""The oracle experiments run once per test session, all at once (each has its own
private Postfix and smtpsim serve on its own loopback ports), so that the suite takes
about as long as its longest experiment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from smtpsim.oracle.catalogue import ALL
from smtpsim.oracle.comparison import Row, compare
from smtpsim.oracle.experiment import Experiment, Outcome, run_experiment, tables_of
from smtpsim.oracle.postfix_instance import postfix_missing


def _compared(exp: Experiment) -> tuple[Outcome, dict[str, Row]] | BaseException:
    try:
        outcome = run_experiment(exp)
    except Exception as exc:  # the experiment's own test reports it
        return exc
    sides = tables_of(outcome)
    rows = compare(exp.metrics, sides[0][1], [t for _, t in sides[1:]])
    return outcome, {r.metric.key: r for r in rows}


@pytest.fixture(scope="session")
def oracle_results() -> dict[str, tuple[Outcome, dict[str, Row]] | BaseException]:
    if postfix_missing() is not None:
        return {}
    with ThreadPoolExecutor(max_workers=len(ALL)) as pool:
        done = list(pool.map(_compared, ALL))
    return {exp.key: result for exp, result in zip(ALL, done, strict=True)}
