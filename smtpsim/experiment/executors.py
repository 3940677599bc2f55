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

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Protocol

from .runner import RunRecord, RunSpec, execute

__all__ = ["DaskExecutor", "Executor", "LocalExecutor", "SerialExecutor", "make_executor"]

OnDone = Callable[[RunRecord], None]


class Executor(Protocol):
    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        """Run every spec; records in the order of ``specs``; ``on_done`` as each ends."""
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


class LocalExecutor:
    """``jobs`` worker processes on this machine (``concurrent.futures``, started with
    'forkserver' where available, else 'spawn'); ``jobs=1`` runs in this process.

    The processes start at the first ``map`` and are kept for the next ones (a
    sequential procedure maps batch after batch; each process pays its imports once).
    ``close()`` (or ``with``) stops them; so does dropping the executor.
    """

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise ValueError(f"jobs must be at least 1, got {jobs!r}")
        self.jobs = jobs
        self._pool: ProcessPoolExecutor | None = None

    def map(self, specs: Sequence[RunSpec], on_done: OnDone | None = None) -> list[RunRecord]:
        if self.jobs == 1:
            return SerialExecutor().map(specs, on_done)
        if self._pool is None:
            context = multiprocessing.get_context(_start_method())
            self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context)
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
