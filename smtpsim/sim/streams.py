"""Named random streams: no global random state, and common random numbers.

Every component draws from its own generator, spawned from the run's seed and a
stable name (``workload.staff.arrivals``, ``link.out-internet.latency``), so
changing one part of a scenario does not reshuffle the draws of the others, and two
configurations compared with the same seed share their random numbers (docs/architecture.md,
section 5).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Protocol

import numpy as np

__all__ = ["Streams", "make_sampler"]

_BATCH = 1024


class Streams:
    """The random generators of one run."""

    __slots__ = ("_made", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)
        self._made: set[str] = set()

    def generator(self, name: str) -> np.random.Generator:
        """A generator for ``name``; the same name and seed always give the same draws.

        Asking twice for one name is a bug (two components would share a stream).
        """
        if name in self._made:
            raise ValueError(f"random stream {name!r} requested twice")
        self._made.add(name)
        digest = hashlib.sha256(name.encode("utf-8")).digest()
        key = tuple(int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4))
        sequence = np.random.SeedSequence(self.seed, spawn_key=key)
        return np.random.Generator(np.random.PCG64(sequence))


class _Batched:
    """Draws in batches of ``_BATCH`` and hands them out one float at a time: numpy's
    per-call overhead is paid once per batch, not once per draw."""

    __slots__ = ("_buffer", "_draw", "_i")

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self._draw = draw
        self._buffer: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        i = self._i
        buffer = self._buffer
        if i >= len(buffer):
            buffer = self._buffer = self._draw(_BATCH).tolist()
            i = 0
        self._i = i + 1
        return buffer[i]


class Distribution(Protocol):
    """What ``make_sampler`` reads of a scenario distribution (``scenario.Dist``):
    its ``kind`` and that kind's parameters."""

    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def mean(self) -> float: ...
    @property
    def median(self) -> float: ...
    @property
    def sigma(self) -> float: ...
    @property
    def low(self) -> float: ...
    @property
    def high(self) -> float: ...
    @property
    def points(self) -> tuple[tuple[float, float], ...]: ...


Draws = Callable[[int], np.ndarray]  # n draws at once


def _exponential(dist: Distribution, rng: np.random.Generator) -> Draws:
    mean = float(dist.mean)
    return lambda n: rng.exponential(mean, n)


def _lognormal(dist: Distribution, rng: np.random.Generator) -> Draws:
    mu, sigma = float(np.log(dist.median)), float(dist.sigma)
    return lambda n: rng.lognormal(mu, sigma, n)


def _uniform(dist: Distribution, rng: np.random.Generator) -> Draws:
    low, high = float(dist.low), float(dist.high)
    return lambda n: rng.uniform(low, high, n)


def _empirical(dist: Distribution, rng: np.random.Generator) -> Draws:
    values = np.array([p[0] for p in dist.points], dtype=float)
    cdf = np.array([p[1] for p in dist.points], dtype=float)
    return lambda n: np.interp(rng.random(n), cdf, values)


# The random kinds, each drawn in batches from its generator (``_Batched``).
_DRAWS: dict[str, Callable[[Distribution, np.random.Generator], Draws]] = {
    "exponential": _exponential,
    "lognormal": _lognormal,
    "uniform": _uniform,
    "empirical": _empirical,
}


def make_sampler(dist: Distribution, rng: np.random.Generator | None) -> Callable[[], float]:
    """A function that returns one draw of ``dist`` per call.

    ``dist`` is a scenario distribution (``kind`` and its parameters: ``value``,
    ``mean``, ``median`` and ``sigma``, ``low`` and ``high``, or ``points`` of an
    empirical CDF). A constant needs no generator.
    """
    kind = dist.kind
    if kind == "constant":
        value = float(dist.value)
        return lambda: value
    draws = _DRAWS.get(kind)
    if draws is None:
        raise ValueError(f"unknown distribution kind {kind!r}")
    if rng is None:
        raise ValueError(f"a {kind} distribution needs a random generator")
    return _Batched(draws(dist, rng))
