"""Postfix's SCHEDULER_README measurements of its concurrency scheduler ("Results for
delivery to concurrency limited servers"), reproduced where the model can express them.

Set-up, as in the README: one message to 2000 recipients of one domain, 2 recipients
per delivery (``default_destination_recipient_limit``), client concurrency limit 20,
about 1 s of server time per recipient ("sleep 1"; the model has no per-RCPT cost, so
0.4 s per command: EHLO, MAIL, 2 RCPT, DATA make the 2 s of a delivery), only the
first delivery pass counted (``maximal_queue_lifetime: 0``: nothing is retried). The
shares are of deliveries (every delivery has 2 recipients, so of recipients too).

Tables and what is checked:

- "Impact of active server concurrency limiter": server anvil limit 5 connections per
  client (421 at connect), process limit 10, client initial concurrency 5.
  *1/N feedback*: 16.5 % deferred (both caching rows) -- reproduced, checked to
  +-1.5 points; the client concurrency, published 5.17, is checked to be near the
  server's limit of 5 (the model gives 5.0: a refused connection costs it one round
  trip, so refused attempts add almost nothing to the time deliveries are under way).
  *Feedback 1*: 49.7 % is not reproduced: those measurements were taken with the
  experimental scheduler of November 2007, before Postfix 2.5-20071129 added the
  rounding margins ``success + feedback/2 >= 1`` and ``failure - feedback/2 < 0`` to
  ``qmgr_queue_unthrottle``/``qmgr_queue_throttle`` (the README's set-up still names
  that time's "hysteresis" parameters). With the margin, which Postfix has had since
  and which smtpsim follows, a failure from ``failure == 0`` lowers the window by 2
  with feedback 1, so the client backs off further and defers between 1/3 (every
  failure a double drop: 2 f = 1 - f) and 1/2 (the README's theoretical rate, every
  failure a single drop); the model gives 33-35 % over seeds.
  *1/sqrt(N)*: 24.5 % published, 31-33 % in the model (not explained here). What is
  checked: 1/N < 1/sqrt(N) < 1 in deferrals, and feedback 1 between 1/3 and 1/2,
  each bound widened by two binomial standard errors of the 2000 deliveries.
- Timing (issue 11, cause 5): the README's client and server shared a LAN, and a real
  server's time per command varies by milliseconds. The scenario has both (links of
  0.1 ms, a command time with a 1 % spread). With exactly constant times and slower
  links the deliveries of a round end in lock-step and every 421 of the next round
  comes back before any of its deliveries succeeds; their negative feedback adds up
  to a dead destination that no success resets (fail_cohorts, qmgr_queue.c), and
  feedback 1 or 1/sqrt(N) defers 99 %, an artefact of the idealised timing, not
  Postfix's behaviour (it was hidden while smtpsim cached every connection of a
  backlogged destination; smtpsim now caches as qmgr_entry.c decides).
- "Impact of the 30s SMTP connect timeout" (FreeBSD server: process limit 5, a listen
  queue of 7 = 3/2 of the backlog 5, excess connections dropped; client initial
  concurrency 20): 9.9-10.8 % deferred across the feedback styles, all by connect
  timeouts. Checked: each style within that range, widened by 0.5 point, and every
  deferral a connection failure: mostly connect timeouts (4.4.1); with connection
  caching on (the README's "yes" rows; smtpsim's default) a few connections queued
  at the start wait behind cached connections, which keep their server processes
  for up to ``smtp_connection_reuse_time_limit``, and time out at the greeting (4.4.2).
- "Impact of the 300s SMTP greeting timeout" (Linux, no listen-queue limit; 20000
  recipients, 1.16-1.39 %): not run here, a 10x longer run for the same mechanism
  as the connect-timeout table (the model's default, ``listen_backlog: none``, waits
  for a process up to ``smtp_helo_timeout``).
"""

from __future__ import annotations

import pytest

import smtpsim

