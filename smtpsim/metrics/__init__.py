"""Results: the recorder (typed buffers during the run), the tables built from it
after the run, the summary, and ``RunResult`` with its files.

pandas is loaded only by ``tables``, ``summary``, ``result`` and ``maillog``, after a
run: the runtime imports ``metrics.recorder`` alone.
"""

from typing import TYPE_CHECKING

from .recorder import ColumnarRecorder

if TYPE_CHECKING:  # for type checkers; at run time ``__getattr__`` loads them
    from .result import TABLES, RunResult

__all__ = ["TABLES", "ColumnarRecorder", "RunResult"]


def __getattr__(name: str) -> object:
    if name in ("RunResult", "TABLES"):
        from . import result

        return getattr(result, name)
    raise AttributeError(name)
