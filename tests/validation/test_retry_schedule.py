"""Exact retry schedules of Postfix's queue manager (Postfix qmgr_active.c; RFC 5321
section 4.5.3.2).

One message, one recipient, arrives in the queue of ``out`` while its only MX is
unreachable, and the MX comes back 3 hours later. The times of ``out``'s delivery
attempts are computed here, independently of the engine, from Postfix's rules:

- the first attempt starts when the message arrives (it goes straight from incoming
  to the active queue);
- an attempt to an unreachable server fails after the connection's cost: the TCP
  connect timeout ``smtp_connect_timeout`` (30 s) when the SYN goes unanswered (link
  down), one round trip when the connection is refused (here 0 s: the links have no
  latency). The very first attempt also waits for the MX lookup, a resolver cache
  miss (``smtpsim.model.DNS_MISS_TIME``; the answer is then cached for the zone's TTL
  of one day);
- when the attempt has failed, at ``now``, the message's queue file is stamped
  ``now + clamp(age, minimal_backoff_time, maximal_backoff_time)``, ``age`` being
  ``now`` minus its arrival in this queue, all in whole seconds of the host's clock
  (``qmgr_active.c``: ``event_time()`` and ``create_time`` are ``time_t``); the
  clock reads simulated time plus the host's ``clock_phase``;
- it is tried again at the first deferred-queue scan that finds the stamp at most
  1 s ahead of the clock's whole second (``qmgr_active_feed``); scans run every
  ``queue_run_delay`` (300 s) from t = 0;
- an attempt that starts once the MX is reachable again is delivered;
- after a failed attempt, a message whose age (whole seconds) is at least
  ``maximal_queue_lifetime`` expires instead (Postfix qmgr_active.c), with the last
  error as its reason.

In the ``attempts`` table (docs/results.md) ``t_start`` is when the recipient was
handed to the SMTP client and ``t_end`` when the outcome was known: for a deferral
after a connection failure ``t_end - t_start`` is the cost of the lookup and the
failed connection. Times are compared to a microsecond: the only other durations in
these runs are transfers of 1000 bytes at 10 Gbit/s (under a microsecond).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from validation_helpers import check_conservation, run_model

from smtpsim.model import DNS_MISS_TIME

QUEUE_RUN_DELAY = 300.0
MINIMAL_BACKOFF = 300.0
MAXIMAL_BACKOFF = 4000.0
CONNECT_TIMEOUT = 30.0
OUTAGE = 3 * 3600.0
TOL = 1e-6


def scenario(arrival: float, *, lifetime: str = "5d", duration: str = "8h") -> str:
    return f"""
name: retry-schedule
duration: {duration}
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix: {{maximal_queue_lifetime: {lifetime}}}
    processing: {{greeting: 0s, command: 0s, end_of_data: 0s}}
  mx:
    role: mx
    accepts: [dest.example]
    processing: {{greeting: 0s, command: 0s, end_of_data: 0s}}
links:
  - {{between: [out, internet], latency: 0s, bandwidth: 10Gbit/s}}
  - {{between: [mx, internet], latency: 0s, bandwidth: 10Gbit/s}}
dns:
  corp.example: {{mx: {{out: 10}}, ttl: 1d}}
  dest.example: {{mx: {{mx: 10}}, ttl: 1d}}
traffic:
  one:
    submit_to: out
    rate: 0
    bursts: [{{at: {arrival}s, messages: 1}}]
    size: 1000B
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
    link: {{latency: 0s, bandwidth: 10Gbit/s}}
