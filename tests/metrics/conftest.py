"""Runs shared by the maillog tests: the quickstart scenario as it is, and the
quickstart with mx-small's link down for 20 minutes and a 10-minute queue lifetime at
`out` (deferrals, a dead destination, expiries and their bounces)."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

import smtpsim
from smtpsim.metrics.maillog import host_table, write_maillog
from smtpsim.metrics.result import RunResult
from smtpsim.model import build

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"


def run_quickstart(*, overrides: tuple[str, ...] = (), until: float | None = None,
                   link_down: tuple[float, float] | None = None) -> RunResult:
    """Run the quickstart; ``link_down=(t0, t1)`` cuts mx-small's link meanwhile."""
    scenario = smtpsim.load_scenario(QUICKSTART, overrides=list(overrides))
    model = build(scenario)
    if link_down is not None:
        start, end = link_down

        def outage() -> Generator[Any, Any, None]:
            link = model.link("mx-small", "internet")
            yield model.env.timeout(start)
            link.up = False
            yield model.env.timeout(end - start)
            link.up = True

        model.env.process(outage())
    model.run(until)
    meta = {"scenario": scenario.name, "seed": model.seed, "warmup_s": 0.0,
            "hosts": host_table(model.hosts)}
    return RunResult.from_recorder(model.recorder, meta)


@pytest.fixture(scope="session")
def quickstart() -> RunResult:
    return run_quickstart()


@pytest.fixture(scope="session")
def outage() -> RunResult:
    return run_quickstart(overrides=("hosts.out.postfix.maximal_queue_lifetime=10min",),
                          until=1800.0, link_down=(300.0, 1500.0))


@pytest.fixture(scope="session")
def quickstart_log(quickstart: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_maillog(quickstart, tmp_path_factory.mktemp("quickstart") / "maillog")


@pytest.fixture(scope="session")
def outage_log(outage: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_maillog(outage, tmp_path_factory.mktemp("outage") / "maillog")
