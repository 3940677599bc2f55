"""Greylisting (docs/scenario-format.md, "policies" and "retry"; postgrey 1.37,
3.3, 3.8): postgrey's triplets of client /24, sender and recipient; a new triplet is
refused with 450 4.2.0 for ``delay``; a client network that passed
``auto_whitelist`` times (at most one count an hour) is let through; a first retry
later than ``retry_window`` starts over. How long a greylisted message waits is
the sender's retry policy: Postfix's backoff, Exim's rules, or the measured
provider profiles (``persistent``, ``frequent``, ``impatient``), all tried at the
sender's deferred-queue scans. Also the ``policy`` incident that switches
greylisting off for a while.

The retry schedules are written here again from the documentation, not taken
from ``smtpsim.mail.retry``."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import smtpsim

QUEUE_RUN_DELAY = 300.0  # queue_run_delay: deferred-queue scans from t = 0
MIN_BACKOFF, MAX_BACKOFF = 300.0, 4000.0  # minimal/maximal_backoff_time
LIFETIME = 5 * 86400.0  # maximal_queue_lifetime
# A retry starts at its scan, or a little later: a DNS miss (20 ms) when the MX answer
# expired, sessions of other messages of the same scan before it on a cached connection.
SCAN_SLACK = 1.0


def run(text: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text))


def next_scan(t: float) -> float:
    """The first deferred-queue scan at or after ``t``."""
    return math.ceil(t / QUEUE_RUN_DELAY) * QUEUE_RUN_DELAY


# --- the retry policies, from the docs ------------------------------------------------------


def postfix_due(arrival: float, first_failure: float, now: float) -> float | None:
    """Fact sheet 3.3: ``now + clamp(age, 300, 4000)``, expiry after 5 days, in whole
    seconds (Postfix qmgr_active.c: event_time() and create_time are time_t, the
    deferred file is stamped event_time() + delay); a scan takes the file from 1 s
    before its stamp on (qmgr_active_feed skips it only when st_mtime > time() + 1)."""
    tick = math.floor(now)
    age = tick - math.floor(arrival)
    if age >= LIFETIME:
        return None
    return tick + min(max(age, MIN_BACKOFF), MAX_BACKOFF) - 1


def exim_due(arrival: float, first_failure: float, now: float) -> float | None:
    """Debian's ``F,2h,15m; ...``: every 15 minutes for the first 2 hours of failing
    (the tests here never get past those 2 hours)."""
    assert now - first_failure <= 2 * 3600.0, "past the F,2h,15m rule"
    return now + 15 * 60.0


def _min_s(text: str) -> float:
    minutes, seconds = text.split(":")
    return int(minutes) * 60.0 + int(seconds)


# Pagani et al. (DSN 2016): gmail's retries against a 6 h greylist, after the first try.
GMAIL = [
    _min_s(t) for t in ("6:02", "29:02", "56:36", "98:44", "162:03", "229:44", "309:05", "434:46")
]
# aol: retries from 5:32 to 31:32, the two between spaced evenly, then it gives up.
AOL = [_min_s("5:32") + k * (_min_s("31:32") - _min_s("5:32")) / 3 for k in range(4)]


def offsets_due(offsets: list[float], then_every: float | None):
    """Retries at fixed offsets after the first failure (the first one later than
    now); after the last, every ``then_every`` seconds, or give up."""

    def due(arrival: float, first_failure: float, now: float) -> float | None:
        for offset in offsets:
            if first_failure + offset > now + 1e-9:
                return first_failure + offset
        return None if then_every is None else now + then_every

    return due


RETRY_POLICIES = {
    "postfix": postfix_due,
    "exim": exim_due,
    "persistent": offsets_due(GMAIL, GMAIL[-1] - GMAIL[-2]),
    "frequent": offsets_due([], 4 * 60.0),
    "impatient": offsets_due(AOL, None),
}


# --- scenarios ------------------------------------------------------------------------------


def scenario(
    *,
    delay: str = "5min",
    retry: str = "postfix",
    greylisting: str = "",
    bursts: str = "[{at: 60s, messages: 6, over: 10min}]",
    duration: str = "3h",
    out_postfix: str = "{}",
    incidents: str = "[]",
    rate: str = "0",
    stop: str = "90min",
) -> str:
    """A flow submits to ``out``, which sends to mx1; mx1 greylists (no
    auto-whitelisting unless ``greylisting`` says otherwise)."""
    return f"""
