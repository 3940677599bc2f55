"""anvil's limits at a receiving server (docs/scenario-format.md, "policies"; Postfix
anvil(8), postconf(5) ``smtpd_client_message_rate_limit`` and
``smtpd_client_connection_count_limit``): past ``message_rate`` MAIL commands per
``time_unit`` from one client, MAIL is answered 450 4.7.1 (a deferral); past
``connections`` simultaneous connections from one client, the greeting is 421 4.7.0
(a soft error).

anvil's rate window is not sliding: it starts at the client's first event
(connection, MAIL, RCPT) and a new one starts with the first event more than a
time unit after that; every attempt counts, refused or not. The windows are
rebuilt here from the sessions in the attempts table."""

from __future__ import annotations

import itertools

import pandas as pd

import smtpsim

UNIT = 60.0  # time_unit (anvil_rate_time_unit)
INITIAL_CONCURRENCY = 5  # initial_destination_concurrency, postconf(5)


def run(text: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text))


def scenario(policy: str, traffic: str) -> str:
    return f"""
name: rate-limit
duration: 1h
hosts:
  out: {{role: mta, accepts: [corp.example], ip: 192.0.2.20}}
  mx1: {{role: mx, accepts: [dest.example], policies: [{{rate_limit: {policy}}}]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
{traffic}
"""


def mx_sessions(result: smtpsim.RunResult) -> pd.DataFrame:
    """out's sessions with mx1 (one recipient per message: one row per session)."""
    a = result.attempts
    rows = a[(a["host"].astype(str) == "out") & (a["peer"].astype(str) == "mx1")]
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


MESSAGE_RATE = 5


def test_message_rate_defers_past_the_limit_and_never_accepts_more_per_window() -> None:
    # 20 messages a minute for 5 minutes from one client, 5 allowed a minute
    result = run(
        scenario(
            f"{{message_rate: {MESSAGE_RATE}}}", "    rate: 20/min\n    stop: 5min\n    bursts: []"
        )
    )
    s = mx_sessions(result)
    refused = s[s["outcome"].astype(str) != "sent"]
    assert len(refused) >= 50
    assert replies_of(refused) == {("deferred", 450, "4.7.1", "mail")}
    # The server sees MAIL at about the start of the session's transaction
    # (xfer_s runs from MAIL FROM to the end of the session).
    mail_at = (s["t_end"] - s["xfer_s"]).to_numpy()
    sent = (s["outcome"].astype(str) == "sent").to_numpy()
    order = mail_at.argsort(kind="stable")
    windows: list[list[tuple[float, bool]]] = []
    start = None
    for i in order:
        if start is None or mail_at[i] > start + UNIT:
            start = mail_at[i]
            windows.append([])
        windows[-1].append((float(mail_at[i]), bool(sent[i])))
    assert len(windows) >= 6
    for window in windows:
        accepted = [t for t, ok in window if ok]
        refused_at = [t for t, ok in window if not ok]
        assert len(accepted) <= MESSAGE_RATE, window
        # the first MESSAGE_RATE MAIL commands of a window pass, every later one is
        # refused (sessions of one queue scan share their times: ties go either way)
        if accepted and refused_at:
            assert max(accepted) <= min(refused_at) + 1e-9, window
        if len(window) > MESSAGE_RATE:
            assert len(accepted) == MESSAGE_RATE, window
    # and, whatever the windows, never more than twice the limit within a time unit
    times = sorted(mail_at[sent])
    for k, t in enumerate(times):
        assert sum(1 for u in times[k:] if u < t + UNIT) <= 2 * MESSAGE_RATE
    # the deferred mail is tried again and gets through
    rcpts = result.recipients
    assert (rcpts["status"].astype(str).isin(["delivered", "pending"])).all()
    assert (rcpts["status"].astype(str) == "delivered").sum() >= 30
    assert s[s["outcome"].astype(str) == "sent"]["msg_id"].isin(refused["msg_id"]).any()


BURST = "    rate: 0\n    bursts: [{at: 10s, messages: 20}]"


def test_connection_limit_answers_421_to_a_second_simultaneous_connection() -> None:
    # 20 messages at once: out opens up to 5 connections (its initial concurrency)
    result = run(scenario("{connections: 1}", BURST))
    s = mx_sessions(result)
    refused = s[s["outcome"].astype(str) != "sent"]
    assert replies_of(refused) == {("deferred", 421, "4.7.0", "greeting")}
    # out's first deliveries start together, as many as its initial concurrency: anvil
    # lets the first connection in and greets each of the others with 421
    first = s.head(INITIAL_CONCURRENCY)
    assert sorted(first["outcome"].astype(str)) == ["deferred"] * (INITIAL_CONCURRENCY - 1) + [
        "sent"
    ]
    # and a 421 only ever comes while another connection from out is open
    sent = s[s["outcome"].astype(str) == "sent"]
    for t in refused["t_start"]:
        assert ((sent["t_start"] <= t) & (t < sent["t_end"])).any(), t
    # a soft error: retried later, never bounced
    status = result.recipients["status"].astype(str)
    assert status.isin(["delivered", "pending"]).all()
    assert s[s["outcome"].astype(str) == "sent"]["msg_id"].isin(refused["msg_id"]).any()


def test_connection_limit_keeps_accepted_sessions_from_overlapping() -> None:
    """With ``connections: 1`` at most one connection from out is open at a time,
    so the sessions that got past the greeting never overlap in time. A session is
    computed whole when it starts, but its server side is closed (anvil's count
    lowered, ``RateLimit.ended``) only when the session ends in simulated time
    (``smtpsim.mta.session``), so sessions that overlap see each other."""
    result = run(scenario("{connections: 1}", BURST))
    s = mx_sessions(result)
    served = s[s["phase"].astype(str) != "greeting"]
    served = served.sort_values("t_start", kind="stable")
    overlapping = [
        (a.msg_id, a.t_start, a.t_end, b.msg_id, b.t_start, b.t_end)
        for a, b in itertools.pairwise(served.itertuples())
        if b.t_start < a.t_end - 1e-9
    ]
    assert not overlapping, f"{len(overlapping)} overlapping sessions, first: {overlapping[0]}"


def test_without_a_limit_the_same_burst_is_never_refused() -> None:
    result = run(scenario("{connections: 50}", BURST))
    s = mx_sessions(result)
    assert (s["outcome"].astype(str) == "sent").all() and len(s) == 20
