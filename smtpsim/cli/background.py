"""Part of ``smtpsim run``'s output stage in a forked process, beside the rest.

After simulating, the tables, the figures and the report (matplotlib) do not depend
on the maillog, and a machine with two cores or more can write both at once (issue
10, route 4). ``smtpsim run`` forks the worker before it simulates: while the parent
simulates (on one core), the worker imports matplotlib and the figure code (on the
other), then waits. Once the run is over, the parent sends it the result and the
summary, pickled through a pipe (a few tens of milliseconds: the tables are numpy and
Arrow buffers), and writes ``summary.json``, ``meta.json`` and the maillog while the
worker writes the tables and draws into the same staging directory (the two shares
take about as long: 1.4 s each for ``scenarios/blacklisting-incident.yaml``); the
parent commits the directory only after the worker has exited with status 0. The
files are the same, byte for byte, as one process writes
(``tests/test_cli_background.py``).

Forking is used only on Linux (elsewhere, and with one CPU, the parent does the work
itself, in the same order): macOS system libraries are not fork-safe, and Windows has
no ``fork``. The worker never outlives the parent (``PR_SET_PDEATHSIG``: a ``kill -9``
of ``smtpsim run`` stops it too), ignores Ctrl-C (the parent, which gets it as well,
stops the worker and says what the results directory holds), and leaves through
``os._exit``, so none of the parent's clean-up (``Stage.abort``) runs in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Worker", "can_fork", "start"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Worker:
    """The parent's handle on a forked worker: ``send`` it its input once, then
    ``wait`` for its exit status; ``stop`` whatever happens."""

    def __init__(self, pid: int, pipe: int) -> None:
        self.pid = pid
        self._pipe: int | None = pipe  # the write end: the worker reads to its end
        self._status: int | None = None

    def send(self, payload: object) -> None:
        """Give the worker its input (pickled), and let it start. A worker that has
        already failed (a broken pipe) says so through ``wait``."""
        assert self._pipe is not None, "send once"
        fd, self._pipe = self._pipe, None
        with contextlib.suppress(BrokenPipeError), os.fdopen(fd, "wb") as pipe:
            pickle.dump(payload, pipe, protocol=pickle.HIGHEST_PROTOCOL)

    def wait(self) -> int:
        """The worker's exit status once it has exited (128 + N if signal N killed it)."""
        self._close()
        if self._status is None:
            _, raw = os.waitpid(self.pid, 0)
            status = os.waitstatus_to_exitcode(raw)
            self._status = 128 - status if status < 0 else status
        return self._status

    def stop(self) -> None:
        """Kill the worker if it still runs, and reap it (no zombie left behind)."""
        self._close()
        if self._status is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.wait()

    def _close(self) -> None:
        if self._pipe is not None:  # never sent: the worker reads nothing and leaves
            os.close(self._pipe)
            self._pipe = None


def can_fork() -> bool:
    """Whether ``start`` forks here: Linux, and a second CPU for the worker to use."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def start(prepare: Callable[[], object], work: Callable[[Any], int]) -> Worker | None:
    """Fork a worker that calls ``prepare()`` at once (imports, while the parent goes
    on), then ``work(payload)`` with what the parent ``send``\\ s; ``work`` returns an
    exit status and reports its own failures on stderr. A worker sent nothing (the
    parent failed first) exits quietly. ``None`` where ``can_fork`` is false: the
    caller then does the work itself."""
    if not can_fork():
        return None
    sys.stdout.flush()  # nothing buffered is written twice
    sys.stderr.flush()
    parent = os.getpid()
    read, write = os.pipe()
    pid = os.fork()
    if pid:
        os.close(read)
        return Worker(pid, write)
    status = 1
    try:  # the worker: whatever happens, it leaves through os._exit below
        os.close(write)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with_parent(parent)
        prepare()
        with os.fdopen(read, "rb") as pipe:
            data = pipe.read()
        status = work(pickle.loads(data)) if data else 0
    except BaseException as error:  # a bug of ours: one line, as the parent would say it
        print(
            f"smtpsim: the output worker failed: {type(error).__name__}: {error}",
            file=sys.stderr,
        )
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (``prctl(2)``); if the
    parent is already gone, exit now."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: the worker simply finishes its work
        return
    if os.getppid() != parent:  # the parent died between fork and prctl
        os._exit(1)