"""


@dataclass(frozen=True)
class Expected:
    t_start: float
    t_end: float | None  # None for the successful attempt (its end is the session's)
    outcome: str


def postfix_schedule(
    arrival: float,
    failure_cost: float,
    reachable_from: float,
    *,
    first_extra: float = 0.0,
    lifetime: float = math.inf,
    phase: float = 0.0,
) -> tuple[list[Expected], bool]:
    """The attempts of a message arriving at ``arrival`` whose next hop fails every
    attempt that starts before ``reachable_from`` after ``failure_cost`` seconds
    (plus ``first_extra`` at the first attempt). Returns them and whether the
    message expired."""
    out: list[Expected] = []
    start = arrival
    while True:
        if start >= reachable_from:
            out.append(Expected(start, None, "sent"))
            return out, False
        end = start + failure_cost + (first_extra if not out else 0.0)
        out.append(Expected(start, end, "deferred"))
        tick = math.floor(end + phase)  # the host's clock, whole seconds
        age = tick - math.floor(arrival + phase)
        if age >= lifetime:
            return out, True
        stamp = tick + min(max(age, MINIMAL_BACKOFF), MAXIMAL_BACKOFF)
        eligible = stamp - 1 - phase  # a scan takes it from 1 s before, in simulated time
        start = math.ceil(eligible / QUEUE_RUN_DELAY - 1e-9) * QUEUE_RUN_DELAY


def test_schedule_function_reproduces_the_fact_sheet_table() -> None:
    # Postfix qmgr_active.c: arrival at 0, failing instantly, scans at 0, 300, 600 ...
    attempts, _ = postfix_schedule(0.0, 0.0, 20000.0)
    starts = [a.t_start for a in attempts]
    assert starts == [0, 300, 600, 1200, 2400, 4800, 9000, 13200, 17400, 21600]
    assert [a.outcome for a in attempts] == ["deferred"] * 9 + ["sent"]
    # "with a scan phase of 150 s the second try is at 450 s": arriving 150 s after a
    # scan is the same as scans running 150 s after the arrival
    attempts, _ = postfix_schedule(150.0, 0.0, 20000.0)
    assert attempts[1].t_start - 150.0 == 450.0
    # the 4000 s cap is rounded up to the next scan: +4200 s
    assert starts[7] - starts[6] == starts[8] - starts[7] == 4200.0


def _outage(mode: str, until: float):
    def setup(model):
        def process():
            if mode == "timeout":
                model.link("mx", "internet").up = False
            else:
                model.hosts["mx"].down = "refuse"
            yield model.env.timeout(until)
            model.link("mx", "internet").up = True
            model.hosts["mx"].down = None

        model.env.process(process())

    return setup


def _run(arrival: float, mode: str, **kw):
    outage_end = arrival + OUTAGE
    model, result = run_model(scenario(arrival, **kw), setup=_outage(mode, outage_end))
    attempts = result.attempts
    submitted = attempts[attempts["host"].astype(str) == "traffic.one"]
    assert len(submitted) == 1 and submitted["outcome"].astype(str).iloc[0] == "sent"
    # the message enters out's queue when the submission session ends
    entered = float(submitted["t_end"].iloc[0])
    assert entered == pytest.approx(arrival, abs=1e-3)
    at_out = attempts[attempts["host"].astype(str) == "out"].sort_values("t_start")
    phase = model.hosts["out"].qmgr.clock_phase
    return result, entered, outage_end, at_out.reset_index(drop=True), phase


def _compare(at_out, expected: list[Expected]) -> None:
    got = [(round(r.t_start, 6), str(r.outcome)) for r in at_out.itertuples()]
    want = [(round(e.t_start, 6), e.outcome) for e in expected]
    assert got == want, f"attempts (t_start, outcome) {got}, expected {want}"
    for row, exp in zip(at_out.itertuples(), expected, strict=True):
        if exp.outcome == "deferred":
            assert str(row.peer) == "none" and str(row.phase) == "connect"
            assert row.code == 451 and str(row.dsn) == "4.4.1"
            assert row.t_end == pytest.approx(exp.t_end, abs=TOL), (
                f"deferral of the attempt started at {row.t_start:.6f} recorded at "
                f"{row.t_end:.6f}, expected {exp.t_end:.6f}"
            )
        else:
            assert str(row.peer) == "mx"


# 600 s is a scan time; 1180 s is not, and there the 30 s connect timeout decides
# which scan the second attempt falls on (1180 + 30 + 300 = 1510 -> 1800, not 1500).
ARRIVALS = [600.0, 1180.0]


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_retry_schedule_connection_refused(arrival: float) -> None:
    result, entered, outage_end, at_out, phase = _run(arrival, "refuse")
    # refused: one round trip, 0 s here; the first attempt also pays the MX lookup
    expected, expired = postfix_schedule(
        entered, 0.0, outage_end, first_extra=DNS_MISS_TIME, phase=phase
    )
    assert not expired and len(expected) >= 6  # the backoff reaches its cap
    _compare(at_out, expected)
    rcpt = result.recipients.iloc[0]
    assert rcpt["status"] == "delivered"
    assert rcpt["attempts"] == len(expected) + 1  # out's attempts and the submission


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_retry_schedule_connection_timeout(arrival: float) -> None:
    result, entered, outage_end, at_out, phase = _run(arrival, "timeout")
    # unanswered SYN: the deferral is known smtp_connect_timeout after the attempt began
    expected, expired = postfix_schedule(
        entered, CONNECT_TIMEOUT, outage_end, first_extra=DNS_MISS_TIME, phase=phase
    )
    assert not expired and len(expected) >= 6
    _compare(at_out, expected)
    rcpt = result.recipients.iloc[0]
    assert rcpt["status"] == "delivered"
    assert rcpt["attempts"] == len(expected) + 1


def test_message_expires_after_maximal_queue_lifetime() -> None:
    arrival, lifetime = 1000.0, 3600.0
    # the MX never comes back within the run
    model, result = run_model(
        scenario(arrival, lifetime="1h", duration="4h"), setup=_outage("timeout", 10 * 3600.0)
    )
    attempts = result.attempts
    at_out = attempts[attempts["host"].astype(str) == "out"].sort_values("t_start")
    entered = float(attempts.loc[attempts["host"].astype(str) == "traffic.one", "t_end"].iloc[0])
    expected, expired = postfix_schedule(
        entered,
        CONNECT_TIMEOUT,
        math.inf,
        first_extra=DNS_MISS_TIME,
        lifetime=lifetime,
        phase=model.hosts["out"].qmgr.clock_phase,
    )
    assert expired
    starts = [round(t, 6) for t in at_out["t_start"]]
    assert starts == [round(e.t_start, 6) for e in expected]
    assert (at_out["outcome"].astype(str) == "deferred").all()

    counts = check_conservation(result)
    assert counts["expired"] == 1 and counts["pending"] == 0
    messages = result.messages
    original = messages[messages["origin"].astype(str) == "one"].iloc[0]
    rcpts = result.recipients
    expired_row = rcpts[rcpts["msg_id"] == original["msg_id"]].iloc[0]
    assert expired_row["status"] == "expired"
    # Postfix reports the last real error, not 4.4.7 (Postfix qmgr_active.c)
    assert expired_row["dsn"] == "4.4.1"
    assert expired_row["reply"].startswith("451 4.4.1")
    assert "Connection timed out" in expired_row["reply"]
    # it expired when the last attempt failed: `lifetime` after arrival in whole
    # seconds of the host's clock (so up to 1 s less in simulated time, qmgr_active.c),
    # and less than one retry interval later
    t_final = float(expired_row["t_final"])
    assert t_final == pytest.approx(float(at_out["t_end"].iloc[-1]), abs=TOL)
    assert lifetime - 1 < t_final - entered < lifetime + MAXIMAL_BACKOFF + QUEUE_RUN_DELAY + 60
    # exactly one non-delivery notice, from <> to the sender, delivered to its mailbox
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == 1
    bounce = bounces.iloc[0]
    assert bounce["sender"] == "" and bounce["n_rcpt"] == 1
    assert bounce["t_submit"] == pytest.approx(t_final, abs=TOL)
    notice = rcpts[rcpts["msg_id"] == bounce["msg_id"]].iloc[0]
    assert notice["rcpt"] == original["sender"]
    assert notice["status"] == "delivered"
