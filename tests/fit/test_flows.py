"""Flows by client network and by sender domain, on Postfix 3.7 lines written as
Postfix writes them (src/smtpd/smtpd.c's ``client=NAME[ADDR]``, IPv6 addresses
without the ``IPv6:`` prefix there), with the odd lines a real log has: a warning, a
lost connection, a NOQUEUE reject, a connection cache's second use."""

from __future__ import annotations

from smtpsim.fit import FitOptions, fit_log
from smtpsim.fit.report import fit_report
from smtpsim.fit.traffic import flow_key
from smtpsim.logs.postfix_log import read_postfix_log

_LOG = """\
Dec 04 09:00:01 relay postfix/smtpd[100]: connect from a.example[192.0.2.10]
Dec 04 09:00:01 relay postfix/smtpd[100]: 4AB12C0001: client=a.example[192.0.2.10]
Dec 04 09:00:01 relay postfix/cleanup[101]: 4AB12C0001: message-id=<1@a.example>
Dec 04 09:00:01 relay postfix/qmgr[102]: 4AB12C0001: from=<x@a.example>, size=1500, nrcpt=1 (queue active)
Dec 04 09:00:02 relay postfix/smtp[103]: 4AB12C0001: to=<bob@dest.example>, relay=mx.dest.example[198.51.100.5]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99A)
Dec 04 09:00:02 relay postfix/qmgr[102]: 4AB12C0001: removed
Dec 04 09:00:03 relay postfix/smtpd[100]: lost connection after DATA from a.example[192.0.2.10]
Dec 04 09:00:03 relay postfix/smtpd[100]: disconnect from a.example[192.0.2.10] ehlo=1 mail=1 rcpt=1 data=0/1 commands=3/4
Dec 04 09:00:04 relay postfix/smtpd[104]: connect from b.example[192.0.2.77]
Dec 04 09:00:04 relay postfix/smtpd[104]: 4AB12C0002: client=b.example[192.0.2.77]
Dec 04 09:00:04 relay postfix/cleanup[101]: 4AB12C0002: message-id=<2@b.example>
Dec 04 09:00:04 relay postfix/qmgr[102]: 4AB12C0002: from=<y@b.example>, size=2500, nrcpt=2 (queue active)
Dec 04 09:00:05 relay postfix/smtp[103]: 4AB12C0002: to=<carol@dest.example>, relay=mx.dest.example[198.51.100.5]:25, conn_use=2, delay=0.6, delays=0.1/0/0/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99B)
Dec 04 09:00:05 relay postfix/smtp[103]: 4AB12C0002: to=<dan@other.example>, relay=mx.other.example[203.0.113.9]:25, delay=0.7, delays=0.1/0/0.3/0.3, dsn=5.1.1, status=bounced (host mx.other.example[203.0.113.9] said: 550 5.1.1 <dan@other.example>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command))
Dec 04 09:00:05 relay postfix/qmgr[102]: 4AB12C0002: removed
Dec 04 09:00:06 relay postfix/smtpd[105]: connect from v6.example[2001:db8:1::5]
Dec 04 09:00:06 relay postfix/smtpd[105]: 4AB12C0003: client=v6.example[2001:db8:1::5]
Dec 04 09:00:06 relay postfix/cleanup[101]: 4AB12C0003: message-id=<3@v6.example>
Dec 04 09:00:06 relay postfix/qmgr[102]: 4AB12C0003: from=<z@a.example>, size=900, nrcpt=1 (queue active)
Dec 04 09:00:07 relay postfix/smtp[103]: 4AB12C0003: to=<erin@dest.example>, relay=mx.dest.example[198.51.100.5]:25, delay=1.1, delays=0.1/0/0.5/0.5, dsn=4.7.1, status=deferred (host mx.dest.example[198.51.100.5] said: 450 4.7.1 <erin@dest.example>: Recipient address rejected: Greylisted (in reply to RCPT TO command))
Dec 04 09:00:08 relay postfix/smtpd[106]: warning: hostname unknown.example does not resolve to address 192.0.2.200
Dec 04 09:00:08 relay postfix/smtpd[106]: NOQUEUE: reject: RCPT from unknown[192.0.2.200]: 554 5.7.1 <spam@dest.example>: Relay access denied; from=<s@spam.example> to=<spam@dest.example> proto=ESMTP helo=<spam>
Dec 04 09:00:09 relay postfix/pickup[107]: 4AB12C0004: uid=1000 from=<root@relay.corp.example>
Dec 04 09:00:09 relay postfix/cleanup[101]: 4AB12C0004: message-id=<4@relay.corp.example>
Dec 04 09:00:09 relay postfix/qmgr[102]: 4AB12C0004: from=<root@relay.corp.example>, size=700, nrcpt=1 (queue active)
Dec 04 09:00:09 relay postfix/smtp[103]: 4AB12C0004: to=<ops@dest.example>, relay=mx.dest.example[198.51.100.5]:25, delay=0.3, delays=0.1/0/0.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 99C)
Dec 04 09:00:09 relay postfix/qmgr[102]: 4AB12C0004: removed
"""


def test_flow_keys() -> None:
    assert flow_key("x@A.Example", "", "sender-domain") == "a.example"
    assert flow_key("", "", "sender-domain") == "null-sender"
    assert flow_key("x@a", "a.example[192.0.2.77]", "client-network") == "192.0.2.0/24"
    assert flow_key("x@a", "v6.example[2001:db8:1::5]", "client-network") == "2001:db8:1::/64"
    assert flow_key("x@a", "v6[IPv6:2001:db8:1::5]", "client-network") == "2001:db8:1::/64"
    assert flow_key("x@a", "", "client-network") == "local"  # pickup


def test_flows_by_client_network_with_ipv6_and_odd_lines() -> None:
    log = read_postfix_log(_LOG.splitlines(), year=2026)
    assert log.unknown == []
    fit = fit_log(log, ["inline"], FitOptions(flows_by="client-network"))
    flows = {f.key: f for f in fit.flows}
    assert {k: f.messages for k, f in flows.items()} == {
        "192.0.2.0/24": 2,
        "2001:db8:1::/64": 1,
        "local": 1,
    }
    assert set(fit.scenario["traffic"]) == {"192-0-2-0-24", "2001-db8-1-64", "local"}
    v4 = flows["192.0.2.0/24"]
    assert dict(v4.per_message) == {1: 1, 2: 1}
    assert v4.unknown_count == 1  # dan@other.example: 550 5.1.1
    assert dict(v4.domains) == {"dest.example": 2, "other.example": 1}
    by_domain = {d.domain: d for d in fit.destinations}
    # the 5.1.1 is the flow's unknown share, not other.example's behaviour
    assert by_domain["other.example"].injections == ()
    (grey,) = by_domain["dest.example"].injections
    assert grey.reply == "450 4.7.1 Recipient address rejected: Greylisted"
    assert (grey.count, grey.reached) == (1, 4)
    report = fit_report(fit)
    assert "1 NOQUEUE rejects by smtpd (RCPT 554: 1)" in report
    assert "warning 1" in report


def test_flows_by_sender_domain() -> None:
    log = read_postfix_log(_LOG.splitlines(), year=2026)
    fit = fit_log(log, ["inline"], FitOptions())
    assert {f.key: f.messages for f in fit.flows} == {
        "a.example": 2,
        "b.example": 1,
        "relay.corp.example": 1,
    }
    # the senders' domains are the mta's own, so that bounces come home
    assert set(fit.scenario["hosts"]["mta"]["accepts"]) == {
        "a.example",
        "b.example",
        "relay.corp.example",
    }
