"""A SimPy environment that stops a run whose event count explodes.

A scenario inside every plausibility bound (``smtpsim.scenario.bounds``) can still
ask for more than a run can do (100,000 messages a second for ten years), and an
engine bug can schedule events forever at one instant, where a limit on simulated
time never acts. So the environment counts the events it processes and raises
:class:`EventLimitError` past ``max_events`` (the scenario's
``simulation.max_events``), before processing the next one: the run stops with a
clear reason instead of running for days or until memory runs out.
"""

from __future__ import annotations

import simpy

__all__ = ["BoundedEnvironment", "EventLimitError"]


class EventLimitError(RuntimeError):
    """A run processed ``limit`` events and was stopped at simulated time ``now``."""

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.now = now
        super().__init__(
            f"the run was stopped after {limit:,} events, at simulated time {now:,.0f} s: "
            f"simulation.max_events is {limit}. The scenario makes far more events than "
            "expected (a rate too high for its duration?); if the run is meant to be this "
            "big, raise the limit, e.g. --set simulation.max_events="
            f"{10 * limit}"
        )


class BoundedEnvironment(simpy.Environment):
    """``simpy.Environment`` that raises :class:`EventLimitError` past ``max_events``."""

    def __init__(self, max_events: int, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.max_events = max_events
        self.events_processed = 0

    def step(self) -> None:
        """Process the next event, unless ``max_events`` have been processed."""
        if self.events_processed >= self.max_events:
            raise EventLimitError(self.max_events, float(self.now))
        self.events_processed += 1
        super().step()
