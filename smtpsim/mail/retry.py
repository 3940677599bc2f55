"""When a sender tries a deferred message again, and when it gives up: retry
policies as pure functions of time, for the queue manager.

``policy.next_attempt(arrival, first_failure, now)`` is asked right after a failed
attempt at ``now``, for a message that entered the queue at ``arrival`` and whose
destination (or the message itself) first failed at ``first_failure``. It returns
the time from which the next attempt may happen, or ``None``: give up now (the
message expires and is returned to its sender with the last error, Postfix
``qmgr_active.c``). A policy holds no state; everything it needs is in those three
times, so one
policy object serves every message of a host.

When the attempt really happens is the queue manager's business: Postfix tries a
deferred message at the first queue scan (``queue_run_delay``) from
``policy.scan_takes_from(due)`` on, Exim at the first queue run (Debian: every 30
min). Only ``PostfixRetry`` rounds, to whole seconds as Postfix's queue manager does
(the queue manager asks on the host's clock).

- ``PostfixRetry``: the deferred queue file's time stamp, ``floor(now) +
  clamp(floor(now) - floor(arrival), minimal_backoff_time, maximal_backoff_time)``,
  giving up once ``floor(now) - floor(arrival) >= maximal_queue_lifetime`` (Postfix
  ``qmgr_active.c``: qmgr works in whole seconds, ``event_time()`` and
  ``create_time`` are ``time_t``). For bounces the queue manager uses one with
  ``bounce_queue_lifetime``. Postfix's scan takes a file up to 1 s before that stamp
  (``qmgr_active_feed``; ``scan_takes_from``), so a retry can come up to about 2 s
  before ``now + backoff``.
- ``EximRetry``: Exim's retry rules ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``
  (Exim's spec, "Retry configuration", Exim's ``retry.c``).
- ``ScheduleRetry``: attempts at fixed offsets after the first failure, for the
  measured behaviour of big senders; ``PRESETS`` names one policy of each kind.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "EXIM_DEBIAN_DEFAULT",
    "PRESETS",
    "EximRetry",
    "EximRule",
    "PostfixRetry",
    "RetryPolicy",
    "ScheduleRetry",
    "parse_exim_time",
    "retry_schedule",
]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
_EPSILON = 1e-9  # float slack when a time lands exactly on a boundary

# Debian's exim4-config default retry rule. A module constant, not a class attribute of
# EximRetry: mypyc gives a compiled dataclass's ClassVar to dataclasses as a field.
EXIM_DEBIAN_DEFAULT = "F,2h,15m; G,16h,1h,1.5; F,4d,6h"


class RetryPolicy:
    """The interface: see the module docstring."""

    def next_attempt(self, arrival: float, first_failure: float, now: float) -> float | None:
        raise NotImplementedError

    def scan_takes_from(self, due: float) -> float:
        """The earliest time a queue scan takes a message due at ``due``: ``due``
        itself, unless the sender's scan has a tolerance of its own."""
        return due


@dataclass(frozen=True, slots=True)
class PostfixRetry(RetryPolicy):
    """Postfix's queue manager (``qmgr_active.c``), with its parameter names and
    defaults (postconf(5)). ``maximal_queue_lifetime = 0`` tries once."""

    minimal_backoff_time: float = 300.0
    maximal_backoff_time: float = 4000.0
    maximal_queue_lifetime: float = 5 * DAY

    def __post_init__(self) -> None:
        if not 0 <= self.minimal_backoff_time <= self.maximal_backoff_time:
            raise ValueError(
                "need 0 <= minimal_backoff_time <= maximal_backoff_time, got "
                f"{self.minimal_backoff_time!r} and {self.maximal_backoff_time!r}"
            )
        if self.maximal_queue_lifetime < 0:
            raise ValueError(
                f"maximal_queue_lifetime must be >= 0, got {self.maximal_queue_lifetime!r}"
            )

    def next_attempt(self, arrival: float, first_failure: float, now: float) -> float | None:
        # qmgr counts in whole seconds: event_time() and the message's create_time are
        # time_t, so the age is the difference of the two truncated clocks.
        tick = math.floor(now)
        age = tick - math.floor(arrival)
        # Expiry is checked after a failed attempt (qmgr_active_done_25_generic:
        # ``event_time() >= create_time + var_max_queue_time``).
        if age >= self.maximal_queue_lifetime:
            return None
        # qmgr_active_done_3_generic: "based on time in queue, not time since last
        # delivery attempt", clamped; qmgr_active_defer stamps the deferred file with
        # event_time() + delay, a whole second.
        return tick + min(max(age, self.minimal_backoff_time), self.maximal_backoff_time)

    def scan_takes_from(self, due: float) -> float:
        """qmgr_active.c, qmgr_active_feed: a scan skips a deferred file only when
        ``st_mtime > time() + 1``, ``time()`` in whole seconds, so a file stamped
        ``due`` is taken by any scan from ``ceil(due) - 1`` on: a retry can come up to
        about 2 s before the nominal backoff, never a scan later."""
        return math.ceil(due) - 1


