"""``smtpsim run`` killed at each point of its output stage over an earlier run: the
results directory holds the complete earlier run or the complete new one, never a
mix, and ``plot`` and ``report`` say which (``smtpsim.metrics.run_dir``; issue 9)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from smtpsim.metrics.run_dir import RunDirError, check_run_dir

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "quickstart.yaml")
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def _smtpsim(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", *args],
        env=env or ENV,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _run_args(out: Path, seed: int) -> list[str]:
    return ["run", SCENARIO, "--until", "5min", "--seed", str(seed), "--out", str(out), "--quiet"]


@pytest.fixture(scope="module")
def earlier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("earlier") / "run"
    done = _smtpsim(*_run_args(out, 1))
    assert done.returncode == 0, done.stderr
    return out


def _old_id(directory: Path) -> str:
    return str(json.loads((directory / "meta.json").read_text())["run_id"])


def _paused(out: Path, stage: str) -> subprocess.Popen[str]:
    """``smtpsim run --force`` over ``out``, stopped at ``stage`` (it says so)."""
    env = {**ENV, "SMTPSIM_TEST_PAUSE_AT": stage, "SMTPSIM_TEST_PAUSE_S": "60"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smtpsim", *_run_args(out, 2), "--force"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    seen = threading.Event()

    def watch() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.strip() == f"smtpsim: test pause at {stage}":
                seen.set()
                return

    threading.Thread(target=watch, daemon=True).start()
    if not seen.wait(120):
        proc.kill()
        pytest.fail(f"smtpsim run never reached {stage}")
    return proc


def _leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


@pytest.mark.parametrize(
    "stage", ["simulating", "tables", "maillog", "plots", "report", "manifest"]
)
def test_ctrl_c_keeps_the_earlier_run_and_says_so(
    earlier: Path, tmp_path: Path, stage: str
) -> None:
    out = tmp_path / "run"
    shutil.copytree(earlier, out)
    old = _old_id(out)
    proc = _paused(out, stage)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    part = "simulating" if stage == "simulating" else "writing the results"
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith(
            f"smtpsim run: interrupted while {part}; {out} unchanged: it still holds run {old} "
            "(scenario quickstart, seed 1, written "
        )
    )
    assert "Traceback" not in err
    assert check_run_dir(out).run_id == old  # whole, and the earlier one
    assert _leftovers(out) == []  # the staged files are gone
    plot = _smtpsim("plot", str(out))
    assert plot.returncode == 0 and plot.stdout.startswith(f"plots of run {old} ")
    if stage == "report":
        report = _smtpsim("report", str(out))
        assert report.returncode == 0 and report.stdout.startswith(f"report of run {old} ")


@pytest.mark.parametrize("stage", ["tables", "maillog", "manifest", "swapped"])
def test_sigkill_leaves_one_whole_run(earlier: Path, tmp_path: Path, stage: str) -> None:
    out = tmp_path / "run"
    shutil.copytree(earlier, out)
    old = _old_id(out)
    proc = _paused(out, stage)
    proc.kill()
    proc.communicate(timeout=60)
    info = check_run_dir(out)
    if stage == "swapped":  # the names were exchanged: the new run is in place, whole
        assert info.run_id != old and info.seed == 2
    else:
        assert info.run_id == old and info.seed == 1
    which = f"plots of run {info.run_id} (scenario quickstart, seed {info.seed}, written "
    plot = _smtpsim("plot", str(out))
    assert plot.returncode == 0 and plot.stdout.startswith(which)
    # the killed writer left its hidden directory (the new files, or the earlier run
    # after the exchange); it is no results directory, and the next run deletes it
    left = _leftovers(out)
    assert len(left) == 1 and ".partial-" in left[0]
    with pytest.raises(RunDirError, match="unfinished output of an interrupted run"):
        check_run_dir(out.parent / left[0])
    again = _smtpsim(*_run_args(out, 3), "--force", "--no-plots", "--no-report")
    assert again.returncode == 0, again.stderr
    assert _leftovers(out) == []
    assert check_run_dir(out).seed == 3


def test_a_run_is_never_written_over_without_force(earlier: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    shutil.copytree(earlier, out)
    old = _old_id(out)
    # refused before simulating: a paused simulation would never be reached
    env = {**ENV, "SMTPSIM_TEST_PAUSE_AT": "simulating", "SMTPSIM_TEST_PAUSE_S": "60"}
    done = _smtpsim(*_run_args(out, 2), env=env)
    assert done.returncode == 2
    assert done.stderr == (
        f"smtpsim run: error: {out} already holds run {old} (scenario "
        f"quickstart, seed 1, written {check_run_dir(out).written_at}); "
        "--force replaces it\n"
    )
    assert check_run_dir(out).run_id == old and _leftovers(out) == []
