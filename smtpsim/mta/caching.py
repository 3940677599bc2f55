"""When Postfix keeps an SMTP connection open for the next delivery: connection caching
on demand (``smtp_connection_cache_on_demand``, CONNECTION_CACHE_README).

The queue manager decides it per destination each time it selects a delivery for it
(Postfix 3.7 ``qmgr_entry.c``, ``qmgr_entry_select``), and tells the SMTP client with
the delivery request's ``DEL_REQ_FLAG_CONN_STORE``:

- caching is switched on when the delivery is *back to back*: a delivery to the same
  destination finished in this second or the one before (``queue->last_done + 1 >=
  event_time()``, whole seconds; ``last_done`` is set in ``qmgr_entry_done``);
- switching it on sets ``DEL_REQ_FLAG_CONN_MASK``: store *and* load, so the client
  looks for a cached connection before it connects; once on, storing stays on while
  deliveries are concurrent (more than one under way, this one included:
  ``busy_refcount > 1``) or back to back, and only storing is switched off otherwise
  (loading stays on, "fetch any existing entries from the cache, but don't add new
  ones");
- all of this is state of the in-memory queue of the destination, which qmgr discards
  when nothing is waiting or under way and the site is not dead (``qmgr_entry_done``):
  the next delivery to it starts afresh, without caching and without looking in the
  cache, until a delivery has finished (``forget``).

Not a backlog of waiting mail, then, but a steady stream of overlapping deliveries:
each pause in it (no delivery under way) costs the next one or two deliveries a new
connection, closed after use. A new destination has never finished a delivery
(``last_done`` = 0 when the in-memory queue is made, ``qmgr_queue.c``), so its first
deliveries open connections.
Simulated time stands in for ``event_time()``: its whole seconds are as arbitrary a
grid as the wall clock's.
"""

from __future__ import annotations

import math

__all__ = ["OnDemandCaching"]


class OnDemandCaching:
    """The ``DEL_REQ_FLAG_CONN_LOAD``/``STORE`` state of each destination of one host's
    queue manager: ``selected`` when a delivery starts, ``done`` when it ends,
    ``forget`` when the destination's in-memory queue would be discarded."""

    __slots__ = ("_last_done", "_loading", "_storing")

    def __init__(self) -> None:
        self._storing: set[str] = set()
        self._loading: set[str] = set()
        self._last_done: dict[str, int] = {}  # destination -> whole second

    def selected(self, dest: str, busy: int, now: float) -> tuple[bool, bool]:
        """A delivery to ``dest`` starts at ``now`` with ``busy`` deliveries to it under
        way (this one included): whether it may reuse a cached connection, and whether
        its own is to be kept open afterwards."""
        last = self._last_done.get(dest)
        back_to_back = last is not None and last + 1 >= math.floor(now)
        storing = self._storing
        if dest not in storing:
            if back_to_back:
                storing.add(dest)
                self._loading.add(dest)
        elif busy <= 1 and not back_to_back:
            storing.discard(dest)
        return dest in self._loading, dest in storing

    def done(self, dest: str, now: float) -> None:
        """A delivery to ``dest`` finished at ``now``."""
        self._last_done[dest] = math.floor(now)

    def forget(self, dest: str) -> None:
        """Nothing is waiting for ``dest`` or under way, and it is not dead: qmgr
        discards its in-memory queue, and with it this state."""
        self._storing.discard(dest)
        self._loading.discard(dest)
        self._last_done.pop(dest, None)
