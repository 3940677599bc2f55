"""A sweep whose main process is killed leaves nothing running (issue 9, item 6).

``smtpsim sweep --jobs 2`` starts worker processes (through a forkserver, with a
resource tracker beside it). SIGKILL gives the main process no chance to stop them;
each worker watches a pipe whose write end only the main process holds, and exits
when it reads end-of-file; the forkserver and the tracker end once the workers,
which hold their pipes too, are gone. Here: kill the main process while runs are in
progress, and every process it started must be gone within 10 s.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 10.0


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_killing_the_main_process_of_a_sweep_leaves_no_process_behind(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    # 2 x 10 runs of a 10-minute quickstart: some finish (the workers are past their
    # imports and running) long before all of them do.
    main = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smtpsim",
            "sweep",
            str(ROOT / "scenarios" / "quickstart.yaml"),
            "--vary",
            "traffic.staff.rate=1/s,2/s",
            "--replications",
            "10",
            "--jobs",
            "2",
            "--until",
            "10min",
            "--out",
            str(out),
            "--no-plots",
            "--quiet",
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    started: list[psutil.Process] = []
    try:
        parent = psutil.Process(main.pid)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and main.poll() is None:
            done = list((out / "runs").glob("*.json")) if (out / "runs").exists() else []
            started = parent.children(recursive=True)
            if done and len(started) >= 3:  # workers, forkserver (and tracker)
                break
            time.sleep(0.2)
        assert main.poll() is None, "the sweep ended before it could be killed"
        assert len(list((out / "runs").glob("*.json"))) < 20, "the sweep was too fast"
        started = parent.children(recursive=True)  # everything alive at the kill
        workers = [p for p in started if "forkserver" in " ".join(p.cmdline())]
        assert len(workers) >= 3, [p.cmdline() for p in started]  # the server and 2 workers

        main.send_signal(signal.SIGKILL)
        main.wait(timeout=10)
        killed_at = time.monotonic()
        while _alive(started) and time.monotonic() - killed_at < GRACE_S:
            time.sleep(0.1)
        left = _alive(started)
        assert not left, [(p.pid, p.cmdline()[-1][:60]) for p in left]
    finally:
        for p in _alive(started):  # never leave them to the next test
            p.kill()
        if main.poll() is None:
            main.kill()
            main.wait()