name: greylisting
duration: {duration}
hosts:
  out: {{role: mta, accepts: [corp.example], ip: 192.0.2.20, retry: {retry},
         postfix: {out_postfix}}}
  mx1:
    role: mx
    accepts: [dest.example]
    policies: [{{greylisting: {{delay: {delay}, auto_whitelist: 0{greylisting}}}}}]
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    rate: {rate}
    stop: {stop}
    bursts: {bursts}
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
incidents: {incidents}
"""


def out_attempts(result: smtpsim.RunResult, host: str = "out") -> pd.DataFrame:
    a = result.attempts
    rows = a[(a["host"].astype(str) == host) & (a["peer"].astype(str) == "mx1")]
    return rows.sort_values(["t_start", "msg_id"], kind="stable").reset_index(drop=True)


def arrivals_at(result: smtpsim.RunResult, host: str) -> dict[int, float]:
    """When each message entered ``host``'s queue: the end of the session that
    handed it over."""
    a = result.attempts
    sent = a[(a["peer"].astype(str) == host) & (a["outcome"].astype(str) == "sent")]
    return dict(zip(sent["msg_id"], sent["t_end"], strict=True))


def check_schedule(rows: pd.DataFrame, arrival: float, due, delay: float) -> str:
    """Check one recipient's attempts from out against the retry policy ``due`` and
    a greylist of ``delay``; return how it ended: ``"sent"`` or ``"given up"``."""
    first = rows.iloc[0]
    first_failure = first["t_end"]
    for k in range(len(rows)):
        row = rows.iloc[k]
        waited = row["t_start"] - first["t_start"]  # since the triplet was first seen
        if waited < delay:
            assert (str(row["outcome"]), row["code"], str(row["dsn"])) == (
                "deferred",
                450,
                "4.2.0",
            ), (k, row.to_dict())
        else:
            assert str(row["outcome"]) == "sent", (k, row.to_dict())
            assert k == len(rows) - 1
            return "sent"
        nxt = due(arrival, first_failure, row["t_end"])
        if nxt is None:
            assert k == len(rows) - 1, "tried again after the policy gave up"
            return "given up"
        assert k + 1 < len(rows), f"no retry after {row['t_end']}; due at {nxt}"
        scan = next_scan(nxt)
        assert scan <= rows.iloc[k + 1]["t_start"] < scan + SCAN_SLACK, (k, nxt, scan)
    raise AssertionError("unreachable")


# --- the delay of a first delivery ----------------------------------------------------------


@pytest.mark.parametrize("delay", [300.0, 1200.0])
def test_first_delivery_waits_the_delay_and_less_than_one_retry_interval_more(delay: float) -> None:
    result = run(scenario(delay=f"{delay:g}s", duration="2h"))
    rcpts = result.recipients
    assert len(rcpts) == 6 and (rcpts["status"].astype(str) == "delivered").all()
    arrivals = arrivals_at(result, "out")
    out = out_attempts(result)
    for msg_id, rows in out.groupby("msg_id"):
        rows = rows.reset_index(drop=True)
        arrival = arrivals[msg_id]
        assert check_schedule(rows, arrival, postfix_due, delay) == "sent"
        # delayed by at least the greylisting delay ...
        delivered = rows.iloc[-1]
        first = rows.iloc[0]
        assert delivered["t_start"] - first["t_start"] >= delay
        # ... and by less than the delay plus one retry interval of the sender: the
        # backoff of the last failure (age clamped to [300, 4000]) and a queue scan
        failed = rows.iloc[-2]
        interval = min(max(failed["t_end"] - arrival, MIN_BACKOFF), MAX_BACKOFF)
        assert delivered["t_start"] - first["t_start"] < delay + interval + QUEUE_RUN_DELAY
        # the recipient's delay is the same, up to the submission and the sessions
        row = rcpts[rcpts["msg_id"] == msg_id].iloc[0]
        assert delay <= row["delay_s"] < delay + interval + QUEUE_RUN_DELAY + 1.0
    if delay == 300.0:  # Postfix's default: through at the first retry (postgrey 1.37)
        assert out.groupby("msg_id").size().tolist() == [2] * 6


def test_the_greylisting_refusal_is_recorded_as_a_deferral_at_rcpt() -> None:
    # a tiny lifetime: the one greylisted message expires with postgrey's reply
    result = run(
        scenario(
            delay="1h",
            duration="30min",
            bursts="[{at: 60s, messages: 1}]",
            out_postfix="{maximal_queue_lifetime: 0}",
        )
    )
    (row,) = result.recipients[
        result.recipients["domain"].astype(str) == "dest.example"
    ].itertuples()
    assert row.status == "expired" and row.dsn == "4.2.0"
    assert row.reply == (
        f"450 4.2.0 <{row.rcpt}>: Recipient address rejected: Greylisted, "
        "see http://postgrey.schweikert.ch/help/dest.example.html"
    )
    (attempt,) = out_attempts(result).itertuples()
    assert (attempt.outcome, attempt.code, attempt.dsn) == ("deferred", 450, "4.2.0")
    assert attempt.phase == "rcpt"  # refused at RCPT, though pipelined up to DATA


# --- triplets -----------------------------------------------------------------------------------

TRIPLETS = """
name: greylisting-triplets
duration: 2h
hosts:
  out: {role: mta, accepts: [corp.example], ip: 192.0.2.20}
  out2: {role: mta, ip: 192.0.2.21}
  out3: {role: mta, ip: 198.51.100.20}
  mx1:
    role: mx
    accepts: [dest.example, dest2.example]
    mailboxes: 1
    policies: [{greylisting: {delay: 5min, auto_whitelist: 0}}]
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [out2, internet], latency: 5ms}
  - {between: [out3, internet], latency: 5ms}
  - {between: [mx1, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx1: 10}}
  dest2.example: {mx: {mx1: 10}}
