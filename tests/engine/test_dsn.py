"""DSN (RFC 3461) in the simulator: which notices a message's NOTIFY, RET, ENVID and
ORCPT make, where they are made, and Postfix's delay warning
(``delay_warning_time``, checked after a delivery pass: ``qmgr_active.c``,
``qmgr_active_done_25_generic``). Every notice is a real message from ``<>`` that
travels back to the sender, like a bounce (origin ``bounce``, its kind in
``notice``)."""

from __future__ import annotations

import pytest
from engine_helpers import at_times, attempts_from, run_model, strings, two_hosts
from model_runs import check_conservation

from smtpsim.sim.dsn import BOUNCE_OVERHEAD, ENVID_FIELD, HEADERS_ONLY, ORCPT_FIELD

SIZE = 20 * 1024  # under bounce_size_limit: a full notice returns it whole


def scenario(dsn=None, *, unknown=0.0, mx=None, out=None, messages=4, duration="1h"):
    traffic = {
        "rate": 0,
        "bursts": [{"at": "10s", "messages": messages}],
        "size": f"{SIZE}B",
        "unknown_users": unknown,
    }
    if dsn is not None:
        traffic["dsn"] = dsn
    return two_hosts("dsn", duration=duration, traffic=traffic, mx=mx, out=out)


def notices(result, kind=None):
    m = result.messages
    rows = m[m["origin"].astype(str) == "bounce"]
    if kind is not None:
        rows = rows[rows["notice"].astype(str) == kind]
    return rows


def flow_messages(result):
    m = result.messages
    return m[m["origin"].astype(str) == "t"]


def made_at(result, msg_id):
    """The host whose queue a notice started in: its recipient's first attempt."""
    att = result.attempts
    rows = att[att["msg_id"] == msg_id].sort_values("t_start", kind="stable")
    return str(rows["host"].iloc[0])


@pytest.mark.parametrize(
    ("notify", "unknown", "kind", "per_message"),
    [
        (None, 1.0, "failure", 1),  # no NOTIFY: Postfix's FAILURE,DELAY
        (["failure"], 1.0, "failure", 1),
        (["never"], 1.0, None, 0),  # NEVER suppresses the bounce
        (["success"], 1.0, None, 0),  # SUCCESS alone: no failure notice either
        (["success"], 0.0, "success", 1),
        (["success", "failure"], 0.0, "success", 1),
        (None, 0.0, None, 0),  # no success notice unless asked for
        (["never"], 0.0, None, 0),
    ],
)
def test_notify_decides_the_notices(notify, unknown, kind, per_message):
    dsn = {"notify": notify} if notify is not None else None
    _, result = run_model(scenario(dsn, unknown=unknown))
    flows = flow_messages(result)
    made = notices(result)
    assert len(made) == per_message * len(flows)
    if kind is not None:
        assert strings(made["notice"]) == [kind] * len(made)
        senders = set(strings(flows["sender"]))
        rcpts = result.recipients[result.recipients["msg_id"].isin(made["msg_id"])]
        assert set(strings(rcpts["rcpt"])) <= senders
        assert strings(rcpts["status"]) == ["delivered"] * len(rcpts)  # back at out
    # the originals' recipients end as ever: the notices are messages of their own
    status = result.recipients[result.recipients["msg_id"].isin(flows["msg_id"])]["status"]
    assert set(strings(status)) == {"bounced" if unknown else "delivered"}


def test_success_is_reported_delivered_by_the_final_host():
    """The MX offers DSN: out passes NOTIFY=SUCCESS on, and the MX, which delivers to
    the mailbox, sends the notice (Action: delivered)."""
    _, result = run_model(scenario({"notify": ["success"]}, messages=1))
    (notice,) = notices(result, "success")["msg_id"]
    assert made_at(result, notice) == "mx"


