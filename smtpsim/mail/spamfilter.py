"""A content filter at the end of data, reduced to what a network simulation needs:
a score per message and a threshold.

A real filter (SpamAssassin, rspamd) scores the message's content; the simulator
has no content worth scoring, so each message draws its score from a normal
distribution chosen by its sender's class (senders grouped by domain, with a
default class for all others, bounces included). A message scoring at or above
``threshold`` is refused at the end of data with ``550 5.7.1 Message rejected as
spam``, after the whole message was sent (which costs the transfer time), and the
sending MTA bounces it.

Refused mail of a legitimate class is the filter's **false-positive rate**: for a
class N(mean, sd) it is ``1 - Phi((threshold - mean) / sd)``
(``rejection_probability``); accepted mail of a spam class is its false-negative
rate. ``scored`` and ``rejected`` count messages per class so a run can report
both. The default threshold, 5.0, is SpamAssassin's ``required_score`` default.

Each message takes exactly one number from ``rng`` (an object with ``random()``,
never the global random state), turned into a normal variate by the inverse CDF,
so that compared configurations draw the same scores (common random numbers).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from statistics import NormalDist
from typing import Protocol

from ..protocol import Reply, replies
from .envelope import domain_of
from .policy import END_OF_DATA, Context, Policy

__all__ = ["SenderClass", "SpamFilter"]

_STANDARD = NormalDist()
_TINY = 1e-300  # inv_cdf is undefined at 0; random() may return exactly 0.0


class _Random(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class SenderClass:
    """Senders whose messages score N(``mean``, ``sd``): those of ``domains``
    (lower-case), or every sender not in another class when it is the default."""

    name: str
    mean: float
    sd: float
    domains: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.sd < 0:
            raise ValueError(f"sd of class {self.name!r} must be >= 0, got {self.sd!r}")
        object.__setattr__(self, "domains", frozenset(d.lower() for d in self.domains))


class SpamFilter(Policy):
    """Score each message by its sender's class; refuse it at ``threshold`` or above.

    ``classes`` are matched by the sender's domain; a domain in two classes belongs
    to the first. ``threshold`` may be changed at run time.
    """

    phases = frozenset({END_OF_DATA})

    def __init__(
        self,
        rng: _Random,
        *,
        default: SenderClass,
        classes: Iterable[SenderClass] = (),
        threshold: float = 5.0,
    ) -> None:
        self.rng = rng
        self.default = default
        self.classes = tuple(classes)
        self.threshold = threshold
        self._by_domain: dict[str, SenderClass] = {}
        for cls in reversed(self.classes):  # the first class listing a domain wins
            for domain in cls.domains:
                self._by_domain[domain] = cls
        names = [c.name for c in (*self.classes, default)]
        if len(set(names)) != len(names):
            raise ValueError(f"sender class names must be unique, got {names}")
        self.scored = dict.fromkeys(names, 0)
        self.rejected = dict.fromkeys(names, 0)

    def sender_class(self, sender: str) -> SenderClass:
        return self._by_domain.get(domain_of(sender), self.default)

    def score(self, sender: str) -> tuple[SenderClass, float]:
        """Draw one message's score (one number from ``rng``)."""
        cls = self.sender_class(sender)
        u = self.rng.random()
        return cls, cls.mean + cls.sd * _STANDARD.inv_cdf(u if u > 0.0 else _TINY)

    def rejection_probability(self, cls: SenderClass) -> float:
        """The share of ``cls``'s messages refused: the false-positive rate of a
        legitimate class."""
        if cls.sd == 0:
            return 1.0 if cls.mean >= self.threshold else 0.0
        return 1.0 - NormalDist(cls.mean, cls.sd).cdf(self.threshold)

    def check(self, phase: str, ctx: Context) -> Reply | None:
        cls, score = self.score(ctx.sender or "")
        self.scored[cls.name] += 1
        if score >= self.threshold:
            self.rejected[cls.name] += 1
            return replies.SPAM_REJECTED
        return None
