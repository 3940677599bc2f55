"""DNSBL checks (docs/scenario-format.md, "policies" and "incidents"; RFC 5321 section 5.1,
5.2): while a ``dnsbl_list`` incident (or a zone's own ``listing`` rule, after
spamtrap hits) lists the sending MTA's address, a receiver that checks the zone
answers 554 5.7.1 ``... blocked using ZONE``: at RCPT (the default) the recipients
bounce at once and their senders get a bounce; at connect it is the greeting, a
soft error, so the client tries the next MX or the fallback relay and otherwise
defers. Answers are cached by the receiver's resolver for the zone's ``ttl``, so
a listing is seen up to one ttl late at both ends."""

from __future__ import annotations

import itertools
import math

import pandas as pd
import pytest

import smtpsim

OUT_IP = "192.0.2.20"
QUEUE_RUN_DELAY = 300.0
MIN_BACKOFF, MAX_BACKOFF = 300.0, 4000.0


def run(text: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text))


def sessions(result: smtpsim.RunResult, host: str, peer: str) -> pd.DataFrame:
    a = result.attempts
    rows = a[(a["host"].astype(str) == host) & (a["peer"].astype(str) == peer)]
    return rows.sort_values(["t_start", "msg_id"], kind="stable").reset_index(drop=True)


def replies_of(frame: pd.DataFrame) -> set[tuple[str, int, str, str]]:
    """The (outcome, code, dsn, phase) of attempt rows."""
    return set(
        zip(
            frame["outcome"].astype(str),
            frame["code"],
            frame["dsn"].astype(str),
            frame["phase"].astype(str),
            strict=True,
        )
    )


def windows(result: smtpsim.RunResult, kind: str) -> list[tuple[float, float]]:
    return [(w["start"], w["end"]) for w in result.meta["incidents"] if w["kind"] == kind]


def scenario(
    *, at: str = "rcpt", ttl: str = "30s", traffic: str, incident: str, out: str = ""
) -> str:
    """out (192.0.2.20) sends to dest.example (mx1, which checks bl.example; backup
    mx2, which does not), solo.example (mx1 only) and other.example (mx3, which
    does not check); ``relay`` is there for a fallback."""
    return f"""
name: dnsbl
duration: 1h
hosts:
  out: {{role: mta, accepts: [corp.example], ip: {OUT_IP}{out}}}
  relay: {{role: relay, ip: 203.0.113.5}}
  mx1:
    role: mx
    accepts: [dest.example, solo.example]
    policies: [{{dnsbl: {{zones: [bl.example], at: {at}}}}}]
  mx2: {{role: mx, accepts: [dest.example]}}
  mx3: {{role: mx, accepts: [other.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [relay, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
  - {{between: [mx3, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10, mx2: 20}}}}
  solo.example: {{mx: {{mx1: 10}}}}
  other.example: {{mx: {{mx3: 10}}}}
  bl.example: {{dnsbl: true, ttl: {ttl}}}
traffic:
  t:
    submit_to: out
    size: 2KiB
{traffic}
incidents:
  - {incident}
"""


LISTED = (600.0, 1200.0)
TTL = 30.0
LISTING = (
    f"{{dnsbl_list: {{zone: bl.example, ip: {OUT_IP}}}, at: {LISTED[0]:g}s, until: {LISTED[1]:g}s}}"
)


# --- at RCPT ----------------------------------------------------------------------------------

RCPT_TRAFFIC = """\
    rate: 6/min
    stop: 40min
    recipients: {per_message: {fixed: 2}, domains: {solo.example: 1, other.example: 1}}"""


