"""Link incidents (docs/scenario-format.md, "incidents"): while a ``link_down`` lasts
the link carries nothing, so connections across it time out (``smtp_connect_timeout``,
4.4.1) and the mail waits for Postfix's retry schedule (Postfix qmgr_active.c); a
``link_congestion`` multiplies the latency and adds to it, thins the bandwidth and
loses connection attempts. Each run is a tiny scenario with an ``incidents:``
section, checked on the tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from engine_helpers import attempts_from, strings, two_hosts

import smtpsim

CONNECT_TIMEOUT = 30.0  # smtp_connect_timeout
QUEUE_RUN_DELAY = 300.0  # deferred-queue scans at 0, 300, 600 ... s
MINIMAL_BACKOFF = 300.0
MAXIMAL_BACKOFF = 4000.0
DNS_MISS = 0.02  # docs/model.md, "DNS": a cache miss costs 20 ms
LATENCY = 0.005  # one-way, each of the two links of the path out - internet - mx


def run(text: str, **kwargs) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text), **kwargs)


def windows(result) -> list[tuple[str, str, float, float]]:
    return [(w["kind"], w["target"], w["start"], w["end"]) for w in result.meta["incidents"]]


def arrivals_at(result, host: str) -> dict[int, float]:
    """When each message entered ``host``'s queue: the end of the session that
    handed it over."""
    att = result.attempts
    handed = att[(att["peer"].astype(str) == host) & (att["outcome"].astype(str) == "sent")]
    return {int(m): float(t) for m, t in zip(handed["msg_id"], handed["t_end"], strict=True)}


def bursts(times: list[float]) -> str:
    """A flow's ``bursts`` of one message at each time."""
    return "[" + ", ".join(f"{{at: {t:g}s, messages: 1}}" for t in times) + "]"


def inside(frame: pd.DataFrame, start: float, end: float) -> pd.Series:
    return (frame["t_start"] >= start) & (frame["t_start"] < end)


# --- link_down --------------------------------------------------------------------------

DOWN = (100.0, 2000.0)
DOWN_MESSAGES = [20.0, 110.0, 650.0, 2100.0]  # before, inside (twice), after the window

LINK_DOWN = two_hosts(
    "link-down",
    duration="2h",
    traffic={"rate": 0, "bursts": [{"at": f"{t:g}s", "messages": 1} for t in DOWN_MESSAGES]},
    incidents=[{"link_down": ["mx", "internet"], "at": f"{DOWN[0]:g}s", "until": f"{DOWN[1]:g}s"}],
)


def postfix_schedule(
    arrival: float, down: tuple[float, float], cost: float = CONNECT_TIMEOUT
) -> tuple[list[float], float]:
    """The attempts of a message that enters a queue at ``arrival`` while its next hop
    is unreachable during ``down``: tried at once; an attempt inside the window fails
    ``cost`` later (the connect timeout); the next one is due ``clamp(age, minimal_backoff_time,
    maximal_backoff_time)`` after that failure (age counted from the arrival) and
    happens at the first deferred-queue scan at or after it (Postfix qmgr_active.c).
    Returns the failed attempts' times and the time of the attempt that gets through."""
    failed: list[float] = []
    t = arrival
    while down[0] <= t < down[1]:
        failed.append(t)
        fail = t + cost
        due = fail + min(max(fail - arrival, MINIMAL_BACKOFF), MAXIMAL_BACKOFF)
        t = math.ceil(due / QUEUE_RUN_DELAY) * QUEUE_RUN_DELAY
    return failed, t


def test_postfix_schedule_helper() -> None:
    # Postfix's schedule (qmgr_active.c; delivery failing instantly, scans every 300 s): 0, 300,
    # 600, 1200, 2400, 4800 s, then every 4200 s
    failed, _ = postfix_schedule(0.0, (0.0, 20000.0), cost=0.0)
    assert failed[:8] == [0, 300, 600, 1200, 2400, 4800, 9000, 13200]
    # with a 30 s connect timeout per failure: due at 330 -> 600, 630 + 630 -> 1500 ...
    failed, _ = postfix_schedule(0.0, (0.0, 5000.0))
    assert failed == [0, 600, 1500, 3300]
    # a message that arrives inside a short window is tried again at the next scan
    assert postfix_schedule(110.0, (100.0, 500.0)) == ([110.0], 600.0)
    assert postfix_schedule(50.0, (100.0, 500.0)) == ([], 50.0)


