"""Forced replies: answer a phase with a given reply, with some probability.

This is the server-error fault of scenario files (``reply: "421 4.7.0 Try again
later"`` at a phase) and the ``--inject`` option of ``smtpsim serve``: it lets a
real or simulated server misbehave on purpose, in a reproducible way.
"""

from __future__ import annotations

import random
from typing import Protocol

from ..protocol import Reply
from .policy import PHASES, Context, Policy

__all__ = ["ReplyInjection", "parse_injection"]


class _Random(Protocol):
    def random(self) -> float: ...


class ReplyInjection(Policy):
    """Answer ``phase`` with ``reply`` with probability ``probability``.

    ``rng`` is anything with a ``random()`` method (``random.Random``, a numpy
    ``Generator``); it is never the global random state.
    """

    def __init__(
        self, phase: str, reply: Reply, probability: float = 1.0, rng: _Random | None = None
    ) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}; got {phase!r}")
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be between 0 and 1, got {probability!r}")
        if phase == "auth" and reply.code == 235:
            raise ValueError("an injected reply cannot grant authentication")
        self.phase = phase
        self.phases = frozenset({phase})
        self.reply = reply
        self.probability = probability
        self.rng = rng if rng is not None else random.Random(0)

    def check(self, phase: str, ctx: Context) -> Reply | None:
        if self.probability >= 1.0 or self.rng.random() < self.probability:
            return self.reply
        return None


def parse_injection(text: str, rng: _Random | None = None) -> ReplyInjection:
    """``PHASE:REPLY[@PROBABILITY]``, e.g. ``rcpt:451 4.3.0 Try later@0.25``.

    Raises ``ValueError`` with a message that says what was expected.
    """
    phase, sep, rest = text.partition(":")
    if not sep:
        raise ValueError(f"expected PHASE:REPLY[@PROBABILITY], got {text!r}")
    head, at, tail = rest.rpartition("@")
    # A reply text may hold an address: only a number after the last '@' is a probability.
    probability = _number(tail) if at else None
    if probability is None:
        head, probability = rest, 1.0
    return ReplyInjection(phase.strip().lower(), Reply.parse(head), probability, rng)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