def test_dnsbl_at_rcpt_refuses_and_bounces_while_the_client_is_listed() -> None:
    result = run(scenario(traffic=RCPT_TRAFFIC, incident=LISTING))
    assert [(w["kind"], w["target"], w["start"], w["end"]) for w in result.meta["incidents"]] == [
        ("dnsbl_list", "bl.example", *LISTED)
    ]
    start, end = LISTED
    mx1 = sessions(result, "out", "mx1")
    refused = mx1[mx1["outcome"].astype(str) != "sent"]
    # 554 5.7.1, permanent: bounced at once
    assert len(refused) >= 20
    assert set(refused["outcome"].astype(str)) == {"bounced"}
    assert set(zip(refused["code"], refused["dsn"].astype(str), strict=True)) == {(554, "5.7.1")}
    assert set(refused["phase"].astype(str)) == {"rcpt"}  # RCPT, though pipelined to DATA
    # only while listed, allowing for answers cached up to a ttl: a negative one at
    # the start, a positive one at the end
    assert (refused["t_end"] >= start).all() and (refused["t_start"] < end + TTL).all()
    surely_listed = (mx1["t_start"] >= start + TTL) & (mx1["t_end"] < end)
    assert surely_listed.sum() >= 20
    assert (mx1[surely_listed]["outcome"].astype(str) == "bounced").all()
    not_listed = (mx1["t_end"] < start) | (mx1["t_start"] >= end + TTL)
    assert not_listed.sum() >= 100
    assert (mx1[not_listed]["outcome"].astype(str) == "sent").all()

    rcpts = result.recipients
    solo = rcpts[rcpts["domain"].astype(str) == "solo.example"]
    bounced = solo[solo["status"].astype(str) == "bounced"]
    assert set(zip(bounced["msg_id"], bounced["rcpt"], strict=True)) == set(
        zip(refused["msg_id"], refused["rcpt"], strict=True)
    )
    assert (
        solo[solo["status"].astype(str) != "bounced"]["status"].astype(str) == "delivered"
    ).all()
    assert (
        bounced["reply"] == f"554 5.7.1 Service unavailable; Client host [{OUT_IP}] "
        "blocked using bl.example"
    ).all()
    assert (bounced["attempts"] == 2).all()  # submission, then the one refusal

    # a receiver that does not check the zone takes everything, listed or not
    other = rcpts[rcpts["domain"].astype(str) == "other.example"]
    assert (other["status"].astype(str) == "delivered").all()
    mx3 = sessions(result, "out", "mx3")
    assert ((mx3["t_start"] >= start + TTL) & (mx3["t_end"] < end)).sum() >= 20
    assert (mx3["outcome"].astype(str) == "sent").all()

    # each message with refused recipients makes one bounce, from <> to its sender,
    # delivered into the sender's mailbox at out
    messages = result.messages.set_index("msg_id")
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert (bounces["sender"] == "").all()
    expected = sorted(
        (messages.loc[m, "sender"], float(g["t_final"].max())) for m, g in bounced.groupby("msg_id")
    )
    notices = rcpts[rcpts["msg_id"].isin(bounces.index)]
    assert len(notices) == len(bounces)  # one recipient each: the sender
    got = sorted((r.rcpt, float(bounces.loc[r.msg_id, "t_submit"])) for r in notices.itertuples())
    assert [s for s, _ in got] == [s for s, _ in expected]
    assert [t for _, t in got] == pytest.approx([t for _, t in expected])
    assert (notices["status"].astype(str) == "delivered").all()
    assert (notices["domain"].astype(str) == "corp.example").all()


CACHE_TRAFFIC = """\
    rate: 0
    bursts: [{at: 590s, messages: 1}, {at: 610s, messages: 1},
             {at: 1190s, messages: 1}, {at: 1210s, messages: 1}]
    recipients: {per_message: {fixed: 1}, domains: {solo.example: 1}}"""


