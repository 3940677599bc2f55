"""Part of ``smtpsim run``'s output stage in a forked process, beside the rest.

After simulating, the figures and the report (matplotlib: about a third of the output
stage) do not depend on the maillog (the largest part), and a machine with two cores
or more can write both at once (issue 10, route 4). A forked child starts with the
parent's finished ``RunResult`` in memory, copy on write, so nothing is serialized
or read back: the child runs exactly the code the parent would have run, into the
same staging directory, and the parent commits the directory only after the child
has exited with status 0. The outputs are the same files, byte for byte, as when one
process writes them all (``tests/test_cli_background.py``).

Forking is used only on Linux (elsewhere, and with one CPU, the parent does the work
itself, in the same order): macOS system libraries are not fork-safe, and Windows has
no ``fork``. The child never outlives the parent (``PR_SET_PDEATHSIG``: a ``kill -9``
of ``smtpsim run`` stops it too), ignores Ctrl-C (the parent, which gets it as well,
stops the child and says what the results directory holds), and leaves through
``os._exit``, so none of the parent's clean-up (``Stage.abort``) runs in it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["Background", "start"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Background:
    """A forked child running one function; ``wait`` gives its exit status."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._status: int | None = None

    def wait(self) -> int:
        """The child's exit status once it has exited (128 + N if signal N killed it)."""
        if self._status is None:
            _, raw = os.waitpid(self.pid, 0)
            self._status = os.waitstatus_to_exitcode(raw)
            if self._status < 0:
                self._status = 128 - self._status
        return self._status

    def stop(self) -> None:
        """Kill the child if it still runs, and reap it (no zombie left behind)."""
        if self._status is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.wait()


def can_fork() -> bool:
    """Whether ``start`` forks here: Linux, and a second CPU for the child to use."""
    return sys.platform.startswith("linux") and (os.cpu_count() or 1) > 1


def start(work: Callable[[], int]) -> Background | None:
    """Run ``work`` (which returns an exit status and reports its own failures on
    stderr) in a forked child; ``None`` where ``can_fork`` is false, and the caller
    runs ``work`` itself."""
    if not can_fork():
        return None
    sys.stdout.flush()  # nothing buffered is written twice
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return Background(pid)
    status = 1
    try:  # the child: whatever happens, it leaves through os._exit below
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _die_with_parent(parent)
        status = work()
    except BaseException as error:  # a bug of ours: one line, as the parent would say it
        print(
            f"smtpsim: the background output process failed: {type(error).__name__}: {error}",
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
    except (OSError, AttributeError):  # no prctl: the child simply finishes its work
        return
    if os.getppid() != parent:  # the parent died between fork and prctl
        os._exit(1)