def test_link_down_defers_with_441_and_delivers_on_the_backoff_schedule() -> None:
    result = run(LINK_DOWN)
    assert windows(result) == [("link_down", "mx-internet", DOWN[0], DOWN[1])]
    out = attempts_from(result, "out")
    arrivals = arrivals_at(result, "out")
    assert sorted(arrivals) == [0, 1, 2, 3]

    # deferred exactly when the attempt started inside the window, at the connection,
    # after the connect timeout (plus a DNS miss at most)
    within = inside(out, *DOWN)
    assert within.sum() == 5  # 110 s, 600 s, 1200 s; 650 s, 1200 s
    assert strings(out.loc[within, "outcome"]) == ["deferred"] * 5
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * int((~within).sum())
    deferred = out[within]
    assert strings(deferred["dsn"]) == ["4.4.1"] * 5
    assert (deferred["code"] == 451).all()
    assert strings(deferred["peer"]) == ["none"] * 5
    assert strings(deferred["phase"]) == ["connect"] * 5
    took = deferred["t_end"] - deferred["t_start"]
    assert (took >= CONNECT_TIMEOUT).all() and (took <= CONNECT_TIMEOUT + DNS_MISS + 1e-9).all()
    assert (deferred["t_end"] <= DOWN[1] + CONNECT_TIMEOUT + DNS_MISS).all()

    # every message's attempts at out come when the backoff formula says
    first_after: list[float] = []
    for msg_id, arrival in arrivals.items():
        rows = out[out["msg_id"] == msg_id]
        failed, through = postfix_schedule(arrival, DOWN)
        expected = [*failed, through]
        assert len(rows) == len(expected), (msg_id, rows["t_start"].tolist(), expected)
        # a first try may wait for a DNS miss (20 ms): far below the 300 s scan step
        np.testing.assert_allclose(rows["t_start"].to_numpy(), expected, atol=0.05)
        assert strings(rows["outcome"]) == ["deferred"] * len(failed) + ["sent"]
        if failed:
            first_after.append(through)

    # the first delivery after the recovery: at the scan the formula predicts
    recovered = out[
        (out["t_start"] >= DOWN[1])
        & out["msg_id"].isin(deferred["msg_id"])
        & (out["outcome"].astype(str) == "sent")
    ]
    assert recovered["t_start"].min() == pytest.approx(min(first_after))
    assert min(first_after) == 2100.0  # the message of 650 s: 680 + 300 -> 1200; 1230 + 580

    # everything delivered; the attempts column counts every hop's attempts
    rcpts = result.recipients.set_index("msg_id")
    assert strings(rcpts["status"]) == ["delivered"] * 4
    for msg_id, arrival in arrivals.items():
        failed, _ = postfix_schedule(arrival, DOWN)
        assert rcpts.loc[msg_id, "attempts"] == 1 + len(failed) + 1
    # the 4th failure in a row (at 1230 s) makes the destination dead until 1530 s,
    # but nothing is due meanwhile: no deferral without a connection
    assert "qmgr" not in strings(out["phase"])


# --- link_congestion: latency -----------------------------------------------------------

CONGESTED = (300.0, 600.0)
LATENCY_FACTOR = 2.0
ADDED_LATENCY = 0.2


def congestion_scenario(
    congestion: str,
    *,
    size: str = "2KiB",
    pipelining: bool = True,
    bandwidth: str = "1Gbit/s",
    window: tuple[float, float] = CONGESTED,
) -> str:
    # single messages every 30 s: no two transfers share a link, and no connection is
    # kept for reuse (a cached connection is tested on its own below)
    times = [15.0 + 30.0 * k for k in range(30)]
    return f"""
name: link-congestion
duration: 20min
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix: {{smtp_connection_cache_on_demand: false, smtp_pipelining: {str(pipelining).lower()}}}
  mx: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx, internet], latency: 5ms, bandwidth: {bandwidth}}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx: 10}}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: {bursts(times)}
    size: {size}
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
incidents:
  - {{link_congestion: {congestion}, at: {window[0]:g}s, until: {window[1]:g}s}}
"""


def session_round_trips(pipelining: bool, recipients: int = 1) -> float:
    """Round trips of a fresh session with one message, from docs/model.md's table
    "One SMTP session": TCP connect 1, greeting 1/2, EHLO 1, the command groups (with
    PIPELINING one group MAIL+RCPT...+DATA, else one each), the message's final '.'
    1, QUIT 0 (smtp_skip_quit_response)."""
    groups = 1 if pipelining else 2 + recipients
    return 1 + 0.5 + 1 + groups + 1


def durations(result, host: str = "out") -> pd.DataFrame:
    att = attempts_from(result, host)
    att = att[att["outcome"].astype(str) == "sent"].copy()
    att["took"] = att["t_end"] - att["t_start"]
    return att


@pytest.mark.parametrize("pipelining", [True, False])
def test_congestion_latency_slows_sessions_that_start_inside(pipelining: bool) -> None:
    result = run(
        congestion_scenario(
            f"{{link: [mx, internet], latency_factor: {LATENCY_FACTOR:g}, "
            f"added_latency: {ADDED_LATENCY * 1000:g}ms}}",
            pipelining=pipelining,
        )
    )
    assert windows(result) == [("link_congestion", "mx-internet", *CONGESTED)]
    sent = durations(result)
    assert len(sent) == 30 and (result.recipients["status"].astype(str) == "delivered").all()
    within = inside(sent, *CONGESTED)
    assert within.sum() == 10
    base = sent.loc[~within, "took"]
    # outside the window every session costs the same (all times are constants)
    assert base.max() - base.min() < 1e-9
    rtt = 2 * (LATENCY + LATENCY)
    rtt_congested = 2 * (LATENCY + LATENCY * LATENCY_FACTOR + ADDED_LATENCY)
    extra = session_round_trips(pipelining) * (rtt_congested - rtt)
    assert extra > 1.8  # at least 4.5 round trips of 410 ms more
    slower = sent.loc[within, "took"] - base.min()
    assert (slower >= extra - 1e-9).all(), (slower.tolist(), extra)
    # ... and not by much more: the processing and the transfer are unchanged
    assert (slower <= extra + 0.01).all(), (slower.tolist(), extra)