@pytest.mark.parametrize(("ttl", "late"), [("5s", False), ("5min", True)])
def test_dnsbl_answers_are_cached_for_the_zone_ttl(ttl: str, late: bool) -> None:
    """Messages 10 s before and after each end of the listing: with a 5 min ttl the
    answer fetched before an edge still serves after it."""
    result = run(scenario(ttl=ttl, traffic=CACHE_TRAFFIC, incident=LISTING))
    mx1 = sessions(result, "out", "mx1")
    assert len(mx1) == 4
    outcome = dict(zip(mx1["t_start"].round(-1), mx1["outcome"].astype(str), strict=True))
    assert outcome[590.0] == "sent"
    assert outcome[610.0] == ("sent" if late else "bounced")
    assert outcome[1190.0] == "bounced"
    assert outcome[1210.0] == ("bounced" if late else "sent")


# --- at connect ---------------------------------------------------------------------------------

CONNECT_TRAFFIC = """\
    rate: 0
    bursts: [{at: 300s, messages: 4, over: 1min}, {at: 800s, messages: 4, over: 1min},
             {at: 1800s, messages: 4, over: 1min}]
    recipients: {per_message: {fixed: 1}, domains: {DOMAIN: 1}}"""


def in_window(frame: pd.DataFrame, start: float, end: float) -> pd.Series:
    return (frame["t_start"] >= start) & (frame["t_end"] < end)


@pytest.mark.parametrize("route", ["backup-mx", "fallback-relay"])
def test_dnsbl_at_connect_is_a_soft_error_and_the_next_server_takes_the_mail(route: str) -> None:
    domain = "dest.example" if route == "backup-mx" else "solo.example"
    nexthop = "mx2" if route == "backup-mx" else "relay"
    result = run(
        scenario(
            at="connect",
            traffic=CONNECT_TRAFFIC.replace("DOMAIN", domain),
            incident=LISTING,
            out=", postfix: {smtp_fallback_relay: relay}",
        )
    )
    start, end = LISTED
    rcpts = result.recipients
    assert (rcpts["status"].astype(str) == "delivered").all()  # nothing bounced
    assert (result.messages["origin"].astype(str) != "bounce").all()
    mx1 = sessions(result, "out", "mx1")
    refused = mx1[mx1["outcome"].astype(str) != "sent"]
    assert len(refused) == 4  # the four messages sent while listed
    assert in_window(refused, start + TTL, end).all()
    # the 554 greeting is deferred, not bounced, with DSN 4.7.1 (smtp_proto.c)
    assert replies_of(refused) == {("deferred", 554, "4.7.1", "greeting")}
    # ... and the same delivery goes on at once to the next server, which takes it
    nxt = sessions(result, "out", nexthop)
    assert set(nxt["msg_id"]) == set(refused["msg_id"])
    assert (nxt["outcome"].astype(str) == "sent").all()
    by_msg = refused.set_index("msg_id")
    for row in nxt.itertuples():
        assert row.t_start == pytest.approx(by_msg.loc[row.msg_id, "t_end"])
    # outside the window mx1 takes the mail itself
    assert (mx1[mx1["outcome"].astype(str) == "sent"]["t_start"] < start).sum() == 4
    assert (mx1[mx1["outcome"].astype(str) == "sent"]["t_start"] >= end).sum() == 4
    if route == "fallback-relay":  # the relay is not listed: mx1 takes it from there
        via = sessions(result, "relay", "mx1")
        assert set(via["msg_id"]) == set(refused["msg_id"])
        assert (via["outcome"].astype(str) == "sent").all()


def postfix_retry_scan(arrival: float, now: float) -> float:
    """Fact sheet 3.3: due at ``now + clamp(age, 300, 4000)`` in whole seconds (Postfix
    qmgr_active.c: event_time() and create_time are time_t), tried at the first scan
    that finds the stamp at most 1 s ahead (qmgr_active_feed)."""
    tick = math.floor(now)
    due = tick + min(max(tick - math.floor(arrival), MIN_BACKOFF), MAX_BACKOFF)
    return math.ceil((due - 1) / QUEUE_RUN_DELAY) * QUEUE_RUN_DELAY


