"""Real result tables for the figure tests: a short quickstart run, and one where
mx-small is cut off the internet for a while (deferrals, expiries, pending mail)."""

from __future__ import annotations

import pytest
from model_runs import REPO, at_times, run_model

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import Model

QUICKSTART = REPO / "scenarios" / "quickstart.yaml"

# The outage ends 10 minutes before the run does: after it, out's smtp client still
# treats smallorg.example as dead for up to minimal_backoff_time (300 s) from its last
# failed connection, and some of its mail must get through before the end.
OUTAGE = {"kind": "link-down", "target": "mx-small", "start": 300.0, "end": 1800.0}


@pytest.fixture(scope="session")
def quick() -> RunResult:
    """Quickstart for 10 simulated minutes: everything delivered but the 5.1.1 bounces."""
    scenario = smtpsim.load_scenario(QUICKSTART)
    return smtpsim.simulate(scenario, until=600.0)


@pytest.fixture(scope="session")
def outage() -> RunResult:
    """Quickstart with a 10-minute lifetime at `out` and mx-small's link down from
    300 s to 1800 s, run to 2400 s; the incident is in meta as the lead will put it."""

    def cut(model: Model) -> None:
        link = model.link("mx-small", "internet")
        at_times(
            model,
            (OUTAGE["start"], lambda: setattr(link, "up", False)),
            (OUTAGE["end"], lambda: setattr(link, "up", True)),
        )

    _, result = run_model(
        QUICKSTART,
        seed=None,
        until=2400.0,
        setup=cut,
        overrides=[
            "hosts.out.postfix.maximal_queue_lifetime=10min",
            "hosts.out.postfix.bounce_queue_lifetime=10min",
        ],
        meta={
            "scenario": "quickstart-outage",
            "until_s": 2400.0,
            "sim_time_s": 2400.0,
            "warmup_s": 0.0,
            "incidents": [dict(OUTAGE)],
        },
    )
    return result
