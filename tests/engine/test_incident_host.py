"""Host incidents (docs/scenario-format.md, "incidents"): ``host_down`` (refuse: the
connection is refused at once, 4.4.1; blackhole: accepted, never greeted, the client
waits ``smtp_helo_timeout``, 4.4.2; both soft, so the next MX is tried,
RFC 5321 section 5.1), ``host_slow`` (processing times multiplied), ``server_errors``
(a forced reply at a phase, with a probability) and ``disk_full`` (452 4.3.1 at
MAIL). Each run is a tiny scenario with an ``incidents:`` section, checked on the tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from engine_helpers import attempts_from, strings

import smtpsim

HELO_TIMEOUT = 300.0  # smtp_helo_timeout
DNS_MISS = 0.02  # docs/model.md, "DNS"
RTT = 2 * (0.005 + 0.005)  # out - internet - mx*, 5 ms each way on each link
WINDOW = (100.0, 300.0)


def run(text: str, **kwargs) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text), **kwargs)


def inside(frame: pd.DataFrame, start: float, end: float) -> pd.Series:
    return (frame["t_start"] >= start) & (frame["t_start"] < end)


def scenario(
    domain: str,
    incident: str,
    *,
    mx1: str = "",
    out: str = "",
    bursts: str = "[{at: 50s, messages: 3, over: 20s}, {at: 150s, messages: 3, "
    "over: 20s}, {at: 400s, messages: 3, over: 20s}]",
    rate: str = "0",
    stop: str = "30min",
) -> str:
    """out sends to ``domain``: dest.example (mx1, backup mx2) or solo.example (mx1
    only); three messages before, inside and after the window by default."""
    return f"""
name: host-incident
duration: 30min
hosts:
  out: {{role: mta, accepts: [corp.example]{out}}}
  mx1: {{role: mx, accepts: [dest.example, solo.example]{mx1}}}
  mx2: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10, mx2: 20}}}}
  solo.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    rate: {rate}
    stop: {stop}
    bursts: {bursts}
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{{domain}: 1}}}}
incidents:
  - {incident}
