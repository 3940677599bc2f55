"""The Postfix log reader (smtpsim.logs.postfix_log) on real Postfix 3.7.11 logs
captured from the oracle experiments (tests/oracle/data) and on smtpsim's own maillog,
whose tables are known."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from oracle_helpers import DATA

import smtpsim
from smtpsim.logs.postfix_log import delay_bounds, read_postfix_log
from smtpsim.metrics.maillog import DEFAULT_START, write_maillog


def test_real_retries_log() -> None:
    log = read_postfix_log(DATA / "retries.maillog", year=2026)
    assert log.unknown == []
    att = log.attempts
    # a cached connection's second use (smtp_connection_cache_on_demand)
    assert (att["conn_use"] == 2).any() and set(att["conn_use"]) <= {1, 2}
    deferred = att[att["outcome"] == "deferred"]
    assert len(deferred) > 0
    assert set(deferred["code"]) == {451} and set(deferred["dsn"].astype(str)) == {"4.3.0"}
    assert set(deferred["phase"].astype(str)) == {"rcpt"}  # "(in reply to RCPT TO command)"
    assert set(deferred["reply"]) == {"451 4.3.0 Try again later"}
    sent = att[att["outcome"] == "sent"]
    assert set(sent["code"]) == {250} and set(sent["phase"].astype(str)) == {"content"}
    # delays=a/b/c/d: queue_s = a + b, conn_s = c, xfer_s = d; t_start = t_end - c - d
    assert np.allclose(att["t_end"] - att["t_start"], att["conn_s"] + att["xfer_s"])
    # the expired message: status expired with its last deferral, a notice of its own
    rec = log.recipients
    expired = rec[rec["status"] == "expired"]
    assert len(expired) == 1
    assert expired["dsn"].astype(str).tolist() == ["4.3.0"]
    assert expired["reply"].tolist() == ["451 4.3.0 Try again later"]
    origins = log.messages.set_index("msg_id")["origin"].astype(str)
    assert (origins == "bounce").sum() == 1
    notice = rec[rec["msg_id"].map(origins) == "bounce"]
    assert notice["rcpt"].tolist() == ["alice@corp.example"]
    assert notice["attempts"].tolist() == [0]  # discard(8) is no SMTP attempt
    # submission over smtpd + the relay's hop; the notice was made and discarded here
    delivered = rec[(rec["status"] == "delivered") & (rec["msg_id"].map(origins) == "smtpd")]
    assert len(delivered) == 2 and set(delivered["hops"]) == {2}
    assert notice["hops"].tolist() == [0]
    # the attempts of a recipient are in time order and the times are inside their second
    for _, group in att.groupby(["msg_id", "rcpt"]):
        assert group["t_end"].is_monotonic_increasing


def test_real_outage_log() -> None:
    log = read_postfix_log(DATA / "outage.maillog", year=2026)
    assert log.unknown == []
    att = log.attempts
    refused = att[att["phase"] == "connect"]
    assert len(refused) == 2 and set(refused["peer"].astype(str)) == {"none"}
    assert set(refused["dsn"].astype(str)) == {"4.4.1"}
    suspended = att[att["phase"] == "qmgr"]  # postfix/error: "delivery temporarily suspended"
    assert len(suspended) == 4 and set(suspended["daemon"]) == {"error"}
    assert log.connect_failures["reason"].tolist() == ["Connection refused"]
    assert log.connect_failures["server"].str.startswith("127.0.0.1[127.0.0.1]:").all()
    assert set(log.recipients["status"]) == {"delivered"}
    assert log.recipients["attempts"].tolist() == [4, 4]


def test_real_reject_log() -> None:
    log = read_postfix_log(DATA / "reject.maillog", year=2026)
    assert log.unknown == []
    assert log.rejects.to_dict("records") == [
        {
            "t": 0.5,
            "host": "relay",
            "action": "reject",
            "stage": "RCPT",
            "client": "localhost[127.0.0.1]",
            "code": 554,
            "dsn": "5.7.1",
            "reply": "554 5.7.1 <blocked@dest.example>: Recipient address rejected: Access denied",
            "sender": "alice@corp.example",
            "rcpt": "blocked@dest.example",
        }
    ]
    assert log.counts["smtpd session"] == 2 and log.counts["lifecycle"] == 3


def test_lines_not_understood_are_kept_and_reported() -> None:
    lines = (DATA / "retries.maillog").read_text(encoding="utf-8").splitlines()
    lines[3:3] = [
        "garbage without a prefix",
        "Dec 04 08:12:00 relay postfix/smtp[1]: something Postfix 3.7 never wrote",
        "Dec 04 08:12:00 relay postfix/qmgr[1]: warning: a warning is understood",
    ]
    log = read_postfix_log(lines, year=2026)
    assert [n for n, _ in log.unknown] == [4, 5]
    assert log.counts["warning"] == 1
    assert log.lines == len(lines)
    assert "not understood: 2" in log.report() and "line 5: Dec 04" in log.report()


def test_delay_bounds_follow_format_tv() -> None:
    assert delay_bounds("0.04") == (0.035, 0.045)
    assert delay_bounds("9.3") == (9.25, 9.350000000000001)
    assert delay_bounds("40") == (39.5, 40.5)


_SCENARIO = """
name: reader
duration: 60s
hosts:
  relay:
    role: relay
    accepts: [corp.example]
    postfix: {relayhost: mx, minimal_backoff_time: 10s, maximal_backoff_time: 40s,
              queue_run_delay: 5s, maximal_queue_lifetime: 30s, bounce_queue_lifetime: 30s}
  mx:
    role: mx
    accepts: [dest.example]
    mailboxes: 100000
