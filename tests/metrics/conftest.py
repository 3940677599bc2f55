"""Runs shared by the maillog tests: the quickstart scenario as it is, and the
quickstart with mx-small's link down for 20 minutes and a 10-minute queue lifetime at
`out` (deferrals, a dead destination, expiries and their bounces)."""

from __future__ import annotations

from pathlib import Path

import pytest
from maillog_helpers import run_quickstart

from smtpsim.metrics.maillog import write_maillog
from smtpsim.metrics.result import RunResult


@pytest.fixture(scope="session")
def quickstart() -> RunResult:
    return run_quickstart()


@pytest.fixture(scope="session")
def outage() -> RunResult:
    return run_quickstart(
        overrides=("hosts.out.postfix.maximal_queue_lifetime=10min",),
        until=1800.0,
        link_down=(300.0, 1500.0),
    )


@pytest.fixture(scope="session")
def quickstart_log(quickstart: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_maillog(quickstart, tmp_path_factory.mktemp("quickstart") / "maillog")


@pytest.fixture(scope="session")
def outage_log(outage: RunResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_maillog(outage, tmp_path_factory.mktemp("outage") / "maillog")
