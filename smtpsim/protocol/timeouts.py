"""Timeouts of RFC 5321 section 4.5.3.2, with Postfix's parameter names and defaults.

A connection never reads a clock: each call that can start or stop a timer takes
``now`` (seconds, wall-clock or simulated), ``get_timer()`` tells when the next
timer expires and ``handle_timer(now)`` reports it, in the style of aioquic.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ClientTimeouts"]


@dataclass(frozen=True, slots=True)
class ClientTimeouts:
    """How long a client waits for each reply, in seconds (Postfix ``smtp_*_timeout``).

    RFC 5321 section 4.5.3.2 gives the minimums: greeting 5 min, MAIL 5 min, RCPT
    5 min, DATA initiation 2 min, data block 3 min, end of data 10 min. ``helo``
    covers both the greeting and the EHLO/HELO reply, as in Postfix.
    """

    connect: float = 30.0
    helo: float = 300.0
    mail: float = 300.0
    rcpt: float = 300.0
    data_init: float = 120.0
    data_xfer: float = 180.0
    data_done: float = 600.0
    quit: float = 300.0
    rset: float = 20.0
    starttls: float = 300.0
    other: float = 300.0

    def for_verb(self, verb: str) -> float:
        """The reply timeout after sending ``verb`` (``"GREETING"`` for the banner)."""
        return float(getattr(self, _FIELD_OF_VERB.get(verb, "other")))


_FIELD_OF_VERB = {
    "GREETING": "helo",
    "EHLO": "helo",
    "HELO": "helo",
    "MAIL": "mail",
    "RCPT": "rcpt",
    "DATA": "data_init",
    ".": "data_done",
    # BDAT (RFC 3030): a chunk is a block of data, the last one ends it (Postfix's
    # client sends no BDAT; these are the DATA phases' timers).
    "BDAT": "data_xfer",
    "BDAT-LAST": "data_done",
    "QUIT": "quit",
    "RSET": "rset",
    "STARTTLS": "starttls",
}