links:
  - {between: [relay, mx], latency: 1ms}
dns:
  corp.example: {mx: {relay: 10}}
  dest.example: {mx: {mx: 10}}
incidents:
  - {server_errors: {host: mx, phase: rcpt, reply: "451 4.3.0 Try again later",
     probability: 0.5}, at: 0s}
  - {host_down: {host: mx}, at: 20s, for: 10s}
traffic:
  p:
    submit_to: relay
    rate: 2/s
    stop: 20s
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
simulation: {drain: true}
"""


def test_smtpsim_maillog_read_back_into_its_tables(tmp_path: Path) -> None:
    result = smtpsim.simulate(smtpsim.load_scenario(_SCENARIO), seed=3)
    path = write_maillog(result, tmp_path / "maillog")
    log = read_postfix_log(path, origin=datetime.fromisoformat(DEFAULT_START))
    assert log.unknown == []
    want = result.recipients.set_index(["msg_id", "rcpt"]).sort_index()
    # the reader numbers messages in the order of the log; match them by recipient
    got = log.recipients.set_index("rcpt").loc[want.index.get_level_values("rcpt")]
    assert got["status"].astype(str).tolist() == want["status"].astype(str).tolist()
    assert got["attempts"].tolist() == want["attempts"].tolist()
    assert got["hops"].tolist() == want["hops"].tolist()
    assert got["dsn"].astype(str).tolist() == want["dsn"].astype(str).tolist()
    assert set(want["status"].astype(str)) >= {"delivered", "expired"}
    # whole-second time stamps: the delay is known to within a second
    assert np.nanmax(np.abs(got["delay_s"].to_numpy() - want["delay_s"].to_numpy())) <= 1.0
    # the attempts: same outcomes, codes and enhanced codes per host
    key = ["host", "outcome", "code", "dsn"]
    assert _counts(log.attempts, key) == _counts(result.attempts, key)


def test_smtpsim_maillog_agrees_with_postfix_on_cause_6(tmp_path: Path) -> None:
    """Issue 11, cause 6, fixed: smtpsim's maillog writes what Postfix 3.7 writes (the
    shapes of tests/oracle/data): a 451 to RCPT recorded with phase ``rcpt`` and logged
    "in reply to RCPT TO command"; a refused connection as "Connection refused", with
    smtp_connect.c's own ``connect to HOST[IP]:25: Connection refused`` line before the
    deferral; a dead destination's deferrals under ``postfix/error`` (qmgr hands them
    to the retry service, error(8)); ``conn_use=N`` on a cached connection. The
    reader reads every one of them back into the same columns."""
    # refused connections, and deliveries that overlap (10/s, 200 ms each) so that
    # connections are cached (smtpsim.mta.caching)
    scenario = (
        _SCENARIO.replace("{host_down: {host: mx}", "{host_down: {host: mx, mode: refuse}")
        .replace("rate: 2/s", "rate: 10/s")
        .replace("mailboxes: 100000", "mailboxes: 100000\n    processing: {end_of_data: 200ms}")
    )
    result = smtpsim.simulate(smtpsim.load_scenario(scenario), seed=3)
    att = result.attempts
    refused = att[(att["code"] == 451) & (att["dsn"].astype(str) == "4.3.0")]
    assert len(refused) > 0 and set(refused["phase"].astype(str)) == {"rcpt"}
    path = write_maillog(result, tmp_path / "maillog")
    text = path.read_text(encoding="utf-8")
    assert "(in reply to end of DATA command)" not in text
    assert "Connection timed out" not in text
    lines = text.splitlines()
    connect = [n for n, line in enumerate(lines) if "status=deferred (connect to " in line]
    assert connect, "the scenario refuses connections for 10 s"
    for n in connect:  # the process's own line, then the deferral (as in outage.maillog)
        before, line = lines[n - 1], lines[n]
        assert before.split(": ", 1)[0] == line.split(": ", 1)[0]  # same time and pid
        assert before.endswith("]:25: Connection refused")
        assert line.endswith(f"status=deferred ({before.split(': ', 1)[1]})")
    suspended = [line for line in lines if "delivery temporarily suspended: " in line]
    assert suspended and all(" postfix/error[" in line for line in suspended)
    assert all(line.endswith(":25: Connection refused)") for line in suspended)
    log = read_postfix_log(path, origin=datetime.fromisoformat(DEFAULT_START))
    assert log.unknown == []
    assert len(log.connect_failures) == len(connect)
    assert set(log.connect_failures["reason"]) == {"Connection refused"}
    # every attempt: same outcome, code, enhanced code, phase and connection use
    key = ["host", "outcome", "code", "dsn", "phase", "conn_use", "conn_error"]
    assert _counts(log.attempts, key) == _counts(result.attempts, key)
    assert (att["conn_use"] > 1).any()  # cached connections, logged as conn_use=N
    assert set(log.attempts.loc[log.attempts["phase"] == "qmgr", "daemon"]) == {"error"}


def _counts(frame: pd.DataFrame, key: list[str]) -> dict[tuple[str, ...], int]:
    sizes = frame.astype({k: str for k in key}).groupby(key).size()
    return {tuple(k): int(v) for k, v in sizes.items() if v}


def test_real_greeting_and_greylisting_log() -> None:
    """421 past the server's session limit ("refused to talk to me", smtp_proto.c) and
    a postgrey-style 450 at RCPT, as Postfix 3.7.11 logged them against smtpsim serve."""
    log = read_postfix_log(DATA / "greeting-greylist.maillog", year=2026)
    assert log.unknown == []
    att = log.attempts
    greeting = att[att["phase"] == "greeting"]
    assert len(greeting) == 3
    assert set(greeting["code"]) == {421} and set(greeting["dsn"].astype(str)) == {"4.3.2"}
    assert all(r.startswith("421 4.3.2 ") for r in greeting["reply"])
    grey = att[att["dsn"].astype(str) == "4.2.0"]
    assert grey["phase"].astype(str).tolist() == ["rcpt"] and grey["code"].tolist() == [450]
    assert "Greylisted" in grey["reply"].iloc[0]
    assert att["conn_use"].max() == 5
    assert set(log.recipients["status"]) == {"delivered"}
    assert sorted(log.recipients["attempts"]) == [2, 2, 3]


def test_the_figures_draw_each_run_in_its_style_and_count_its_recipients() -> None:
    from matplotlib.figure import Figure

    from smtpsim.oracle.figures import _cumulative, _Style

    log = read_postfix_log(DATA / "retries.maillog")
    tables = {"messages": log.messages, "recipients": log.recipients, "attempts": log.attempts}
    ax = Figure().subplots()
    _cumulative(ax, tables, "delivered", _Style("black", 2.0, label="Postfix 3.7 (real)"))
    (line,) = ax.lines
    assert (line.get_color(), line.get_linewidth(), line.get_label()) == (
        "black",
        2.0,
        "Postfix 3.7 (real)",
    )
    delivered = int((log.recipients["status"].astype(str) == "delivered").sum())
    assert delivered > 0 and line.get_ydata()[-1] == delivered
