"""What every run of an experiment shares: ``RunOptions``, the one options object of
``compare()`` and ``sweep()`` (and of the commands behind them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .metrics import METRICS, MetricFunction

__all__ = ["Progress", "RunOptions"]

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` each time a run of a batch finishes."""


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How an experiment's runs are made, measured and executed.

    ``replications``: runs per configuration or design point (``None``: 10 for
    ``compare``, 3 for ``sweep``). ``overrides`` (``PATH=VALUE``) apply to every run,
    before a configuration's own. ``seed`` (default: the scenario's) is the base
    seed: replication ``r`` runs with the same seed everywhere (common random numbers).
    ``until`` (seconds or ``"30min"``) ends each run early. ``metrics``: names
    (``METRICS``, split ones such as ``"delivery_ratio@domain=bigmail.example"``,
    registered ones) or functions of a run's ``RunTables``; ``confidence``: the level
    of the intervals. ``jobs`` local worker processes (0: one per CPU), or a Dask
    cluster with ``scheduler`` (``"tcp://HOST:PORT"``). ``retry_failed``: run again
    the failed runs found in the store. ``progress``: True for a progress bar, or a
    callable ``progress(done, total)``.
    """

    replications: int | None = None
    overrides: tuple[str, ...] = ()
    seed: int | None = None
    until: float | str | None = None
    metrics: Sequence[str | MetricFunction] | Mapping[str, MetricFunction] = METRICS
    confidence: float = 0.95
    jobs: int = 1
    scheduler: str | None = None
    retry_failed: bool = False
    progress: bool | Progress | None = None

    def __post_init__(self) -> None:
        overrides = self.overrides
        # a single PATH=VALUE is one override, not its characters
        object.__setattr__(
            self, "overrides", (overrides,) if isinstance(overrides, str) else tuple(overrides)
        )
        if self.replications is not None and self.replications < 1:
            raise ValueError(f"replications must be at least 1, got {self.replications!r}")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")

    def replications_or(self, default: int) -> int:
        """The replications asked for, or ``default``."""
        return default if self.replications is None else self.replications
