"""A submission trace for replay (``traffic.NAME.replay``): when each message was
submitted, by whom, to whom, how big.

Two sources:

- a Postfix maillog (plain or gzip; several hosts' lines are fine): the messages it
  shows submitted (over smtpd or pickup; bounce notices are made by the servers, so
  they are left out), at the time the reader gives (``t_submit``: the middle of the
  arrival's second, or the exact time ``smtpsim run`` logged to the second), with
  the recipients its delivery lines name (a recipient with no such line yet is not
  known, and a message with none is skipped and counted); a recipient the log
  bounced with 5.1.1 is marked unknown;
- a CSV file with the header ``time,sender,recipients,size``: ``time`` in seconds
  or as an ISO 8601 date and time, ``recipients`` separated by spaces or ``;``,
  ``size`` in bytes; rows in any order.

Times are seconds since midnight of the trace's first day (a CSV in seconds: as
given), so that a replayed day lines up with a fitted scenario's clock.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from .postfix_log import read_postfix_log
from .sources import log_lines

__all__ = ["Trace", "TraceError", "read_trace"]


class TraceError(ValueError):
    """A trace that cannot be replayed; the message says where in the file."""


@dataclass(frozen=True)
class Trace:
    """The submissions of a trace, in time order."""

    times: tuple[float, ...]
    senders: tuple[str, ...]
    recipients: tuple[tuple[str, ...], ...]
    unknown: tuple[tuple[bool, ...], ...]  # per recipient: the log bounced it as unknown
    sizes: tuple[int, ...]
    skipped: int = 0  # messages without a known recipient

    def __len__(self) -> int:
        return len(self.times)

    @property
    def span(self) -> float:
        """From midnight to a mean gap after the last message: a loop's period."""
        if not self.times:
            return 0.0
        gap = (self.times[-1] - self.times[0]) / max(1, len(self.times) - 1)
        return self.times[-1] + max(gap, 1.0)


def _sorted(rows: list[tuple[float, str, tuple[str, ...], tuple[bool, ...], int]]) -> Trace:
    rows.sort(key=lambda r: r[0])
    return Trace(
        tuple(r[0] for r in rows),
        tuple(r[1] for r in rows),
        tuple(r[2] for r in rows),
        tuple(r[3] for r in rows),
        tuple(r[4] for r in rows),
    )


def _time(text: str) -> float | datetime:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"time: expected seconds or an ISO 8601 time such as 2026-12-04T09:30:00, got {text!r}"
        ) from None
    return when.replace(tzinfo=None) if when.tzinfo is None else when


def _read_csv(path: Path) -> Trace:
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        want = ["time", "sender", "recipients", "size"]
        if reader.fieldnames is None or [h.strip() for h in reader.fieldnames] != want:
            raise TraceError(f"{path}: line 1: expected the header {','.join(want)}")
        parsed = []
        for number, row in enumerate(reader, 2):
            try:
                when = _time(row["time"] or "")
                rcpts = tuple(r for r in (row["recipients"] or "").replace(";", " ").split())
                if not rcpts or any("@" not in r for r in rcpts):
                    raise ValueError(
                        f"recipients: expected addresses separated by spaces or ';', "
                        f"got {row['recipients']!r}"
                    )
                size = int(row["size"] or "")
                if size < 0:
                    raise ValueError(f"size: expected bytes >= 0, got {size}")
            except (ValueError, TypeError) as e:
                text = (
                    str(e) if "expected" in str(e) else f"size: expected bytes, got {row['size']!r}"
                )
                raise TraceError(f"{path}: line {number}: {text}") from None
            parsed.append((when, (row["sender"] or "").strip(), rcpts, size))
    kinds = {type(w) for w, *_ in parsed}
    if len(kinds) > 1:
        raise TraceError(f"{path}: times are mixed: give all in seconds or all as ISO times")
    rows = []
    if parsed and isinstance(parsed[0][0], datetime):
        first = min(w for w, *_ in parsed if isinstance(w, datetime))
        midnight = first.replace(hour=0, minute=0, second=0, microsecond=0)
        for when, sender, rcpts, size in parsed:
            assert isinstance(when, datetime)
            seconds = (when - midnight).total_seconds()
            rows.append((seconds, sender, rcpts, tuple(False for _ in rcpts), size))
    else:
        for when, sender, rcpts, size in parsed:
            assert isinstance(when, float)
            rows.append((when, sender, rcpts, tuple(False for _ in rcpts), size))
    return _sorted(rows)


def _read_postfix(path: Path, year: int | None) -> Trace:
    log = read_postfix_log(log_lines([path]), year=year)
    if log.origin is None:
        raise TraceError(f"{path}: no line with a time stamp")
    midnight = log.origin.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (log.origin - midnight).total_seconds()
    rec = log.recipients
    unknown = rec["dsn"].astype(str).str.startswith("5.1.1") & (
        rec["status"].astype(str) == "bounced"
    )
    by_msg: dict[int, list[tuple[str, bool]]] = {}
    for msg, rcpt, bad in zip(rec["msg_id"], rec["rcpt"], unknown, strict=True):
        by_msg.setdefault(int(msg), []).append((str(rcpt), bool(bad)))
    rows = []
    skipped = 0
    messages = log.messages[log.messages["origin"].astype(str) != "bounce"]
    for msg, sender, size, t in zip(
        messages["msg_id"],
        messages["sender"],
        messages["size_bytes"],
        messages["t_submit"],
        strict=True,
    ):
        rcpts = by_msg.get(int(msg), [])
        if not rcpts:
            skipped += 1
            continue
        rows.append(
            (
                float(t) + offset,
                str(sender),
                tuple(r for r, _ in rcpts),
                tuple(b for _, b in rcpts),
                int(size),
            )
        )
    trace = _sorted(rows)
    if not trace.times:
        raise TraceError(f"{path}: the log shows no submitted message with a known recipient")
    return Trace(trace.times, trace.senders, trace.recipients, trace.unknown, trace.sizes, skipped)


@lru_cache(maxsize=8)
def _cached(path: Path, mtime: float, fmt: str, year: int | None) -> Trace:
    if fmt == "csv" or (fmt == "auto" and path.suffix.lower() == ".csv"):
        return _read_csv(path)
    return _read_postfix(path, year)


def read_trace(path: str | Path, fmt: str = "auto", year: int | None = None) -> Trace:
    """The trace in ``path`` (``fmt``: auto, postfix or csv); :class:`TraceError` if it
    cannot be read or holds nothing to replay. Read once per file version (the
    command's check and the run share it)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime
    except OSError as e:
        raise TraceError(f"cannot read {str(path)!r}: {e.strerror or e}") from None
    if path.is_dir():
        raise TraceError(f"cannot read {str(path)!r}: it is a directory")
    try:
        trace = _cached(path, mtime, fmt, year)
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise TraceError(f"cannot read {str(path)!r}: {e}") from None
    if not trace.times:
        raise TraceError(f"{path}: no message to replay")
    return trace