def test_dnsbl_at_connect_without_another_server_defers_until_the_listing_ends() -> None:
    listed = (600.0, 1150.0)  # ends between scans, more than a ttl before the next one
    incident = (
        f"{{dnsbl_list: {{zone: bl.example, ip: {OUT_IP}}}, "
        f"at: {listed[0]:g}s, until: {listed[1]:g}s}}"
    )
    traffic = """\
    rate: 0
    bursts: [{at: 300s, messages: 2}, {at: 650s, messages: 3, over: 1min},
             {at: 1000s, messages: 3, over: 1min}, {at: 1300s, messages: 2}]
    recipients: {per_message: {fixed: 1}, domains: {solo.example: 1}}"""
    result = run(scenario(at="connect", traffic=traffic, incident=incident))
    rcpts = result.recipients.set_index("msg_id")
    assert (rcpts["status"].astype(str) == "delivered").all()
    assert (result.messages["origin"].astype(str) != "bounce").all()
    a = result.attempts
    arrival = dict(
        zip(
            a[a["peer"].astype(str) == "out"]["msg_id"],
            a[a["peer"].astype(str) == "out"]["t_end"],
            strict=True,
        )
    )
    out = result.attempts[result.attempts["host"].astype(str) == "out"]
    delayed = 0
    for msg_id, rows in out.sort_values("t_start", kind="stable").groupby("msg_id"):
        rows = rows.reset_index(drop=True)
        final = rows.iloc[-1]
        assert (str(final["outcome"]), str(final["peer"])) == ("sent", "mx1")
        assert final["t_start"] < listed[0] or final["t_start"] >= listed[1] + TTL
        for k in range(len(rows) - 1):
            row = rows.iloc[k]
            # every refusal: a soft 554 greeting while listed (DSN 4.7.1, smtp_proto.c)
            assert (str(row["outcome"]), row["code"], str(row["dsn"]), str(row["phase"])) == (
                "deferred",
                554,
                "4.7.1",
                "greeting",
            )
            assert str(row["peer"]) == "mx1" and listed[0] <= row["t_start"] < listed[1]
            # retried on Postfix's schedule
            assert rows.iloc[k + 1]["t_start"] == pytest.approx(
                postfix_retry_scan(arrival[msg_id], row["t_end"]), abs=1.0
            )
        if len(rows) > 1:
            delayed += 1
            assert rcpts.loc[msg_id, "t_final"] >= listed[1]
    # the messages of 650 s and 1000 s, each refused on its own: nothing else waited
    # or was under way for solo.example, so its in-core queue went with its failure
    # counters after each (qmgr_entry.c, qmgr_entry_done: "When the in-core queue for
    # this site is empty and when this site is not dead or suspended, discard the
    # in-core queue"): no pseudo-cohort, never dead, nothing suspended
    assert delayed == 6
    assert (out["phase"].astype(str) != "qmgr").all()
    # those of 650 s are delivered at the scan of 1200 s, after the listing, those of
    # 1000 s at the scan of 1500 s (their backoff), those of 1300 s at once
    delivered = out[
        (out["outcome"].astype(str) == "sent")
        & out["msg_id"].isin(out[out["outcome"].astype(str) == "deferred"]["msg_id"])
    ]
    assert sorted(delivered["t_start"]) == [1200.0] * 3 + [1500.0] * 3
    late = [m for m, t in arrival.items() if t >= 1300]
    assert len(late) == 2 and set(late).isdisjoint(delivered["msg_id"])


# --- listed by spamtrap hits --------------------------------------------------------------------

TRAPS = f"""
name: dnsbl-self-listing
duration: 4h
hosts:
  out: {{role: mta, accepts: [corp.example], ip: {OUT_IP}}}
  mx1: {{role: mx, accepts: [dest.example], policies: [{{dnsbl: {{zones: [bl.example]}}}}]}}
  mx2: {{role: mx, accepts: [other.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}}}
  other.example: {{mx: {{mx2: 10}}}}
  bl.example: {{dnsbl: true, ttl: {TTL:g}s, listing: {{hits: 3, window: 1h, duration: 30min}}}}
traffic:
  t:
    submit_to: out
    rate: 1/min
    spamtraps: 5%
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1, other.example: 1}}}}
"""


