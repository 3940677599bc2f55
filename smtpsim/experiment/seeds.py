"""The seed of each replication, derived from one base seed.

Replication ``r`` of an experiment with base seed ``s`` runs with the seed of the
``r``-th child of ``numpy.random.SeedSequence(s)``: the children of a seed sequence
give statistically independent streams (NumPy, "Parallel random number generation"),
so replications are independent. The child is built directly from its spawn key,
``SeedSequence(s, spawn_key=(r,))``, which is what ``SeedSequence(s).spawn(r + 1)[r]``
returns, in O(1) and without state: the seed of a replication depends on nothing but
``(s, r)``, in any process, on any worker, in any order.

Common random numbers: configurations compared with the same base seed and
replication get the same seed, so inside the run each named stream
(``smtpsim.sim.streams``) draws the same numbers in both, and the differences between
them come from the configurations, not from the noise (Law & Kelton, *Simulation
Modeling and Analysis*, section 11.2).
"""

from __future__ import annotations

import numpy as np

__all__ = ["replication_seed"]


def replication_seed(base_seed: int, replication: int) -> int:
    """The seed of replication ``replication`` (0, 1, ...) under ``base_seed``.

    A 64-bit integer (two replications of one base seed share a seed with probability
    about ``R**2 / 2**65`` for ``R`` replications). Stable across processes, platforms
    and NumPy versions that keep ``SeedSequence``'s documented algorithm.
    """
    if int(base_seed) < 0:
        raise ValueError(f"base_seed must be at least 0, got {base_seed!r}")
    if int(replication) < 0:
        raise ValueError(f"replication must be at least 0, got {replication!r}")
    sequence = np.random.SeedSequence(int(base_seed), spawn_key=(int(replication),))
    return int(sequence.generate_state(1, np.uint64)[0])
