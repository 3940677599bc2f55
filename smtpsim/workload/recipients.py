"""Who a message goes to: how many recipients, in which domains, which users.

Recipients are ``user<k>@domain`` with ``k`` uniform among the domain's mailboxes,
or, with the flow's ``unknown_users`` probability, ``unknown<k>@domain``, which no
mailbox holds (so the receiving MX answers 550 5.1.1), or, with its ``spamtraps``
probability, a spamtrap ``trap<k>@domain`` (a bad list's old addresses). A message never lists one
address twice. Senders are ``user<k>@sender_domain``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..scenario import Recipients

__all__ = ["RecipientSampler"]

_BATCH = 1024


class RecipientSampler:
    """Draws the recipients of one message at a time, from one stream."""

    def __init__(
        self,
        spec: Recipients,
        mailboxes: dict[str, int],
        unknown: float,
        rng: np.random.Generator,
        spamtraps: float = 0.0,
    ) -> None:
        self.rng = rng
        self.domains = list(spec.domains)
        weights = np.array([spec.domains[d] for d in self.domains], dtype=float)
        self.cdf = (np.cumsum(weights) / weights.sum()).tolist()
        self.mailboxes = [max(1, mailboxes.get(d, 1000)) for d in self.domains]
        self.unknown = unknown
        self.spamtraps = spamtraps
        self.per = spec.per_message
        if self.per.kind == "table":
            counts = np.array([n for n, _ in self.per.table], dtype=float)
            probs = np.array([w for _, w in self.per.table], dtype=float)
            self._table: tuple[list[int], list[float]] = (
                [int(c) for c in counts],
                (probs / probs.sum()).tolist(),
            )
        self._u: list[float] = []
        self._i = 0

    def _uniform(self) -> float:
        if self._i >= len(self._u):
            self._u = self.rng.random(_BATCH).tolist()
            self._i = 0
        self._i += 1
        return self._u[self._i - 1]

    def count(self) -> int:
        per = self.per
        if per.kind == "fixed":
            return int(per.fixed)
        if per.kind == "mean":
            return 1 + int(self.rng.poisson(per.mean - 1.0)) if per.mean > 1.0 else 1
        counts, probs = self._table
        u = self._uniform()
        acc = 0.0
        for n, p in zip(counts, probs, strict=True):
            acc += p
            if u < acc:
                return n
        return counts[-1]

    def draw(self) -> list[str]:
        n = self.count()
        out: list[str] = []
        seen: set[str] = set()
        cdf = self.cdf
        tries = 0
        while len(out) < n and tries < 20 * n:
            tries += 1
            u = self._uniform()
            j = 0
            while j < len(cdf) - 1 and u >= cdf[j]:
                j += 1
            domain = self.domains[j]
            mailboxes = self.mailboxes[j]
            if self.unknown and self._uniform() < self.unknown:
                address = f"unknown{int(self._uniform() * 1_000_000)}@{domain}"
            elif self.spamtraps and self._uniform() < self.spamtraps:
                address = f"trap{int(self._uniform() * 1000)}@{domain}"
            else:
                address = f"user{int(self._uniform() * mailboxes)}@{domain}"
            if address not in seen:
                seen.add(address)
                out.append(address)
        return out