"""


def window_of(result) -> tuple[float, float]:
    (w,) = result.meta["incidents"]
    return w["start"], w["end"]


# --- host_down ----------------------------------------------------------------------------


def test_host_down_refuse_sends_to_the_backup_after_one_round_trip() -> None:
    result = run(
        scenario("dest.example", "{host_down: {host: mx1, mode: refuse}, at: 100s, for: 200s}")
    )
    assert window_of(result) == WINDOW
    out = attempts_from(result, "out")
    assert len(out) == 9 and (out["outcome"].astype(str) == "sent").all()
    within = inside(out, *WINDOW)
    assert within.sum() == 3
    assert strings(out.loc[within, "peer"]) == ["mx2"] * 3
    assert strings(out.loc[~within, "peer"]) == ["mx1"] * 6
    # connection set-up: the refusal (one round trip) and then the usual handshake
    handshake = out.loc[~within, "conn_s"].min()
    extra = out.loc[within, "conn_s"] - handshake
    assert (extra >= RTT - 1e-9).all() and (extra <= RTT + DNS_MISS + 1e-9).all(), extra
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_host_down_blackhole_sends_to_the_backup_after_the_helo_timeout() -> None:
    result = run(
        scenario("dest.example", "{host_down: {host: mx1, mode: blackhole}, at: 100s, for: 200s}")
    )
    out = attempts_from(result, "out")
    assert len(out) == 9 and (out["outcome"].astype(str) == "sent").all()
    to_backup = out[out["peer"].astype(str) == "mx2"]
    assert len(to_backup) == 3
    # the messages of the second burst: mx1 accepted TCP but never greeted them
    assert (to_backup["conn_s"] >= HELO_TIMEOUT).all()
    assert (to_backup["conn_s"] < HELO_TIMEOUT + 1).all()
    started = to_backup["t_start"] - to_backup["conn_s"]  # when the delivery began
    assert ((started >= WINDOW[0]) & (started < WINDOW[1])).all()
    others = out[out["peer"].astype(str) == "mx1"]
    assert (~inside(others, *WINDOW)).all() and (others["conn_s"] < 1).all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


@pytest.mark.parametrize(
    ("mode", "dsn", "cost"), [("refuse", "4.4.1", RTT), ("blackhole", "4.4.2", RTT + HELO_TIMEOUT)]
)
def test_host_down_without_a_backup_defers(mode: str, dsn: str, cost: float) -> None:
    # Three site failures in a row at window 5 make solo.example dead for
    # minimal_backoff_time (qmgr_queue_throttle: windows 5, 3, 2): the last burst
    # comes after that, so that it is tried, not suspended.
    result = run(
        scenario(
            "solo.example",
            f"{{host_down: {{host: mx1, mode: {mode}}}, at: 100s, for: 200s}}",
            bursts="[{at: 50s, messages: 3, over: 20s}, {at: 150s, messages: 3, "
            "over: 20s}, {at: 800s, messages: 3, over: 20s}]",
        )
    )
    out = attempts_from(result, "out")
    within = inside(out, *WINDOW)
    assert within.sum() == 3
    deferred = out[within]
    assert strings(deferred["outcome"]) == ["deferred"] * 3
    assert strings(deferred["dsn"]) == [dsn] * 3
    assert (deferred["code"] == 451).all()
    assert strings(deferred["peer"]) == ["none"] * 3
    took = deferred["t_end"] - deferred["t_start"]
    assert (took >= cost - 1e-9).all() and (took <= cost + DNS_MISS + 1e-9).all(), took
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * 9
    # soft errors: retried at a deferred-queue scan after the window, and delivered
    retried = out[out["msg_id"].isin(deferred["msg_id"]) & ~within]
    assert len(retried) == 3 and (retried["t_start"] >= WINDOW[1]).all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


# --- host_slow ----------------------------------------------------------------------------

GREETING, COMMAND, END_OF_DATA = 0.01, 0.001, 2.0
SLOW_FACTOR = 4.0


def test_host_slow_multiplies_the_processing_times() -> None:
    """With constant processing times a session inside the window costs exactly
    (factor - 1) times the server's processing more: the greeting, EHLO, MAIL, RCPT,
    DATA and the end of data."""
    times = "[" + ", ".join(f"{{at: {20 + 40 * k}s, messages: 1}}" for k in range(10)) + "]"
    result = run(
        scenario(
            "solo.example",
            f"{{host_slow: {{host: mx1, factor: {SLOW_FACTOR:g}}}, at: 100s, for: 200s}}",
            mx1=f", processing: {{greeting: {GREETING}s, command: {COMMAND}s, "
            f"end_of_data: {END_OF_DATA}s}}",
            bursts=times,
        )
    )
    out = attempts_from(result, "out")
    assert len(out) == 10 and (out["outcome"].astype(str) == "sent").all()
    took = out["t_end"] - out["t_start"]
    within = inside(out, *WINDOW)
    assert within.sum() == 5
    base = took[~within]
    assert base.max() - base.min() < 1e-9
    processing = GREETING + 4 * COMMAND + END_OF_DATA
    np.testing.assert_allclose(
        (took[within] - base.min()).to_numpy(), (SLOW_FACTOR - 1) * processing, rtol=1e-9
    )
    # the end of data alone: (factor - 1) x 2 s more of xfer_s
    xfer = out["xfer_s"]
    np.testing.assert_allclose(
        (xfer[within] - xfer[~within].min()).to_numpy(),
        (SLOW_FACTOR - 1) * (END_OF_DATA + 3 * COMMAND),
        rtol=1e-9,
    )


# --- server_errors and disk_full --------------------------------------------------------------


def test_server_errors_with_probability_one() -> None:
    result = run(
        scenario(
            "solo.example",
            "{server_errors: {host: mx1, phase: rcpt, "
            "reply: '421 4.7.0 Try again later'}, at: 100s, for: 200s}",
        )
    )
    out = attempts_from(result, "out")
    within = inside(out, *WINDOW)
    assert within.sum() == 3
    hit = out[within]
    assert strings(hit["outcome"]) == ["deferred"] * 3
    assert (hit["code"] == 421).all()
    assert strings(hit["dsn"]) == ["4.7.0"] * 3
    assert strings(hit["phase"]) == ["rcpt"] * 3
    assert strings(hit["peer"]) == ["mx1"] * 3
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * 9
    assert (out.loc[~within, "code"] == 250).all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_server_errors_with_a_probability_hit_that_share() -> None:
    p = 0.3
    window = (100.0, 500.0)
    result = run(
        scenario(
            "solo.example",
            f"{{server_errors: {{host: mx1, phase: rcpt, reply: "
            f"'450 4.2.1 Mailbox busy', probability: {p}}}, at: 100s, until: 500s}}",
            out=", postfix: {smtp_connection_cache_on_demand: false}",
            bursts="[]",
            rate="2/s",
            stop="600s",
        )
    )
    out = attempts_from(result, "out")
    sessions = out[out["peer"].astype(str) == "mx1"]
    within = inside(sessions, *window)
    n = int(within.sum())
    assert n > 700
    k = int((sessions.loc[within, "code"] == 450).sum())
    band = 4 * math.sqrt(n * p * (1 - p))
    assert abs(k - p * n) <= band, (k, n, p * n, band)
    affected = sessions[sessions["code"] == 450]
    assert strings(affected["dsn"]) == ["4.2.1"] * k
    assert strings(affected["outcome"]) == ["deferred"] * k
    assert (sessions.loc[~within, "code"] == 250).all()  # none outside
    assert len(sessions[~within]) > 100


def test_disk_full_answers_mail_with_452() -> None:
    result = run(scenario("solo.example", "{disk_full: mx1, at: 100s, for: 200s}"))
    out = attempts_from(result, "out")
    within = inside(out, *WINDOW)
    assert within.sum() == 3
    full = out[within]
    assert strings(full["outcome"]) == ["deferred"] * 3
    assert (full["code"] == 452).all()
    assert strings(full["dsn"]) == ["4.3.1"] * 3
    assert strings(full["phase"]) == ["mail"] * 3
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * 9
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_disk_full_on_the_primary_goes_to_the_backup() -> None:
    result = run(scenario("dest.example", "{disk_full: mx1, at: 100s, for: 200s}"))
    out = attempts_from(result, "out")
    within = out[inside(out, *WINDOW)]
    # each message of the window: 452 at MAIL from mx1, then delivered by mx2
    assert len(within) == 6
    for _, rows in within.groupby("msg_id"):
        assert strings(rows["peer"]) == ["mx1", "mx2"]
        assert strings(rows["outcome"]) == ["deferred", "sent"]
        assert rows["code"].tolist() == [452, 250]
    assert (result.recipients["status"].astype(str) == "delivered").all()


# --- a connection cached across the start or the end of the window ----------------------------

CACHED_BURST = "[{at: 99.5s, messages: 300}]"


def cached_scenario(incident: str) -> str:
    """A backlog at out keeps connections to mx1 open (Postfix's default
    smtp_connection_cache_on_demand) across the window's start at 100 s."""
    return scenario("solo.example", incident, bursts=CACHED_BURST).replace(
        "    size: 2KiB\n",
        "    size: 2KiB\n    client: {initial_destination_concurrency: 100, "
        "default_destination_concurrency_limit: 100}\n",
    )


