"""Give memory that is free again back to the operating system, between the parts of
the output stage.

Python keeps its small objects in arenas of its own; memory that pandas, NumPy
and pyarrow free (large buffers) stays with glibc's allocator or pyarrow's pool
unless they are asked to return it, and Python's arenas never reuse it. Writing the
tables and computing the summary of an 8-hour run frees about 80 MB that way, which
would otherwise add to the maillog's peak (issue 8: ``smtpsim run
scenarios/mx-outage.yaml`` under 600 MB).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import sys

__all__ = ["release_freed_memory"]


def release_freed_memory() -> None:
    """Collect cycles, empty pyarrow's pool and trim glibc's heap (where it is glibc)."""
    gc.collect()
    if "pyarrow" in sys.modules:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        # another C library (musl) has no malloc_trim: nothing to trim then
        with contextlib.suppress(AttributeError, OSError):
            ctypes.CDLL(None).malloc_trim(0)