# --- Exim ---------------------------------------------------------------------------

_EXIM_UNITS = {"s": 1.0, "m": MINUTE, "h": HOUR, "d": DAY, "w": 7 * DAY}
_EXIM_TIME = re.compile(r"(\d+(?:\.\d+)?)([smhdw]?)")


def parse_exim_time(text: str) -> float:
    """Seconds from an Exim time such as ``15m``, ``4d``, ``1h30m`` or ``90`` (seconds).

    Raises ``ValueError`` for anything else.
    """
    text = text.strip()
    total, pos = 0.0, 0
    for m in _EXIM_TIME.finditer(text):
        if m.start() != pos or (not m.group(2) and m.end() != len(text)):
            break
        total += float(m.group(1)) * _EXIM_UNITS.get(m.group(2), 1.0)
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(f"expected an Exim time such as '15m', '2h' or '1h30m', got {text!r}")
    return total


@dataclass(frozen=True, slots=True)
class EximRule:
    """One parameter set: ``F`` (fixed ``interval``) or ``G`` (geometric: ``interval``
    at first, then ``multiplier`` times the previous gap), in force while the time
    since the first failure is at most ``cutoff``."""

    kind: str
    cutoff: float
    interval: float
    multiplier: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("F", "G"):
            raise ValueError(f"rule kind must be F or G, got {self.kind!r}")
        if self.interval <= 0 or self.cutoff < 0:
            raise ValueError(f"rule {self.kind}: interval must be > 0 and cutoff >= 0")
        if self.kind == "G" and self.multiplier < 1.0:
            raise ValueError(f"G rule multiplier must be >= 1, got {self.multiplier!r}")


@dataclass(frozen=True, slots=True)
class EximRetry(RetryPolicy):
    """Exim's retry rules (Exim's spec, "Retry configuration"; ``retry.c``'s ``retry_update``).

    The rule in force is the first whose cutoff the time since the first failure
    has not passed (``failing <= cutoff``). ``F``: ``now + interval``. ``G``:
    ``now + max(interval, previous gap * multiplier)`` where Exim reads the previous
    gap from its retry database; here it is the gap of the rule's ideal schedule
    (started where the previous rule's cutoff ends) that ``now`` falls into, which
    is the same as long as attempts happen less than a gap late. Every gap is capped
    at ``retry_interval_max`` (24 h, Exim's default and its maximum).

    Giving up: once the time since the first failure is past the last cutoff, or
    the message has been queued longer than that since before the first failure
    (Exim's "on queue longer than maximum retry"), the failure at ``now`` is final.
    For message-specific errors Exim measures from the message's arrival when that
    is earlier: pass ``min(arrival, first_failure)`` as ``first_failure`` then.

    ``H`` rules (random gaps) are not supported: a policy here draws no random numbers.
    """

    rules: tuple[EximRule, ...]
    retry_interval_max: float = DAY

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValueError("EximRetry needs at least one rule (no rules: no retries)")
        if not 0 < self.retry_interval_max <= DAY:
            raise ValueError(
                f"retry_interval_max must be > 0 and at most 24h, got {self.retry_interval_max!r}"
            )

    @classmethod
    def parse(cls, text: str, *, retry_interval_max: float = DAY) -> EximRetry:
        """Rules as written in Exim's configuration: ``F,2h,15m; G,16h,1h,1.5; F,4d,6h``.

        Raises ``ValueError`` naming the rule that is wrong.
        """
        rules: list[EximRule] = []
        for part in text.split(";"):
            fields = [f.strip() for f in part.split(",")]
            kind = fields[0].upper() if fields else ""
            try:
                if kind == "F" and len(fields) == 3:
                    rules.append(
                        EximRule("F", parse_exim_time(fields[1]), parse_exim_time(fields[2]))
                    )
                elif kind == "G" and len(fields) == 4:
                    rules.append(
                        EximRule(
                            "G",
                            parse_exim_time(fields[1]),
                            parse_exim_time(fields[2]),
                            float(fields[3]),
                        )
                    )
                elif kind == "H":
                    raise ValueError("H rules (random intervals) are not supported")
                else:
                    raise ValueError("expected F,CUTOFF,INTERVAL or G,CUTOFF,INTERVAL,MULTIPLIER")
            except ValueError as exc:
                raise ValueError(f"bad Exim retry rule {part.strip()!r}: {exc}") from None
        return cls(tuple(rules), retry_interval_max)

    def next_attempt(self, arrival: float, first_failure: float, now: float) -> float | None:
        failing = now - first_failure
        final = self.rules[-1].cutoff
        if failing > final or (arrival <= first_failure and now - arrival > final):
            return None
        phase_start = 0.0  # where the rule in force began, after the first failure
        for rule in self.rules:
            if failing <= rule.cutoff:
                break
            phase_start = rule.cutoff
        cap = self.retry_interval_max
        if rule.kind == "F":
            return now + min(rule.interval, cap)
        # G: walk the rule's ideal gaps from its start to the one ``now`` is in.
        elapsed = failing - phase_start
        gap = min(rule.interval, cap)
        done = gap
        while done <= elapsed + _EPSILON and gap < cap:
            gap = min(gap * rule.multiplier, cap)
            done += gap
        return now + gap


