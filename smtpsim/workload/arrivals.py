"""Arrival times: Poisson processes with constant, piecewise or diurnal rates, and
bursts (a newsletter of N messages at a time T).

A time-varying rate uses thinning (Lewis and Shedler, 1979): candidates at the
profile's maximum rate, each kept with probability rate(t) / max. Draws come in
batches from the flow's own stream.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..scenario import RateProfile

__all__ = ["burst_times", "poisson_times"]

_BATCH = 1024


def poisson_times(
    profile: RateProfile, rng: np.random.Generator, start: float, stop: float
) -> Iterator[float]:
    """Arrival times in ``[start, stop)`` of a Poisson process with ``profile``'s rate."""
    peak = profile.max_rate()
    if peak <= 0 or stop <= start:
        return
    constant = profile.kind == "constant"
    t = start
    while True:
        gaps = rng.exponential(1.0 / peak, _BATCH).tolist()
        keep = [1.0] * _BATCH if constant else rng.random(_BATCH).tolist()
        for gap, u in zip(gaps, keep, strict=True):
            t += gap
            if t >= stop:
                return
            if constant or u * peak < profile.rate_at(t):
                yield t


def burst_times(at: float, messages: int, over: float, rng: np.random.Generator) -> list[float]:
    """``messages`` times at ``at``, or spread uniformly over ``[at, at + over)``."""
    if over <= 0:
        return [at] * messages
    return sorted((at + rng.random(messages) * over).tolist())
