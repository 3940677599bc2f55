"""The lines of one or several maillogs, plain or gzip, in time order.

An operator's logs come rotated and compressed (``mail.log``, ``mail.log.1``,
``mail.log.2.gz``) and from several hosts; the reader (:mod:`.postfix_log`) wants one
stream of lines in time order, because a queue file's lines must come in the order
Postfix wrote them. Each file is in time order already (syslog and ``maillog_file``
append), so the files are merged, not sorted: a line without a time stamp stays
behind the line before it.

Time stamps are compared as (month, day, time of day): classic syslog lines carry no
year and no zone, and RFC 3339 ones are compared by their local wall-clock time
(``2026-12-04T07:52:57.123+00:00`` as Dec 4, 07:52:57.123). Logs that span a new
year, or hosts logging in different zones, are merged wrongly: give them one at a
time.
"""

from __future__ import annotations

import gzip
import heapq
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

__all__ = ["log_lines", "open_log"]

_GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952, section 2.3.1

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_CLASSIC = re.compile(r"^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d) ")
_ISO = re.compile(r"^\d{4}-(\d\d)-(\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)")

_Key = tuple[int, int, str]


def open_log(path: str | Path) -> Iterator[str]:
    """The lines of one maillog, gunzipped when it starts with gzip's magic number
    (whatever its name), decoded as UTF-8 with bad bytes replaced."""
    path = Path(path)
    with path.open("rb") as probe:
        compressed = probe.read(2) == _GZIP_MAGIC
    if compressed:
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as lines:
            yield from lines
    else:
        with path.open(encoding="utf-8", errors="replace") as lines:
            yield from lines


def stamp_key(line: str) -> _Key | None:
    """(month, day, time of day) of a line's time stamp, or None if it has none."""
    m = _CLASSIC.match(line)
    if m is not None and m.group(1) in _MONTHS:
        return _MONTHS[m.group(1)], int(m.group(2)), m.group(3)
    m = _ISO.match(line)
    if m is not None:
        return int(m.group(1)), int(m.group(2)), m.group(3)
    return None


def _keyed(lines: Iterable[str], order: int) -> Iterator[tuple[_Key, int, str]]:
    last: _Key = (0, 0, "")
    for line in lines:
        last = stamp_key(line) or last
        yield last, order, line


def log_lines(paths: Sequence[str | Path]) -> Iterator[str]:
    """The lines of ``paths`` merged in time order (ties: the earlier file first)."""
    if len(paths) == 1:
        yield from open_log(paths[0])
        return
    streams = [_keyed(open_log(p), i) for i, p in enumerate(paths)]
    for _, _, line in heapq.merge(*streams, key=lambda item: (item[0], item[1])):
        yield line
