"""Real result tables for the figure tests: a short quickstart run, and one where
mx-small is cut off the internet for a while (deferrals, expiries, pending mail)."""

from __future__ import annotations

from pathlib import Path

import pytest

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.model import build

REPO = Path(__file__).resolve().parents[2]
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
    scenario = smtpsim.load_scenario(QUICKSTART, overrides=[
        "hosts.out.postfix.maximal_queue_lifetime=10min",
        "hosts.out.postfix.bounce_queue_lifetime=10min",
    ])
    model = build(scenario)

    def cut():
        yield model.env.timeout(OUTAGE["start"])
        model.link("mx-small", "internet").up = False
        yield model.env.timeout(OUTAGE["end"] - OUTAGE["start"])
        model.link("mx-small", "internet").up = True

    model.env.process(cut())
    model.run(2400.0)
    meta = {"scenario": "quickstart-outage", "seed": scenario.seed, "until_s": 2400.0,
            "sim_time_s": 2400.0, "warmup_s": 0.0, "incidents": [dict(OUTAGE)]}
    return RunResult.from_recorder(model.recorder, meta)