SCENARIO = """
name: scheduler-readme
duration: 4h
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix:
      default_destination_recipient_limit: 2
      default_destination_concurrency_limit: 20
      initial_destination_concurrency: INITIAL
      default_destination_concurrency_positive_feedback: FEEDBACK
      default_destination_concurrency_negative_feedback: FEEDBACK
      maximal_queue_lifetime: 0
  mx:
    role: mx
    accepts: [dest.example]
    mailboxes: 100000
    postfix: {default_process_limit: PROCESSES}
    processing: {command: {lognormal: {median: 0.4s, sigma: 0.01}}}
    BACKLOG
    policies: [{rate_limit: {connections: ANVIL}}]
links:
  - {between: [out, internet], latency: 0.1ms}
  - {between: [mx, internet], latency: 0.1ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}}
traffic:
  t:
    submit_to: out
    bursts: [{at: 0s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 2000}, domains: {dest.example: 1}}
"""

STYLES = ("1/concurrency", "1/sqrt_concurrency", "1")


def first_pass(
    feedback: str, *, initial: int, processes: int, anvil: int, backlog: int | None
) -> tuple[float, set[tuple[str, str]], float]:
    """The share of out's deliveries deferred, the (phase, dsn) of the deferrals, and
    the mean number of sessions under way (the client's concurrency)."""
    text = (
        SCENARIO.replace("FEEDBACK", feedback)
        .replace("INITIAL", str(initial))
        .replace("PROCESSES", str(processes))
        .replace("ANVIL", str(anvil))
        .replace("BACKLOG", "" if backlog is None else f"listen_backlog: {backlog}")
    )
    result = smtpsim.simulate(smtpsim.load_scenario(text), seed=1)
    a = result.attempts[result.attempts["host"].astype(str) == "out"]
    assert len(a) == 2000  # one attempt per recipient: nothing retried
    deferred = a[a["outcome"].astype(str) == "deferred"]
    kinds = set(zip(deferred["phase"].astype(str), deferred["dsn"].astype(str), strict=True))
    sessions = a.drop_duplicates(["msg_id", "t_start", "t_end", "peer", "outcome"])
    span = a["t_end"].max() - a["t_start"].min()
    concurrency = float((sessions["t_end"] - sessions["t_start"]).sum() / span)
    return len(deferred) / len(a), kinds, concurrency


@pytest.fixture(scope="module")
def limiter() -> dict[str, tuple[float, set[tuple[str, str]], float]]:
    return {
        style: first_pass(style, initial=5, processes=10, anvil=5, backlog=None) for style in STYLES
    }


def test_active_limiter_one_over_n_defers_one_sixth(limiter) -> None:
    share, kinds, concurrency = limiter["1/concurrency"]
    assert share == pytest.approx(0.165, abs=0.015)
    assert {phase for phase, _ in kinds} == {"greeting"}  # all by anvil's 421
    assert 4.9 <= concurrency <= 5.7


def test_active_limiter_less_feedback_defers_less(limiter) -> None:
    n, sqrt_n, one = (limiter[s][0] for s in STYLES)
    assert n < sqrt_n < one


def test_active_limiter_feedback_one_defers_between_a_third_and_a_half(limiter) -> None:
    one = limiter["1"][0]
    se = (0.5 * 0.5 / 2000) ** 0.5  # a deferred share's largest binomial standard error
    assert 1 / 3 - 2 * se <= one <= 1 / 2 + 2 * se


@pytest.mark.parametrize("style", STYLES)
def test_full_listen_queue_defers_a_tenth_by_connect_timeouts(style: str) -> None:
    share, kinds, _ = first_pass(style, initial=20, processes=5, anvil=50, backlog=7)
    assert 0.099 - 0.005 <= share <= 0.108 + 0.005
    assert ("connect", "4.4.1") in kinds
    assert kinds <= {("connect", "4.4.1"), ("connect", "4.4.2")}
