"""Calling a function at a later simulated time, without a process.

The runtime reacts to time passing in many places (a session's end, a retry after a
failed connection, a cached connection's idle limit, a dead destination's revival):
each is one SimPy event whose callback calls the function. A process (a generator)
would cost an initialisation event and a resumption per wake-up.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

__all__ = ["call_later"]


def call_later(
    env: simpy.Environment, delay: float, callback: Callable[..., None], *args: object
) -> None:
    """Call ``callback(*args)`` when ``delay`` simulated seconds have passed.

    Callbacks due at the same time run in the order they were scheduled (SimPy's
    event ids), which keeps runs deterministic."""
    env.timeout(delay).callbacks.append(lambda _event: callback(*args))
