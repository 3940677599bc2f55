"""DNSBL checks (Postfix reject_rbl_client, RFC 5782) through a real session."""

from __future__ import annotations

import pytest
from mail_helpers import Session, rcpt_once

from smtpsim.mail import DnsblAnswer, DnsblCheck, StaticDnsbl, query_name
from smtpsim.protocol import Hello, Mail, Quit, Rcpt, Reply, states


class CountingDns:
    """A DNSBL lookup that records its queries and answers from a dict."""

    def __init__(self, answers: dict[tuple[str, str], DnsblAnswer], seconds: float = 0.0):
        self.answers = answers
        self.seconds = seconds
        self.queries: list[tuple[str, str, float]] = []

    def __call__(self, zone: str, ip: str, now: float) -> DnsblAnswer:
        self.queries.append((zone, ip, now))
        answer = self.answers.get((zone, ip), DnsblAnswer(False))
        return DnsblAnswer(answer.listed, answer.reason, self.seconds)


@pytest.mark.parametrize(
    "ip,zone,name",
    [
        ("192.0.2.99", "zen.spamhaus.org", "99.2.0.192.zen.spamhaus.org"),
        ("127.0.0.2", "bl.example.", "2.0.0.127.bl.example"),
        (
            "2001:db8::1",
            "v6.bl",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.v6.bl",
        ),
    ],
)
def test_query_name_reverses_the_address(ip, zone, name):
    assert query_name(ip, zone) == name


def test_listed_client_gets_postfix_default_rbl_reply_at_each_rcpt():
    dns = CountingDns({("bl.example", "192.0.2.7"): DnsblAnswer(True, "Listed since 2024")})
    s = Session([DnsblCheck(["bl.example"], dns)])
    s.say(Hello("c.example"))
    assert s.say(Mail("a@c.example")).code == 250  # acts at RCPT (smtpd_delay_reject)
    for rcpt in ("x@example.org", "y@example.org"):
        reply = s.say(Rcpt(rcpt))
        assert reply == Reply(
            554,
            "5.7.1",
            "Service unavailable; Client host [192.0.2.7] blocked using bl.example; "
            "Listed since 2024",
        )
    assert len(dns.queries) == 1  # one lookup per zone per session


def test_reason_part_only_when_the_zone_gives_one():
    reply = rcpt_once([DnsblCheck("bl.example", StaticDnsbl(["192.0.2.0/24"]))], "x@example.org")
    assert reply.text == "Service unavailable; Client host [192.0.2.7] blocked using bl.example"


def test_first_listing_zone_is_named_and_later_zones_are_not_asked():
    dns = CountingDns(
        {("two.bl", "192.0.2.7"): DnsblAnswer(True), ("three.bl", "192.0.2.7"): DnsblAnswer(True)}
    )
    reply = rcpt_once([DnsblCheck(["one.bl", "two.bl", "three.bl"], dns)], "x@example.org")
    assert reply.text.endswith("blocked using two.bl")
    assert [q[0] for q in dns.queries] == ["one.bl", "two.bl"]


def test_clean_client_passes_and_lookup_time_is_added_to_the_delay_once():
    dns = CountingDns({}, seconds=0.8)
    s = Session([DnsblCheck(["a.bl", "b.bl"], dns)], now=100.0)
    s.say(Hello("c.example"), 100.0)
    s.say(Mail("a@c.example"), 100.0)
    assert s.say(Rcpt("x@example.org"), 101.0).code == 250
    assert s.say(Rcpt("y@example.org"), 102.0).code == 250
    assert s.delays[-2:] == [1.6, 0.0]  # two zones at the first RCPT, cached after
    assert [q[2] for q in dns.queries] == [101.0, 101.0]  # asked at the RCPT's time


def test_each_session_looks_up_again():
    dns = CountingDns({})
    check = DnsblCheck("a.bl", dns)
    rcpt_once([check], "x@example.org")
    rcpt_once([check], "x@example.org")
    assert len(dns.queries) == 2


def test_connect_phase_answers_the_greeting_and_the_session_waits_for_quit():
    s = Session([DnsblCheck("bl.example", StaticDnsbl(["192.0.2.7"]), phase="connect")])
    assert (s.greeting.code, s.greeting.enhanced) == (554, "5.7.1")
    assert "Client host [192.0.2.7] blocked using bl.example" in s.greeting.text
    assert s.say(Hello("c.example")).code == 503  # RFC 5321 3.1: only QUIT now
    assert s.say(Quit()).code == 221
    assert s.conn.state == states.CLOSED


def test_authenticated_clients_are_not_checked_at_rcpt():
    check = DnsblCheck("bl.example", StaticDnsbl(["192.0.2.7"]))
    assert rcpt_once([check], "x@example.org", authenticated=True).code == 250
    assert rcpt_once([check], "x@example.org").code == 554


def test_static_dnsbl_lists_and_delists_at_run_time():
    dnsbl = StaticDnsbl(["198.51.100.0/24"], reason="test", seconds=0.5)
    check = DnsblCheck("local.dnsbl", dnsbl)
    assert rcpt_once([check], "x@example.org", ip="192.0.2.7").code == 250
    dnsbl.add("192.0.2.7")
    assert rcpt_once([check], "x@example.org", ip="192.0.2.7").code == 554
    assert rcpt_once([check], "x@example.org", ip="198.51.100.200").code == 554
    dnsbl.remove("192.0.2.7")
    dnsbl.remove("198.51.100.0/24")
    assert rcpt_once([check], "x@example.org", ip="198.51.100.200").code == 250
    assert dnsbl("z", "192.0.2.8", 0.0) == DnsblAnswer(False, "", 0.5)
    assert "unknown" not in dnsbl and "2001:db8::1" not in dnsbl


@pytest.mark.parametrize("bad", [{"phase": "mail"}, {"zones": []}])
def test_bad_configuration_is_refused(bad):
    args = {"zones": ["bl"], "phase": "rcpt"} | bad
    with pytest.raises(ValueError):
        DnsblCheck(args["zones"], StaticDnsbl(), phase=args["phase"])