def test_spamtrap_hits_list_the_sending_mta_and_checking_receivers_refuse_it() -> None:
    result = run(TRAPS)
    rcpts = result.recipients
    traps = rcpts[rcpts["rcpt"].str.startswith("trap")]
    hits = sorted(traps[traps["status"].astype(str) == "delivered"]["t_final"])
    assert len(hits) >= 6
    # the first listing: at the third hit within an hour, for 30 minutes
    third = next(t for t in hits if sum(t - 3600.0 < s <= t for s in hits) >= 3)
    listings = [w for w in result.meta["incidents"] if w["kind"] == "dnsbl_listing"]
    assert listings, "never listed"
    assert {w["target"] for w in listings} == {f"{OUT_IP} on bl.example"}
    assert listings[0]["start"] == pytest.approx(third)
    assert listings[0]["end"] == pytest.approx(third + 1800.0)
    # every listing starts at a hit that is the third within an hour, and lasts 30 min
    for w in listings:
        assert any(w["start"] == pytest.approx(t) for t in hits)
        assert sum(w["start"] - 3600.0 < s <= w["start"] + 1e-6 for s in hits) >= 3
        assert w["end"] - w["start"] == pytest.approx(1800.0)
    for a, b in itertools.pairwise(listings):
        assert b["start"] >= a["end"]

    # the receiver that checks the zone refuses only while listed (give or take a ttl)
    mx1 = sessions(result, "out", "mx1")
    refused = mx1[mx1["outcome"].astype(str) != "sent"]
    assert len(refused) >= 10
    assert {r[:3] for r in replies_of(refused)} == {("bounced", 554, "5.7.1")}
    spans = [(w["start"], w["end"]) for w in listings]
    for row in refused.itertuples():
        assert any(s <= row.t_end and row.t_start < e + TTL for s, e in spans), row
    for s, e in spans:
        surely = (mx1["t_start"] >= s + TTL) & (mx1["t_end"] < e)
        assert (mx1[surely]["outcome"].astype(str) == "bounced").all()
    outside = ~pd.concat(
        [(mx1["t_end"] >= s) & (mx1["t_start"] < e + TTL) for s, e in spans], axis=1
    ).any(axis=1)
    assert (mx1[outside]["outcome"].astype(str) == "sent").all()
    reasons = rcpts[
        rcpts["msg_id"].isin(refused["msg_id"]) & (rcpts["domain"].astype(str) == "dest.example")
    ]["reply"]
    assert reasons.str.contains("blocked using bl.example", regex=False).all()
    # the one that does not check takes everything
    mx2 = sessions(result, "out", "mx2")
    assert (mx2["outcome"].astype(str) == "sent").all()


def test_soft_5xx_greeting_is_logged_deferred_with_a_4xx_dsn_and_the_server_text() -> None:
    """smtp_proto.c (smtp_helo) under smtp_skip_5xx_greeting: the DSN's first digit
    becomes 4, the server's reply text stays: ``dsn=4.7.1, status=deferred (host
    mx1...[ip] refused to talk to me: 554 5.7.1 ...)``."""
    from smtpsim.metrics.maillog import maillog_lines

    result = run(
        scenario(
            at="connect",
            traffic=CONNECT_TRAFFIC.replace("DOMAIN", "dest.example"),
            incident=LISTING,
            out=", postfix: {smtp_fallback_relay: relay}",
        )
    )
    deferred = [
        line
        for line in maillog_lines(result)
        if "status=deferred" in line and "refused to talk to me" in line
    ]
    assert len(deferred) == 4
    for line in deferred:
        assert "dsn=4.7.1, status=deferred (host mx1.sim.example[" in line
        assert "] refused to talk to me: 554 5.7.1 " in line  # the server said 5.7.1