def test_relay_to_a_server_without_dsn_reports_relayed():
    """The MX does not offer DSN (smtpd_discard_ehlo_keywords = dsn): out sends no
    DSN parameters and reports the recipient "relayed" itself (RFC 3461 section 4.2;
    Postfix smtp_rcpt.c), and the MX, knowing nothing of SUCCESS, sends nothing."""
    mx = {"postfix": {"smtpd_discard_ehlo_keywords": ["dsn"]}}
    _, result = run_model(scenario({"notify": ["success"]}, messages=1, mx=mx))
    made = notices(result, "success")
    assert len(made) == 1
    # made at out, into its own queue: its sender's mailbox is local there, no SMTP
    notice = made["msg_id"].iloc[0]
    rcpt = result.recipients[result.recipients["msg_id"] == notice].iloc[0]
    assert rcpt["status"] == "delivered" and rcpt["attempts"] == 0
    assert len(result.attempts[result.attempts["msg_id"] == notice]) == 0
    # the default NOTIFY at the MX still returns failures: a refused user bounces
    _, failed = run_model(scenario({"notify": ["success"]}, messages=1, mx=mx, unknown=1.0))
    # refused at RCPT by the MX: out decides, and NOTIFY=SUCCESS alone asks no failure notice
    assert len(notices(failed)) == 0


def test_ret_envid_and_orcpt_in_the_notice_size():
    """RET=HDRS returns only the headers of the original (2 kB for its 20 kB); ENVID
    and ORCPT add their fields to the delivery-status part (RFC 3464 2.2.1, 2.3.1)."""
    sizes = {}
    for ret in ("full", "hdrs"):
        _, result = run_model(scenario({"ret": ret}, unknown=1.0, messages=1))
        sizes[ret] = int(notices(result, "failure")["size_bytes"].iloc[0])
    assert sizes == {"full": BOUNCE_OVERHEAD + SIZE, "hdrs": BOUNCE_OVERHEAD + HEADERS_ONLY}
    _, result = run_model(
        scenario({"ret": "hdrs", "envid": True, "orcpt": True}, unknown=1.0, messages=1)
    )
    flow = flow_messages(result)
    envid = f"t.{int(flow['msg_id'].iloc[0])}"
    rcpt = str(
        result.recipients.loc[result.recipients["msg_id"] == flow["msg_id"].iloc[0], "rcpt"].iloc[0]
    )
    expected = sizes["hdrs"] + ENVID_FIELD + len(envid) + ORCPT_FIELD + len("rfc822;") + len(rcpt)
    assert int(notices(result, "failure")["size_bytes"].iloc[0]) == expected


def test_success_and_delay_notices_return_headers_only():
    _, result = run_model(scenario({"notify": ["success"], "ret": "full"}, messages=1))
    assert int(notices(result, "success")["size_bytes"].iloc[0]) == BOUNCE_OVERHEAD + HEADERS_ONLY


def _down_for(seconds):
    def setup(model):
        link = model.link("mx", "internet")
        at_times(
            model,
            (0, lambda: setattr(link, "up", False)),
            (seconds, lambda: setattr(link, "up", True)),
        )

    return setup


@pytest.mark.parametrize(
    ("notify", "warning", "expected"),
    [(None, "1h", 1), (["delay"], "1h", 1), (["failure"], "1h", 0), (None, "0h", 0)],
)
def test_delay_warning_once_after_delay_warning_time(notify, warning, expected):
    """The MX is unreachable for 4 h: with delay_warning_time = 1h the sender gets one
    "Delayed Mail" notice, at the end of the first pass (begun by a deferred-queue
    scan) that ends 1 h after the message arrived, not at every later pass; NOTIFY
    without DELAY, or the default delay_warning_time 0, sends none."""
    dsn = {"notify": notify} if notify is not None else None
    out = {"postfix": {"delay_warning_time": warning}}
    text = scenario(dsn, messages=1, out=out, duration="8h")
    _, result = run_model(text, setup=_down_for(4 * 3600))
    flow = flow_messages(result)
    created = float(flow["t_submit"].iloc[0])
    made = notices(result, "delay")
    assert len(made) == expected
    assert len(notices(result)) == expected  # no other notice: delivered in the end
    status = result.recipients.loc[result.recipients["msg_id"] == flow["msg_id"].iloc[0], "status"]
    assert strings(status) == ["delivered"]
    if expected:
        att = attempts_from(result, "out")
        ends = sorted(float(t) for t in att.loc[att["outcome"].astype(str) == "deferred", "t_end"])
        t = float(made["t_submit"].iloc[0])
        assert t in ends  # made at the end of a pass
        # whole seconds on the host's clock: up to 2 s before the nominal hour
        assert t >= created + 3600 - 2
        assert not [e for e in ends if created + 3600 <= e < t]  # the first such pass
        assert len([e for e in ends if e > t]) > 0  # later passes, and no other notice


