"""Messages into the real Postfix: a Poisson schedule in wall-clock time over SMTP.

Each message is one SMTP session with the private Postfix's loopback ``smtpd``
(``smtplib``); the queue id comes from the reply to the final dot (``250 2.0.0 Ok:
queued as QUEUEID``, Postfix smtpd.c), so the log reader can give every queue file its
exact submission time, which the maillog (whole seconds) cannot.
"""

from __future__ import annotations

import re
import smtplib
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_QUEUED = re.compile(r"queued as ([0-9A-Za-z]+)")


@dataclass(frozen=True)
class Submitted:
    """One message handed to Postfix: when (seconds since the experiment's start),
    its queue id and envelope."""

    t_submit: float
    queue_id: str
    sender: str
    rcpt: str


def poisson_times(n: int, rate: float, seed: int) -> list[float]:
    """``n`` arrival times of a Poisson process of ``rate`` per second (the first at
    its first gap); ``rate`` of 0 or less: all at 0 (a burst)."""
    if rate <= 0:
        return [0.0] * n
    gaps = np.random.default_rng(seed).exponential(1.0 / rate, size=n)
    return [float(t) for t in np.cumsum(gaps)]


def _body(i: int) -> str:
    head = f"Subject: oracle message {i}\r\nMessage-Id: <oracle-{i}@corp.example>\r\n"
    return f"{head}\r\nbody {i}\r\n"


def submit(
    port: int,
    times: Sequence[float],
    recipients: Sequence[str],
    *,
    start: float,
    sender: str = "alice@corp.example",
    cancel: threading.Event | None = None,
) -> list[Submitted]:
    """Submit message i to ``recipients[i]`` at ``start + times[i]`` (``time.monotonic``
    clock), one SMTP session each; returns what Postfix queued. Stops early (returns
    what it did) when ``cancel`` is set."""
    cancel = cancel or threading.Event()
    done: list[Submitted] = []
    burst: smtplib.SMTP | None = None
    try:
        for i, (t, rcpt) in enumerate(zip(times, recipients, strict=True)):
            wait = start + t - time.monotonic()
            if cancel.wait(wait if wait > 0 else 0):
                break
            # a burst (messages due at once) shares one session, as a mass mailer does
            if burst is None:
                burst = smtplib.SMTP("127.0.0.1", port, timeout=30)
            now = time.monotonic() - start
            burst.mail(sender)
            code, reply = burst.rcpt(rcpt)
            if code != 250:
                raise RuntimeError(f"Postfix refused {rcpt}: {code} {reply!r}")
            code, reply = burst.data(_body(i))
            found = _QUEUED.search(reply.decode("ascii", "replace"))
            if code != 250 or found is None:
                raise RuntimeError(f"Postfix did not queue message {i}: {code} {reply!r}")
            done.append(Submitted(now, found.group(1), sender, rcpt))
            due_next = i + 1 < len(times) and times[i + 1] - t < 0.05
            if not due_next:
                burst.quit()
                burst = None
    finally:
        if burst is not None:
            burst.close()
    return done
