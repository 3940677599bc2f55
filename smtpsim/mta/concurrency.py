"""A destination's concurrency window: Postfix 2.5's concurrency scheduler
(SCHEDULER_README, "Pseudocode for the Postfix 2.5 concurrency scheduler";
``src/qmgr/qmgr_queue.c``, ``qmgr_queue_unthrottle`` and ``qmgr_queue_throttle``;
Postfix SCHEDULER_README, qmgr_queue.c).

Each delivery request that ends gives feedback to its destination's window:

- *negative* when the SMTP client could not talk to the site: every server it tried
  last failed to connect or in the handshake (a 4xx greeting such as anvil's 421, a
  5xx greeting turned soft by ``smtp_skip_5xx_greeting``, EHLO refused, a connect or
  greeting timeout, a lost connection), or the MX lookup failed for now, and no
  session to any of its servers completed (``smtp_trouble.c``: only a deferral
  through ``smtp_site_fail``/``smtp_sess_fail``/``smtp_stream_except`` at the final
  server sets the request's ``hop_status``; ``qmgr_deliver.c`` throttles on it);
- *positive* otherwise, whatever happened to the recipients (a 4xx or 5xx to RCPT is
  the recipient's business, not the site's).

The states and moves, with ``f``/``g`` the negative/positive feedback at the current
window (``smtpsim.scenario.feedback``; hysteresis 1, as in Postfix):

- alive, positive: ``fail_cohorts = 0``; if ``window < limit`` and
  ``window < busy + initial``: ``success += g``, then while ``success + g/2 >= 1``:
  ``window += 1, success -= 1, failure = 0``; capped at ``limit``.
- alive, negative: ``fail_cohorts += 1/window``; if ``cohort_limit > 0`` and
  ``fail_cohorts >= cohort_limit``: **dead**. Otherwise ``failure -= f``, then while
  ``failure - f/2 < 0``: ``window -= 1, success = 0, failure += 1``; floor 1.
- dead, positive (a delivery still under way succeeded): alive again at once with
  ``window = busy or initial`` and ``success = failure = fail_cohorts = 0``.
- dead, negative: nothing.
- dead, ``minimal_backoff_time`` passed: as dead, positive.

The ``g/2`` and ``f/2`` margins are Postfix's guard against rounding (since
2.5-20071129): ``1/N`` added ``N`` times must make one step. SCHEDULER_README's
pseudo-code has no margin; with feedback 1 the margin makes the first failure after
a step (``failure == 0``) lower the window by 2, later ones by 1. This module follows
``qmgr_queue.c``. Negative feedback steps down at the *start* of its
cycle (the first failure lowers the window at once), positive feedback steps up at
its *end*: that asymmetry is why less-than-1 feedback defers less mail at a server
that turns connections away (SCHEDULER_README, "Limitations of less-than-1 per
delivery feedback").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # types only (docs/architecture.md, section 2)
    from ..scenario import Postfix


class Feedback(Protocol):
    """A feedback rule (the scenario's ``ConcurrencyFeedback``): the window change of
    one delivery at concurrency window ``window``."""

    def value(self, window: int) -> float: ...


__all__ = ["ConcurrencyWindow", "WindowRules"]


@dataclass(frozen=True, slots=True)
class WindowRules:
    """The parameters of the scheduler for one transport (Postfix's names)."""

    initial: int  # initial_destination_concurrency
    limit: int  # default_destination_concurrency_limit (0 = no limit, as in Postfix)
    positive: Feedback
    negative: Feedback
    cohort_limit: float  # default_destination_concurrency_failed_cohort_limit (0 = never dead)

    @classmethod
    def from_params(cls, p: Postfix) -> WindowRules:
        """From a host's Postfix parameters (``smtpsim.scenario.Postfix``)."""
        return cls(
            p.initial_destination_concurrency,
            p.default_destination_concurrency_limit,
            p.default_destination_concurrency_positive_feedback,
            p.default_destination_concurrency_negative_feedback,
            p.default_destination_concurrency_failed_cohort_limit,
        )


class ConcurrencyWindow:
    """How many deliveries a destination may have under way (``window``), or none
    while it is ``dead``. The caller tells it how each delivery ended and how many
    are still ``busy``; it says when the destination dies or comes back."""

    __slots__ = ("dead", "fail_cohorts", "failure", "rules", "success", "window")

    def __init__(self, rules: WindowRules) -> None:
        self.rules = rules
        self.window = rules.initial
        self.success = 0.0
        self.failure = 0.0
        self.fail_cohorts = 0.0
        self.dead = False

    def positive(self, busy: int) -> bool:
        """A delivery ended without site trouble; ``busy`` deliveries are still under
        way. Returns ``True`` when this brings a dead destination back."""
        self.fail_cohorts = 0.0
        if self.dead:
            self.revive(busy)
            return True
        rules = self.rules
        limit = rules.limit
        if (limit == 0 or limit > self.window) and self.window < busy + rules.initial:
            feedback = rules.positive.value(self.window)
            self.success += feedback
            while self.success + feedback / 2 >= 1.0:
                self.window += 1
                self.success -= 1.0
                self.failure = 0.0
            if limit > 0 and self.window > limit:
                self.window = limit
        return False

    def negative(self) -> bool:
        """A delivery ended in site trouble. Returns ``True`` when this makes the
        destination dead (the caller then defers its waiting mail and sets the timer)."""
        if self.dead:
            return False
        rules = self.rules
        self.fail_cohorts += 1.0 / self.window
        if rules.cohort_limit > 0 and self.fail_cohorts >= rules.cohort_limit:
            self.dead = True
            return True
        feedback = rules.negative.value(self.window)
        self.failure -= feedback
        while self.failure - feedback / 2 < 0:
            self.window -= 1
            self.success = 0.0
            self.failure += 1.0
        if self.window < 1:
            self.window = 1
        return False

    def revive(self, busy: int) -> None:
        """Back from the dead ("slow open"): as many as are still under way, or the
        initial concurrency when none is."""
        self.dead = False
        self.window = busy if busy > 0 else self.rules.initial
        self.success = self.failure = self.fail_cohorts = 0.0
