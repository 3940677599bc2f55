"""Glue around SimPy: the run context, named random streams, slot pools, and the
interface through which the runtime reports what happens (``trace``)."""

from .context import RunContext
from .environment import BoundedEnvironment, EventLimitError
from .slots import SlotPool
from .streams import Streams, make_sampler
from .timers import call_later
from .trace import OUTCOMES, STATUSES, Recorder

__all__ = [
    "OUTCOMES",
    "STATUSES",
    "BoundedEnvironment",
    "EventLimitError",
    "Recorder",
    "RunContext",
    "SlotPool",
    "Streams",
    "call_later",
    "make_sampler",
]
