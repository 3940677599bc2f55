"""``smtpsim serve`` as a child process: the receiving side of an oracle experiment.

Started with ``--listen 127.0.0.1:0`` (a free loopback port, read from its first line
on stdout), stopped by its PID (SIGTERM, then SIGKILL after 5 s) on every path: use
:func:`running_serve` as a context manager. Its stdout (one line per accepted message
and per refused command) is kept in a file beside the experiment's other output.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ServeProcess:
    """A running ``smtpsim serve``: its process and the port it listens on."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path


def _read_first_line(path: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        if "\n" in text:
            return text.split("\n", 1)[0]
        if process.poll() is not None:
            raise RuntimeError(f"smtpsim serve exited with status {process.returncode}")
        time.sleep(0.02)
    raise RuntimeError(f"smtpsim serve printed nothing in {timeout:g} s")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, SIGKILL if it has not ended 5 s later; reaps it."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=5)


@contextlib.contextmanager
def running_serve(args: Sequence[str], log: Path) -> Iterator[ServeProcess]:
    """``python -m smtpsim serve --listen 127.0.0.1:0 ARGS``, stopped on leaving."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "smtpsim", "serve", "--listen", "127.0.0.1:0", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        first = _read_first_line(log, process, timeout=30)
        prefix = "smtpsim serve: listening on 127.0.0.1:"
        if not first.startswith(prefix):
            raise RuntimeError(f"smtpsim serve said {first!r}")
        yield ServeProcess(process, int(first[len(prefix) :]), log)
    finally:
        stop_process(process)
