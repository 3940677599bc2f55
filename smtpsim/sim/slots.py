"""A counter-and-deque pool of slots (session slots, server processes).

``simpy.Resource`` costs two events and several allocations per use; on the hot
path (every SMTP session) a plain counter with a queue of callbacks does the same
job with no event at all: a slot is taken synchronously when free, and handed to
the next waiter, in FIFO order, when released (docs/architecture.md, section 9).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["SlotPool"]


class SlotPool:
    """``capacity`` slots; ``busy`` are taken; waiters are served first come, first served."""

    __slots__ = ("_waiters", "busy", "capacity")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.busy = 0
        self._waiters: deque[Callable[[], None]] = deque()

    def try_acquire(self) -> bool:
        if self.busy < self.capacity:
            self.busy += 1
            return True
        return False

    def wait(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when a slot is handed over (the slot is then taken)."""
        self._waiters.append(callback)

    def cancel(self, callback: Callable[[], None]) -> bool:
        """Stop waiting; ``False`` if the callback already got its slot."""
        try:
            self._waiters.remove(callback)
        except ValueError:
            return False
        return True

    def release(self) -> None:
        if self._waiters:
            self._waiters.popleft()()  # the slot passes straight to the waiter
        else:
            self.busy -= 1

    @property
    def waiting(self) -> int:
        return len(self._waiters)
