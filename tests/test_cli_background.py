"""``smtpsim run`` writes the tables, the figures and the report in a forked process
while it writes the maillog (``smtpsim.cli.background``): the same files as one
process writes, a failure there fails the run and keeps ``--out`` as it was, and the
forked process never outlives ``smtpsim run``."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from smtpsim.cli import background
from smtpsim.metrics.run_dir import check_run_dir

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "quickstart.yaml")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

pytestmark = pytest.mark.skipif(
    not background.can_fork(), reason="the output stage forks only on Linux with 2+ CPUs"
)

# `smtpsim run` with one change made first (a Python statement), then the CLI.
_WRAPPED = """
import sys
{change}
from smtpsim.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def _run(
    out: Path, *more: str, change: str = "", env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    args = ["run", SCENARIO, "--until", "10min", "--seed", "3", "--out", str(out), "--quiet"]
    args += more
    return subprocess.Popen(
        [sys.executable, "-c", _WRAPPED.format(change=change), *args],
        env=env or ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finished(proc: subprocess.Popen[str]) -> tuple[int, str]:
    _, err = proc.communicate(timeout=180)
    return proc.returncode, err


def test_the_forked_output_stage_writes_what_one_process_writes(tmp_path: Path) -> None:
    forked, alone = tmp_path / "forked", tmp_path / "alone"
    status, err = _finished(_run(forked))
    assert status == 0, err
    serial = "import smtpsim.cli.background as b; b.can_fork = lambda: False"
    status, err = _finished(_run(alone, change=serial))
    assert status == 0, err
    for run in (forked, alone):
        check_run_dir(run)  # whole: every file listed in the manifest, digests right
    pngs = sorted(p.name for p in (alone / "plots").glob("*.png"))
    assert len(pngs) == 5
    assert sorted(p.name for p in (forked / "plots").glob("*.png")) == pngs
    for name in [*(f"plots/{p}" for p in pngs), "maillog", "summary.json", "scenario.yaml"]:
        assert (forked / name).read_bytes() == (alone / name).read_bytes(), name
    for table in ("messages", "recipients", "attempts", "levels"):
        a = pd.read_parquet(forked / f"{table}.parquet")
        b = pd.read_parquet(alone / f"{table}.parquet")
        assert a.equals(b), table
    # the report names its own run (drawn by the forked process from the same result)
    meta = json.loads((forked / "meta.json").read_text())
    manifest = json.loads((forked / "manifest.json").read_text())
    assert meta["run_id"] == manifest["run_id"]
    assert "report.html" in manifest["derived"] and (forked / "report.html").stat().st_size


def test_a_failure_in_the_forked_process_fails_the_run_and_writes_nothing(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    boom = (
        "import smtpsim.plots as p\n"
        "def boom(*args, **kwargs):\n"
        "    raise RuntimeError('no figures today')\n"
        "p.write_plots = boom"
    )
    status, err = _finished(_run(out, change=boom))
    assert status == 1
    assert "cannot draw the plots: RuntimeError: no figures today" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no staged directory left either


def test_tables_the_forked_process_cannot_write_fail_the_run(tmp_path: Path) -> None:
    """The tables are the worker's to write: a disk error there is the run's (exit 2,
    one line naming the place), and nothing is kept."""
    out = tmp_path / "run"
    full = (
        "import errno, os, smtpsim.metrics.result as r\n"
        "def full(*args, **kwargs):\n"
        "    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "r.RunResult.write_tables = full"
    )
    status, err = _finished(_run(out, change=full))
    assert status == 2, err
    assert f"cannot write results to {out}: [Errno {errno.ENOSPC}]" in err
    assert "Traceback" not in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_run_that_fails_while_simulating_stops_the_waiting_worker(tmp_path: Path) -> None:
    """The worker is forked before the simulation; when the run never gets to send it
    a result, it leaves without a word and is reaped (``smtpsim run`` reports the
    run's own error only)."""
    out = tmp_path / "run"
    status, err = _finished(_run(out, "--set", "simulation.max_events=2000"))
    assert status == 2
    assert "stopped after 2,000 events" in err
    assert "worker" not in err and "Traceback" not in err
    assert not out.exists()


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie waiting for whoever adopted it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_the_forked_process_dies_with_smtpsim_run(tmp_path: Path) -> None:
    """SIGKILL of ``smtpsim run`` while its forked process draws the figures (paused
    there by the test hook): the forked process stops too, and ``--out`` is not made."""
    out = tmp_path / "run"
    env = {**ENV, "SMTPSIM_TEST_PAUSE_AT": "plots", "SMTPSIM_TEST_PAUSE_S": "60"}
    proc = _run(out, env=env)
    paused = threading.Event()

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == "smtpsim: test pause at plots":
                paused.set()

    threading.Thread(target=watch, daemon=True).start()
    if not paused.wait(120):
        proc.kill()
        pytest.fail("smtpsim run never reached the plots")
    children = _children(proc.pid)
    assert len(children) == 1  # the figures are drawn by a forked process, not the parent
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while not _gone(children[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not _gone(children[0]):
        os.kill(children[0], signal.SIGKILL)
        pytest.fail("the forked process outlived smtpsim run")
    assert not out.exists()


def test_a_killed_worker_fails_the_run_with_a_message(tmp_path: Path) -> None:
    """The worker killed while it draws (as the OOM killer would): ``smtpsim run`` says
    so, exits 1 and leaves ``--out`` as it was."""
    out = tmp_path / "run"
    env = {**ENV, "SMTPSIM_TEST_PAUSE_AT": "plots", "SMTPSIM_TEST_PAUSE_S": "60"}
    proc = _run(out, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == "smtpsim: test pause at plots":
            break
    (worker,) = _children(proc.pid)
    os.kill(worker, signal.SIGKILL)
    status, err = _finished(proc)
    assert status == 1
    assert f"process was killed (signal {int(signal.SIGKILL)})" in err
    assert "Traceback" not in err
    assert not out.exists()