traffic:
  first:     # user0@corp.example -> user0@dest.example from out, twice
    submit_to: out
    senders: 1
    bursts: [{at: 100s, messages: 1}, {at: 1500s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
  neighbour: # the same sender and recipient from out2, in the same /24
    submit_to: out2
    sender_domain: corp.example
    senders: 1
    bursts: [{at: 1800s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
  stranger:  # the same sender and recipient from out3, another /24
    submit_to: out3
    sender_domain: corp.example
    senders: 1
    bursts: [{at: 1800s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
  other:     # the same sender from out, another recipient
    submit_to: out
    senders: 1
    bursts: [{at: 1800s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest2.example: 1}}
"""


def test_a_passed_triplet_is_not_delayed_again_and_new_triplets_are() -> None:
    result = run(TRIPLETS)
    messages = result.messages.set_index("msg_id")
    rcpts = result.recipients.set_index("msg_id")
    assert (rcpts["status"].astype(str) == "delivered").all()
    assert set(messages["sender"]) == {"user0@corp.example"}
    origin = messages["origin"].astype(str)
    delays = {
        (o, float(messages.loc[m, "t_submit"])): float(rcpts.loc[m, "delay_s"])
        for m, o in origin.items()
    }
    # the first message waits for the greylist (first retry at the scan of 600 s)
    assert 300.0 <= delays[("first", 100.0)] < 600.0
    # the same triplet later, within the retry window: not delayed; nor from a
    # neighbour in the same /24 (the triplet's client is the network)
    assert delays[("first", 1500.0)] < 1.0
    assert delays[("neighbour", 1800.0)] < 1.0
    # another network, or another recipient: a new triplet, greylisted
    assert 300.0 <= delays[("stranger", 1800.0)] < 900.0
    assert 300.0 <= delays[("other", 1800.0)] < 900.0
    a = result.attempts
    refused = a[(a["peer"].astype(str) == "mx1") & (a["outcome"].astype(str) == "deferred")]
    assert set(zip(refused["code"], refused["dsn"].astype(str), strict=True)) == {(450, "4.2.0")}
    # the new triplets of 1800 s are refused twice: stamped 1800 + 300 in whole seconds
    # (Postfix qmgr_active.c), their retry comes at the scan of 2100 s, a moment less
    # than 5 min after the first sighting (1800.1 s); the scan of 2400 s passes them
    assert sorted(origin[m] for m in refused["msg_id"]) == [
        "first",
        "other",
        "other",
        "stranger",
        "stranger",
    ]


def test_a_first_retry_after_the_retry_window_starts_over() -> None:
    # Postfix's first retry comes 300 s or more after the first try: later than a
    # 4 min retry window, so every retry is a new first sighting and never passes.
    result = run(
        scenario(
            delay="5min",
            greylisting=", retry_window: 4min",
            duration="2h",
            bursts="[{at: 60s, messages: 3, over: 2min}]",
            out_postfix="{maximal_queue_lifetime: 1h}",
        )
    )
    rcpts = result.recipients[result.recipients["domain"].astype(str) == "dest.example"]
    assert (rcpts["status"].astype(str) == "expired").all()
    assert (rcpts["dsn"].astype(str) == "4.2.0").all()
    out = out_attempts(result)
    assert (out["outcome"].astype(str) == "deferred").all()
    assert (out.groupby("msg_id").size() >= 5).all()  # 0, 300, 600, 1200, 2400, (4800) s


# --- auto-whitelisting -------------------------------------------------------------------------

AWL = """
name: greylisting-awl
duration: 4h
hosts:
  out: {role: mta, accepts: [corp.example], ip: 192.0.2.20}
  out2: {role: mta, ip: 192.0.2.77}
  out3: {role: mta, ip: 198.51.100.20}
  mx1:
    role: mx
    accepts: [dest.example]
    policies: [{greylisting: {delay: 5min, auto_whitelist: 2}}]
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [out2, internet], latency: 5ms}
  - {between: [out3, internet], latency: 5ms}
  - {between: [mx1, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx1: 10}}
traffic:
  t:
    submit_to: out
    senders: 1000
    bursts: [{at: 100s, messages: 1}, {at: SECONDs, messages: 1}, {at: 9000s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
  neighbour:
    submit_to: out2
    sender_domain: corp.example
    senders: 1000
    bursts: [{at: 10000s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
  stranger:
    submit_to: out3
    sender_domain: corp.example
    senders: 1000
    bursts: [{at: 10000s, messages: 1}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
"""


@pytest.mark.parametrize(("second", "whitelisted"), [(5000.0, True), (1000.0, False)])
def test_auto_whitelist_lets_a_network_through_after_n_passes(
    second: float, whitelisted: bool
) -> None:
    """auto_whitelist 2: two delayed-then-accepted triplets, counted at most once an
    hour, whitelist the client's /24. The first passes at about 600 s; a second
    passing more than an hour later makes two, one passing within the hour not."""
    result = run(AWL.replace("SECOND", f"{second:g}"))
    messages = result.messages.sort_values("t_submit").reset_index(drop=True)
    rcpts = result.recipients.set_index("msg_id")
    network = {"t": "192.0.2", "neighbour": "192.0.2", "stranger": "198.51.100"}
    triplets = {
        (network[str(m.origin)], m.sender, rcpts.loc[m.msg_id, "rcpt"])
        for m in messages.itertuples()
    }
    assert len(triplets) == 5  # five distinct triplets
    assert (rcpts["status"].astype(str) == "delivered").all()
    delay = {
        (str(m.origin), m.t_submit): rcpts.loc[m.msg_id, "delay_s"] for m in messages.itertuples()
    }
    assert delay[("t", 100.0)] >= 300.0
    assert delay[("t", second)] >= 300.0  # not yet whitelisted: one pass so far
    if whitelisted:
        assert delay[("t", 9000.0)] < 1.0
        assert delay[("neighbour", 10000.0)] < 1.0  # the whole /24
    else:
        assert delay[("t", 9000.0)] >= 300.0  # its second counted pass is this one
        # (which comes more than an hour after the first): from now on whitelisted
        assert delay[("neighbour", 10000.0)] < 1.0
    assert delay[("stranger", 10000.0)] >= 300.0  # another network still waits


# --- the sender's retry policy -------------------------------------------------------------


@pytest.mark.parametrize("retry", list(RETRY_POLICIES))
def test_retry_policy_against_a_one_hour_greylist(retry: str) -> None:
    result = run(
        scenario(
            delay="1h", retry=retry, duration="3h", bursts="[{at: 60s, messages: 3, over: 10min}]"
        )
    )
    due = RETRY_POLICIES[retry]
    arrivals = arrivals_at(result, "out")
    out = out_attempts(result)
    rcpts = result.recipients.set_index("msg_id")
    assert out["msg_id"].nunique() == 3
    for msg_id, rows in out.groupby("msg_id"):
        rows = rows.reset_index(drop=True)
        ending = check_schedule(rows, arrivals[msg_id], due, 3600.0)
        row = rcpts.loc[msg_id]
        if retry == "impatient":  # four retries within about half an hour, then gives up
            assert ending == "given up"
            assert len(rows) <= 5
            assert (str(row["status"]), str(row["dsn"])) == ("expired", "4.2.0")
            assert row["t_final"] == pytest.approx(rows.iloc[-1]["t_end"])
            assert row["t_final"] - rows.iloc[0]["t_start"] < 3600.0
        else:
            assert ending == "sent"
            assert str(row["status"]) == "delivered"


def test_exim_retries_15_minutes_after_the_failure_at_the_next_scan() -> None:
    result = run(
        scenario(delay="5min", retry="exim", duration="1h", bursts="[{at: 100s, messages: 1}]")
    )
    out = out_attempts(result)
    assert len(out) == 2
    failed, sent = out.iloc[0], out.iloc[1]
    assert (str(failed["outcome"]), str(failed["dsn"])) == ("deferred", "4.2.0")
    assert str(sent["outcome"]) == "sent"
    # failure at about 100.2 s: due at 1000.2 s, tried at the scan of 1200 s (Postfix's
    # own backoff would have tried at 600 s)
    assert 100.0 < failed["t_end"] < 101.0
    assert sent["t_start"] == pytest.approx(next_scan(failed["t_end"] + 900.0))
    assert sent["t_start"] == pytest.approx(1200.0)


def test_an_impatient_sender_gives_up_on_a_long_greylist_and_bounces() -> None:
    result = run(
        scenario(delay="1h", retry="impatient", duration="2h", bursts="[{at: 60s, messages: 1}]")
    )
    rcpts = result.recipients
    original = rcpts[rcpts["domain"].astype(str) == "dest.example"].iloc[0]
    assert (str(original["status"]), str(original["dsn"])) == ("expired", "4.2.0")
    out = out_attempts(result)
    assert (out["outcome"].astype(str) == "deferred").all()
    assert original["t_final"] == pytest.approx(out["t_end"].max())
    assert original["t_final"] < 60.0 + 3600.0  # gave up before the greylist would pass
    # the sender gets the non-delivery notice
    messages = result.messages
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == 1 and bounces.iloc[0]["sender"] == ""
    assert bounces.iloc[0]["t_submit"] == pytest.approx(original["t_final"])
    notice = rcpts[rcpts["msg_id"] == bounces.iloc[0]["msg_id"]].iloc[0]
    sender = messages[messages["msg_id"] == original["msg_id"]].iloc[0]["sender"]
    assert (notice["rcpt"], str(notice["status"])) == (sender, "delivered")


# --- switched off by an incident -----------------------------------------------------------

OFF = (1750.0, 3550.0)


def test_policy_incident_switches_greylisting_off_inside_its_window() -> None:
    result = run(
        scenario(
            delay="5min",
            duration="2h",
            rate="1/min",
            bursts="[]",
            incidents="[{policy: {host: mx1, policy: greylisting, enabled: false}, "
            f"at: {OFF[0]:g}s, until: {OFF[1]:g}s}}]",
        )
    )
    assert [(w["kind"], w["target"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("policy", "greylisting on mx1", *OFF)
    ]
    out = out_attempts(result)
    messages = result.messages.set_index("msg_id")
    rcpts = result.recipients.set_index("msg_id")
    pairs = list(
        zip(
            messages.loc[out["msg_id"].unique(), "sender"],
            rcpts.loc[out["msg_id"].unique(), "rcpt"],
            strict=True,
        )
    )
    assert len(set(pairs)) == len(pairs)  # every message is a new triplet
    first = out.groupby("msg_id").head(1)
    inside = (first["t_start"] >= OFF[0]) & (first["t_end"] < OFF[1])
    outside = (first["t_end"] < OFF[0]) | (first["t_start"] >= OFF[1])
    assert inside.sum() >= 20 and (outside & (first["t_start"] < OFF[0])).sum() >= 20
    assert (outside & (first["t_start"] >= OFF[1])).sum() >= 20
    # no 4.2.0 for new triplets while it is off ...
    assert (first[inside]["outcome"].astype(str) == "sent").all()
    # ... before and after, every new triplet is greylisted
    assert (first[outside]["dsn"].astype(str) == "4.2.0").all()
    # no greylisting refusal at all inside the window
    greylisted = out[out["dsn"].astype(str) == "4.2.0"]
    assert not ((greylisted["t_end"] > OFF[0]) & (greylisted["t_start"] < OFF[1])).any()
    # retries of triplets refused before the window get through in it
    assert (
        out[(out["t_start"] >= OFF[0]) & (out["t_end"] < OFF[1])]["outcome"].astype(str) == "sent"
    ).all()
    assert (rcpts["status"].astype(str) == "delivered").all()