# --- measured schedules -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScheduleRetry(RetryPolicy):
    """Attempts at ``offsets`` seconds after the first failure; after the last one,
    every ``then_every`` seconds, or give up when ``then_every`` is ``None``; give
    up in any case once the message is ``lifetime`` old (``None``: never).

    The next attempt is the first offset later than ``now``: an attempt that
    happens late (a queue scan) skips the offsets it overran.
    """

    offsets: tuple[float, ...] = ()
    then_every: float | None = None
    lifetime: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        if list(self.offsets) != sorted(self.offsets) or any(o <= 0 for o in self.offsets):
            raise ValueError(f"offsets must be positive and increasing, got {self.offsets!r}")
        if self.then_every is not None and self.then_every <= 0:
            raise ValueError(f"then_every must be > 0, got {self.then_every!r}")
        if not self.offsets and self.then_every is None:
            raise ValueError("a schedule needs offsets or then_every")

    def next_attempt(self, arrival: float, first_failure: float, now: float) -> float | None:
        if self.lifetime is not None and now - arrival >= self.lifetime:
            return None
        elapsed = now - first_failure
        for offset in self.offsets:
            if offset > elapsed + _EPSILON:
                return first_failure + offset
        if self.then_every is None:
            return None
        return now + self.then_every


def _min_s(text: str) -> float:
    minutes, _, seconds = text.partition(":")
    return int(minutes) * MINUTE + int(seconds)


_PAGANI = (
    "Pagani, De Astis, Graziano, Lanzi, Balzarotti, 'Measuring the Role of Greylisting "
    "and Nolisting in Fighting Spam', DSN 2016, slide 22"
)

# gmail.com against a 6 h greylist: retries at these times after the first attempt,
# delivered at the 9th attempt.
_GMAIL = tuple(
    _min_s(t) for t in ("6:02", "29:02", "56:36", "98:44", "162:03", "229:44", "309:05", "434:46")
)
# aol.com: 5 attempts from 5:32 to 31:32, then gave up. Only the first and the last
# retry times are published: the two between are spaced evenly (an assumption).
_AOL_FIRST, _AOL_LAST = _min_s("5:32"), _min_s("31:32")
_AOL = tuple(_AOL_FIRST + i * (_AOL_LAST - _AOL_FIRST) / 3 for i in range(4))

PRESETS: dict[str, RetryPolicy] = {
    # Postfix 3.7 defaults (postconf(5); Postfix qmgr_active.c): 300 s, 4000 s, 5 days.
    "postfix": PostfixRetry(),
    # Debian's exim4-config default rule (Exim's spec, "Retry configuration").
    "exim": EximRetry.parse(EXIM_DEBIAN_DEFAULT),
    # gmail-like: the measured, increasing retry times, then the last measured gap
    # (7541 s) again. The study saw delivery, not a give-up time: 5 days (RFC 5321
    # section 4.5.4.1's "at least 4-5 days") is our assumption.
    "persistent": ScheduleRetry(
        _GMAIL, then_every=_GMAIL[-1] - _GMAIL[-2], lifetime=5 * DAY, source=_PAGANI + ", gmail.com"
    ),
    # hotmail-like: about every 4 minutes (94 attempts, which outlast the study's
    # 6 h greylist); give-up time not measured: 5 days assumed, as above.
    "frequent": ScheduleRetry(
        then_every=4 * MINUTE, lifetime=5 * DAY, source=_PAGANI + ", hotmail.com"
    ),
    # aol-like: 4 retries within about 30 minutes, then gives up.
    "impatient": ScheduleRetry(_AOL, then_every=None, source=_PAGANI + ", aol.com"),
}


def retry_schedule(
    policy: RetryPolicy, *, arrival: float = 0.0, limit: int = 10_000
) -> list[float]:
    """The attempt times of a message that fails instantly at every attempt, each
    attempt made as soon as allowed (no queue-scan rounding): ``[arrival, ...]``,
    ending with the attempt after which the policy gives up (or after ``limit``
    attempts). For tests and documentation.
    """
    times = [arrival]
    now = arrival
    while len(times) < limit:
        nxt = policy.next_attempt(arrival, arrival, now)
        if nxt is None:
            break
        now = nxt
        times.append(now)
    return times
