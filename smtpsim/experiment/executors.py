"""Where runs execute: in this process, in local worker processes, or on a Dask cluster.

Every executor has one method, ``map(specs, on_done)``: it runs ``execute`` on each spec
and returns the records in the order of the specs, calling ``on_done(record)`` as each
run finishes, in whatever order they finish, so that a progress bar moves and the
result store saves each record at once: an interrupted batch keeps what finished.
Runs are independent and their seeds travel inside the specs, so where a run executes
does not change its result.

A run that fails gives a record with its error (``execute`` never raises). A failure of
the machinery itself (a worker process killed, a lost scheduler) is raised by ``map``
after ``on_done`` has seen every run that finished before it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing.connection import Connection
from typing import Any, Protocol

from .runner import RunRecord, RunSpec, execute

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SerialExecutor", "make_executor"]

OnDone = Callable[[RunRecord], None]


class Executor(Protocol):
    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        """Run every spec; records in the order of ``specs``; ``on_done`` as each ends."""
        ...

    def close(self) -> None:
        """Release what the executor holds (a Dask client; local pools end per map)."""
        ...


class SerialExecutor:
    """One run after the other, in this process (for debugging, and the reference)."""

    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        records = []
        for spec in specs:
            record = execute(spec)
            if on_done is not None:
                on_done(record)
            records.append(record)
        return records

    def close(self) -> None:
        """Nothing to release (every executor has ``close`` and works with ``with``)."""

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_method() -> str:
    # Never fork this process itself: it may hold threads (a Dask client's, a progress
    # bar's) that a forked child would inherit in an undefined state. 'forkserver' forks
    # the workers from a clean single-threaded server process; 'spawn' starts new ones.
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


PARENT_GONE_EXIT = 70
"""Exit status of a worker that stopped because its parent process is gone."""


def _die_with_parent(lifeline: Connection) -> None:
    """Worker initializer: exit as soon as the process that started the pool is gone.

    ``lifeline`` is the read end of a pipe whose only write end the parent holds: a
    read blocks until the parent dies (whatever killed it, SIGKILL included), when the
    kernel closes the write end and the read sees end-of-file. A worker's parent is the
    forkserver, not our process, so ``getppid()`` or ``PR_SET_PDEATHSIG`` would watch
    the wrong process. The forkserver and the resource tracker end by themselves once
    the workers, which hold their pipes too, are gone.
    """

    def watch() -> None:
        with contextlib.suppress(EOFError, OSError):
            lifeline.recv_bytes()
        os._exit(PARENT_GONE_EXIT)  # no cleanup: the run's results have no one to go to

    threading.Thread(target=watch, name="smtpsim-lifeline", daemon=True).start()


class LocalExecutor:
    """``jobs`` worker processes on this machine (``concurrent.futures``, started with
    'forkserver' where available, else 'spawn'); ``jobs=1`` runs in this process.

    The processes start at the first ``map`` and are kept for the next ones (a
    sequential procedure maps batch after batch; each process pays its imports once).
    ``close()`` (or ``with``) stops them; so does dropping the executor. Each worker
    watches a pipe to this process and exits when it is gone, so a killed sweep leaves
    no process behind (see ``_die_with_parent``).
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs!r}")
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None
        # (read end, write end): the write end is held by this process only
        self._lifeline: tuple[Connection, Connection] | None = None

    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        if self.jobs == 1:
            return SerialExecutor().map(specs, on_done)
        if self._pool is None:
            context = multiprocessing.get_context(_start_method())
            # The read end is sent to each worker as it starts (at a submit, and when
            # the pool replaces one), so both ends stay open here until close().
            self._lifeline = context.Pipe(duplex=False)
            self._pool = ProcessPoolExecutor(
                max_workers=self.jobs,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(self._lifeline[0],),
            )
        records: list[RunRecord | None] = [None] * len(specs)
        try:
            index = {self._pool.submit(execute, spec): i for i, spec in enumerate(specs)}
            pending = set(index)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                broken = None
                for future in sorted(done, key=index.__getitem__):
                    if future.exception() is not None:  # the pool broke, not the run
                        broken = broken or future.exception()
                        continue
                    record = future.result()
                    records[index[future]] = record
                    if on_done is not None:
                        on_done(record)
                if broken is not None:
                    raise broken
        except BaseException:
            self.close()  # interrupted or broken: drop the queued runs and the processes
            raise
        return [r for r in records if r is not None]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._lifeline is not None:
            for end in self._lifeline:
                end.close()
            self._lifeline = None

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DaskExecutor:
    """Runs on a Dask distributed cluster, through ``distributed.Client(address)``.

    Workers need smtpsim installed (the same version); specs carry the scenario text,
    so workers need no shared files. ``close()`` (or ``with``) closes the client.
    """

    def __init__(self, address: str) -> None:
        try:
            import distributed
        except ImportError:
            raise ImportError(
                'the Dask executor needs dask: pip install "smtpsim[distributed]"'
            ) from None
        # distributed's Client and as_completed have no type annotations
        self._distributed: Any = distributed
        self.client: Any = self._distributed.Client(address, set_as_default=False)

    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        records: list[RunRecord | None] = [None] * len(specs)
        futures = [self.client.submit(execute, spec, pure=False) for spec in specs]
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in self._distributed.as_completed(futures, loop=self.client.loop):
                record = future.result()
                records[index[future.key]] = record
                if on_done is not None:
                    on_done(record)
        finally:
            self.client.cancel([f for f in futures if not f.done()])
        return [r for r in records if r is not None]

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(jobs: int = 1, scheduler: str | None = None) -> Executor:
    """The executor for ``--jobs`` and ``--scheduler``: a Dask scheduler's address
    (``tcp://host:8786``) wins; otherwise ``jobs`` local processes, 1 meaning serial."""
    if scheduler:
        return DaskExecutor(scheduler)
    if jobs == 1:
        return SerialExecutor()
    return LocalExecutor(jobs)
