"""Results directories for the report tests: a short quickstart run written by
``smtpsim run`` (with its report.html), and a small comparison."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # browser.py, report_helpers.py

from report_helpers import QUICKSTART, smtpsim_cli


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Quickstart for 10 simulated minutes, by the CLI, with one override."""
    out = tmp_path_factory.mktemp("reports") / "qs"
    done = smtpsim_cli(
        "run",
        str(QUICKSTART),
        "--until",
        "10min",
        "--out",
        str(out),
        "--set",
        "traffic.staff.unknown_users=5%",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def compare_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports") / "cmp"
    done = smtpsim_cli(
        "compare",
        str(QUICKSTART),
        f"{QUICKSTART}::traffic.staff.unknown_users=10%",
        "--replications",
        "2",
        "--until",
        "5min",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="session")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A categorical parameter (retry behaviours), one replication, 3 minutes."""
    out = tmp_path_factory.mktemp("reports") / "sweep"
    done = smtpsim_cli(
        "sweep",
        str(QUICKSTART),
        "--vary",
        "hosts.out.retry=postfix,impatient",
        "--replications",
        "1",
        "--until",
        "3min",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    return out