def test_congestion_bandwidth_factor_slows_big_messages() -> None:
    size = 1_000_000
    bandwidth = 1_000_000.0  # 8 Mbit/s on the mx link, the bottleneck of the path
    factor = 0.1
    result = run(
        congestion_scenario(
            f"{{link: [mx, internet], bandwidth_factor: {factor}}}",
            size="1MB",
            bandwidth="8Mbit/s",
        )
    )
    sent = durations(result)
    assert len(sent) == 30
    within = inside(sent, *CONGESTED)
    assert within.sum() == 10
    base = sent.loc[~within, "took"]
    assert base.max() - base.min() < 1e-9
    slower = sent.loc[within, "took"] - base.min()
    # the transfer takes size / (bandwidth * factor) instead of size / bandwidth
    expected = size / (bandwidth * factor) - size / bandwidth
    np.testing.assert_allclose(slower.to_numpy(), expected, rtol=1e-9)
    assert (sent.loc[within, "xfer_s"] > size / (bandwidth * factor)).all()


def test_congestion_loss_makes_connections_time_out() -> None:
    # a short window: two lost connections in a row do not make the destination
    # dead (three would, at concurrency 5: windows 5, 3, 2 in qmgr_queue_throttle,
    # Postfix SCHEDULER_README, qmgr_queue.c), so every attempt inside connects, and only
    # those inside fail
    window = (300.0, 360.0)
    result = run(congestion_scenario("{link: [mx, internet], loss: 100%}", window=window))
    out = attempts_from(result, "out")
    within = inside(out, *window)
    assert within.sum() == 2
    lost = out[within]
    assert strings(lost["outcome"]) == ["deferred"] * 2
    assert strings(lost["dsn"]) == ["4.4.1"] * 2
    assert strings(lost["phase"]) == ["connect"] * 2
    took = lost["t_end"] - lost["t_start"]
    assert (took >= CONNECT_TIMEOUT).all() and (took < CONNECT_TIMEOUT + 0.1).all()
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * int((~within).sum())
    assert (result.recipients["status"].astype(str) == "delivered").all()


# --- a connection cached before the incident --------------------------------------------


def cached(incident: dict) -> str:
    """300 messages at once through a flow allowed 100 connections, so that out keeps
    connections to mx open across the start of ``incident`` (at 100 s)."""
    return two_hosts(
        "cached-connections",
        duration="20min",
        traffic={
            "rate": 0,
            "bursts": [{"at": "99.5s", "messages": 300}],
            "client": {
                "initial_destination_concurrency": 100,
                "default_destination_concurrency_limit": 100,
            },
        },
        incidents=[incident],
    )


def test_link_down_also_stops_cached_connections() -> None:
    """A backlog at out (Postfix's default smtp_connection_cache_on_demand) keeps
    connections open across the start of the outage; once the link is down nothing
    crosses it, so no delivery may start on one of them either."""
    result = run(cached({"link_down": ["mx", "internet"], "at": "100s", "for": "100s"}))
    out = attempts_from(result, "out")
    assert (out["t_start"] < 100).sum() > 10  # the backlog straddles the start
    within = out[inside(out, 100.0, 200.0)]
    assert len(within) > 10
    sent = within[within["outcome"].astype(str) == "sent"]
    assert len(sent) == 0, (
        f"{len(sent)} deliveries across the down link, on reused connections "
        f"(conn_s {sorted(set(sent['conn_s'].round(4)))})"
    )


def test_congestion_also_slows_cached_connections() -> None:
    """A reused connection costs an RSET round trip, the command group and the
    message's round trip (docs/model.md): three round trips at the congested RTT."""
    result = run(
        cached(
            {
                "link_congestion": {"link": ["mx", "internet"], "added_latency": "200ms"},
                "at": "100s",
                "for": "100s",
            }
        )
    )
    sent = durations(result)
    within = sent[inside(sent, 100.0, 200.0)]
    assert len(within) > 10
    rtt_congested = 2 * (LATENCY + LATENCY + ADDED_LATENCY)
    fast = within[within["took"] < 3 * rtt_congested]
    assert len(fast) == 0, (
        f"{len(fast)} of {len(within)} sessions inside the congestion took "
        f"{sorted(set(fast['took'].round(4)))} s < 3 RTT = {3 * rtt_congested:.3f} s"
    )
