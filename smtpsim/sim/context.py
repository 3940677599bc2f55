"""The run context: what every live component of one run shares."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from .streams import Streams
from .trace import Recorder

__all__ = ["RunContext"]


@dataclass(slots=True)
class RunContext:
    """The SimPy environment, the random streams, the recorder, and run options.

    ``wire``: SMTP sessions serialize and parse every line instead of exchanging
    events (slower; must give identical results). ``session_memo``: ``on``, ``off`` or
    ``verify`` (``smtpsim.mta.session_memo``).
    """

    env: simpy.Environment
    streams: Streams
    recorder: Recorder
    wire: bool = False
    session_memo: str = "on"
    record_levels: bool = True
