"""Replaying a trace (``traffic.NAME.replay``): the trace's submissions at its times,
scaled, aligned and looped as the scenario says, with its senders, recipients and
sizes.

Addresses (``addresses: numbered``): a simulated host knows its mailboxes as
``user0`` ... ``user<n-1>`` (``NumberedMailboxes``), so each distinct address of a
domain that some host accepts becomes ``user<k>`` in the order the trace first names
it (``k`` modulo the domain's mailboxes), and a recipient the log bounced as unknown
(5.1.1) becomes ``unknown<k>``, which no mailbox holds: the replay keeps who is the
same person and who does not exist. Addresses of other domains stay as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..logs.trace import Trace

__all__ = ["AddressMap", "Replayer"]

DAY = 86400.0


class AddressMap:
    """Trace addresses -> simulated mailboxes (see the module's docstring)."""

    def __init__(self, mailboxes: Mapping[str, int], numbered: bool) -> None:
        self.mailboxes = {d.lower(): n for d, n in mailboxes.items()}
        self.numbered = numbered
        self.known: dict[str, str] = {}
        self.count: dict[str, int] = {}

    def __call__(self, address: str, unknown: bool = False) -> str:
        if not self.numbered:
            return address
        key = (address.lower(), unknown)
        found = self.known.get(f"{key[1]}:{key[0]}")
        if found is not None:
            return found
        local, _, domain = address.lower().rpartition("@")
        n = self.mailboxes.get(domain)
        if n is None or not local:
            mapped = address
        else:
            kind = "unknown" if unknown else "user"
            k = self.count.get(f"{kind}@{domain}", 0)
            self.count[f"{kind}@{domain}"] = k + 1
            mapped = f"{kind}{k if unknown else k % n}@{domain}"
        self.known[f"{key[1]}:{key[0]}"] = mapped
        return mapped


@dataclass(frozen=True)
class Submission:
    """One replayed submission."""

    t: float
    sender: str
    recipients: tuple[str, ...]
    size: int


class Replayer:
    """The submissions of a trace as the flow's ``replay`` settings place them."""

    def __init__(
        self,
        trace: Trace,
        addresses: AddressMap,
        *,
        start: float,
        time_scale: float,
        align: str,
        loop: bool,
    ) -> None:
        self.trace = trace
        self.addresses = addresses
        self.start = start
        self.scale = time_scale
        self.ref = 0.0 if align == "time-of-day" else trace.times[0]
        if align == "time-of-day":  # whole days, so that each round keeps the time of day
            self.period = max(1.0, math.ceil(trace.span / DAY)) * DAY * time_scale
        else:
            self.period = (trace.span - self.ref) * time_scale
        self.loop = loop

    def time_of(self, index: int, round_: int = 0) -> float:
        """When the trace's ``index``-th message is submitted in loop round ``round_``."""
        return self.start + (self.trace.times[index] - self.ref) * self.scale + round_ * self.period

    def submissions(self, stop: float) -> Iterator[Submission]:
        """The submissions before ``stop``, in time order."""
        trace = self.trace
        round_ = 0
        while True:
            for i in range(len(trace)):
                t = self.time_of(i, round_)
                if t < self.start:  # a time-of-day trace before the flow's start
                    continue
                if t >= stop:
                    return
                rcpts = tuple(
                    dict.fromkeys(
                        self.addresses(r, bad)
                        for r, bad in zip(trace.recipients[i], trace.unknown[i], strict=True)
                    )
                )
                yield Submission(t, self.addresses(trace.senders[i]), rcpts, trace.sizes[i])
            round_ += 1
            if not self.loop or self.period <= 0:
                return