def test_summary_counts_notices_by_kind_and_recipients_are_conserved():
    """The summary's ``notices`` split ``bounce_messages`` by kind; the notices'
    recipients, like a bounce's, are counted there and not among the flows'."""
    out = {"postfix": {"delay_warning_time": "1h"}}
    text = scenario({"notify": ["success", "delay"]}, messages=2, out=out, duration="8h")
    _, result = run_model(text, setup=_down_for(4 * 3600))
    check_conservation(result)
    s = result.summary()
    assert s["notices"] == {"failure": 0, "delay": 2, "success": 2}
    assert s["bounce_messages"]["sent"] == 4 == s["bounce_messages"]["delivered"]
    assert s["recipients"]["submitted"] == 2 == s["recipients"]["delivered"]
    statuses = strings(result.recipients["status"])
    assert len(statuses) == 6 and set(statuses) == {"delivered"}


def test_dsn_tables_identical_with_the_session_memo_on_off_and_verified():
    """DSN changes what a hand-over carries, not the sessions: the memo replays them
    bit for bit (``simulation.session_memo: verify`` raises at a difference), and the
    wire mode, which runs every session's machines, gives the same tables."""
    from test_session_memo import assert_same_tables, run

    mx = {"postfix": {"smtpd_discard_ehlo_keywords": ["dsn"]}}
    dsn = {"notify": ["success", "failure"], "ret": "hdrs", "envid": True}
    text = scenario(dsn, unknown=0.3, messages=30, mx=mx)
    off, on, verified = run(text, "off"), run(text, "on"), run(text, "verify")
    wire = run(text, "off", ["simulation.wire=true"])
    assert_same_tables(off, on)
    assert_same_tables(off, verified)
    assert_same_tables(off, wire)
    assert on.meta["sessions"]["replayed"] > 0
    kinds = strings(notices(off)["notice"])
    assert "success" in kinds and "failure" in kinds


def test_maillog_names_each_notice_as_postfix_bounce_daemon_does():
    """Postfix's bounce daemon logs "sender delay notification: QID"
    (bounce_warn_service.c) and "sender delivery status notification: QID"
    (bounce_trace_service.c), on the queue file of the message they report, beside
    "sender non-delivery notification"; the notice's queue file then logs its own
    delivery."""
    from smtpsim.metrics.maillog import maillog_lines

    out = {"postfix": {"delay_warning_time": "1h"}}
    text = scenario({"notify": ["success", "delay"]}, messages=1, out=out, duration="8h")
    _, result = run_model(text, setup=_down_for(4 * 3600))
    lines = list(maillog_lines(result))
    delay = [x for x in lines if ": sender delay notification: " in x]
    success = [x for x in lines if ": sender delivery status notification: " in x]
    assert len(delay) == 1 and len(success) == 1
    assert "postfix/bounce[" in delay[0] and " out " in delay[0]
    assert " mx " in success[0]  # the MX delivered it to the mailbox
    assert not [x for x in lines if "non-delivery notification" in x]
    for line in delay + success:
        new = line.rsplit(" ", 1)[1]
        assert any(f"{new}: to=<" in x and "status=sent" in x for x in lines), new


def test_a_mail_clients_dsn_parameters_reach_the_msa_and_go_on():
    """A flow submitted by mail clients (issue 13): the MSA offers DSN, so NOTIFY
    rides on into its queue and on to the MX, which reports the success."""
    import yaml
    from test_mail_clients import GOOD_587
    from test_mail_clients import scenario as clients_scenario

    data = yaml.safe_load(clients_scenario(GOOD_587))
    data["traffic"]["t"]["dsn"] = {"notify": ["success"]}
    _, result = run_model(yaml.safe_dump(data))
    check_conservation(result)
    made = notices(result, "success")
    assert len(made) == 1
    assert made_at(result, int(made["msg_id"].iloc[0])) == "mx"