@pytest.mark.parametrize(
    ("incident", "code"),
    [
        ("{disk_full: mx1, at: 100s, for: 100s}", 452),
        (
            "{server_errors: {host: mx1, phase: rcpt, reply: '450 4.2.0 Busy'}, "
            "at: 100s, for: 100s}",
            450,
        ),
    ],
)
def test_forced_replies_reach_connections_opened_before_the_window(
    incident: str, code: int
) -> None:
    result = run(cached_scenario(incident))
    out = attempts_from(result, "out")
    assert (out["t_start"] < 100).sum() > 10  # the backlog straddles the start
    within = out[inside(out, 100.0, 200.0)]
    assert len(within) > 10
    wrong = within[within["code"] != code]
    assert len(wrong) == 0, (
        f"{len(wrong)} of {len(within)} attempts inside the window were answered "
        f"{sorted(set(wrong['code']))}, on reused connections "
        f"(conn_s {sorted(set(wrong['conn_s'].round(4)))})"
    )


def test_forced_replies_end_with_the_window_on_cached_connections() -> None:
    result = run(
        cached_scenario(
            "{server_errors: {host: mx1, phase: rcpt, reply: '450 4.2.0 Busy'}, at: 50s, for: 50s}"
        )
    )
    out = attempts_from(result, "out")
    after = out[out["t_start"] >= 100.0]
    assert len(after) > 10
    wrong = after[after["code"] == 450]
    assert len(wrong) == 0, (
        f"{len(wrong)} of {len(after)} attempts after the window still got 450, on "
        f"reused connections (conn_s {sorted(set(wrong['conn_s'].round(4)))})"
    )
