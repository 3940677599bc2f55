"""SPF (RFC 7208) evaluation and the SpfDmarc policy."""

from __future__ import annotations

import pytest
from mail_helpers import Session

from smtpsim.mail import SpfDmarc, dmarc_policy, evaluate_spf
from smtpsim.protocol import Reply

CLIENT = "192.0.2.7"


class Dns:
    """TXT, A/AAAA and MX answers from dicts; names in ``failing`` give None
    (a temporary failure). Every call is recorded."""

    def __init__(self, txt=None, addresses=None, mx=None, failing=()):
        self.records = {k.lower(): v for k, v in (txt or {}).items()}
        self.addrs = {k.lower(): v for k, v in (addresses or {}).items()}
        self.mxs = {k.lower(): v for k, v in (mx or {}).items()}
        self.failing = set(failing)
        self.calls: list[tuple[str, str]] = []

    def _get(self, kind, table, name):
        self.calls.append((kind, name))
        if name in self.failing:
            return None
        return list(table.get(name.lower(), []))

    def txt(self, name):
        return self._get("txt", self.records, name)

    def addresses(self, name):
        return self._get("a", self.addrs, name)

    def mx_hosts(self, name):
        return self._get("mx", self.mxs, name)


def spf(
    dns: Dns,
    sender: str = "alice@example.com",
    ip: str = CLIENT,
    helo: str | None = "mail.example.com",
) -> str:
    return evaluate_spf(
        ip, sender, helo, txt=dns.txt, addresses=dns.addresses, mx_hosts=dns.mx_hosts
    ).result


def record(text: str, domain: str = "example.com", **extra) -> Dns:
    txt = {domain: ["some unrelated text", text]} | extra.pop("txt", {})
    return Dns(txt=txt, **extra)


@pytest.mark.parametrize(
    "text,ip,result",
    [
        ("v=spf1 ip4:192.0.2.0/24 -all", CLIENT, "pass"),
        ("v=spf1 ip4:192.0.2.0/24 -all", "198.51.100.1", "fail"),
        ("v=spf1 ip4:192.0.2.8 ~all", CLIENT, "softfail"),
        ("v=spf1 ip4:192.0.2.8 ?all", CLIENT, "neutral"),
        ("v=spf1 ip4:192.0.2.8", CLIENT, "neutral"),  # nothing matched, no redirect
        ("v=spf1 -ip4:192.0.2.7 +all", CLIENT, "fail"),  # the first match decides
        ("v=spf1 ip6:2001:db8::/32 -all", "2001:db8:5::1", "pass"),
        ("v=spf1 ip6:2001:db8::/32 -all", CLIENT, "fail"),  # an IPv4 client
        ("V=SPF1 IP4:192.0.2.7 -ALL", CLIENT, "pass"),  # case-insensitive
        ("v=spf1", CLIENT, "neutral"),
    ],
)
def test_ip_mechanisms_and_qualifiers(text, ip, result):
    assert spf(record(text), ip=ip) == result


def test_no_record_is_none_and_two_records_are_permerror():
    assert spf(Dns(txt={"example.com": ["google-site-verification=x"]})) == "none"
    assert spf(Dns()) == "none"
    two = Dns(txt={"example.com": ["v=spf1 -all", "v=spf1 +all"]})
    assert spf(two) == "permerror"
    assert spf(Dns(txt={"example.com": ["v=spf10 +all"]})) == "none"  # not v=spf1


def test_a_and_mx_with_domains_and_cidr():
    dns = record(
        "v=spf1 a mx:mail.example.net/28 a:relay.example.com//64 -all",
        addresses={
            "example.com": ["192.0.2.10"],
            "mx1.example.net": ["198.51.100.1"],
            "relay.example.com": ["2001:db8::1"],
        },
        mx={"mail.example.net": ["mx1.example.net"]},
    )
    assert spf(dns, ip="192.0.2.10") == "pass"
    assert spf(dns, ip="192.0.2.11") == "fail"
    assert spf(dns, ip="198.51.100.14") == "pass"  # /28 around the MX host's address
    assert spf(dns, ip="198.51.100.17") == "fail"
    assert spf(dns, ip="2001:db8::abcd") == "pass"  # //64 for IPv6


def test_include_matches_only_on_pass_and_needs_a_record():
    txt = {
        "_spf.provider.example": ["v=spf1 ip4:203.0.113.0/24 -all"],
        "soft.example": ["v=spf1 ~all"],
    }
    dns = record("v=spf1 include:_spf.provider.example include:soft.example -all", txt=txt)
    assert spf(dns, ip="203.0.113.5") == "pass"
    assert spf(dns) == "fail"  # the include's fail/softfail is "no match": -all decides
    missing = record("v=spf1 include:nothing.example -all")
    assert spf(missing) == "permerror"


def test_redirect_takes_the_target_result_and_all_overrides_it():
    txt = {"_spf.example.net": ["v=spf1 ip4:192.0.2.0/24 -all"]}
    assert spf(record("v=spf1 redirect=_spf.example.net", txt=txt)) == "pass"
    assert spf(record("v=spf1 redirect=_spf.example.net", txt=txt), ip="10.0.0.1") == "fail"
    assert spf(record("v=spf1 redirect=nothing.example")) == "permerror"
    assert spf(record("v=spf1 ?all redirect=_spf.example.net", txt=txt)) == "neutral"


def chain(n: int) -> Dns:
    """example.com includes i1, which includes i2, ... ; the last one passes."""
    txt = {"example.com": ["v=spf1 include:i1.example -all"]}
    for i in range(1, n):
        txt[f"i{i}.example"] = [f"v=spf1 include:i{i + 1}.example -all"]
    txt[f"i{n}.example"] = ["v=spf1 +all"]
    return Dns(txt=txt)


def test_ten_lookups_are_allowed_the_eleventh_is_permerror():
    assert spf(chain(10)) == "pass"
    assert spf(chain(11)) == "permerror"
    result = evaluate_spf(
        CLIENT, "a@example.com", "h.example", txt=chain(10).txt, addresses=list, mx_hosts=list
    )
    assert result.lookups == 10 and result.queries == 11


def test_more_than_two_void_lookups_is_permerror():
    two = record("v=spf1 a:nx1.example a:nx2.example ip4:192.0.2.7 -all")
    three = record("v=spf1 a:nx1.example a:nx2.example a:nx3.example ip4:192.0.2.7 -all")
    assert spf(two) == "pass"
    assert spf(three) == "permerror"


def test_mx_with_more_than_ten_hosts_is_permerror():
    hosts = [f"mx{i}.example.com" for i in range(11)]
    dns = record(
        "v=spf1 mx -all", mx={"example.com": hosts}, addresses={h: ["198.51.100.1"] for h in hosts}
    )
    assert spf(dns) == "permerror"


@pytest.mark.parametrize(
    "text",
    [
        "v=spf1 +all foo:bar",  # unknown mechanism, even after a match
        "v=spf1 ip4:192.0.2.300 -all",
        "v=spf1 ip4 -all",
        "v=spf1 a:example.com/33 -all",
        "v=spf1 all:x",
        "v=spf1 include -all",
        "v=spf1 -redirect=x.example",  # a modifier with a qualifier
        "v=spf1 redirect=a.example redirect=b.example",
        "v=spf1 exists:%{z}.example -all",  # unknown macro letter
        "v=spf1 exists:100% -all",  # a lone percent sign
    ],
)
def test_syntax_errors_are_permerror(text):
    assert spf(record(text)) == "permerror"


def test_unknown_modifiers_are_ignored():
    assert spf(record("v=spf1 foo=bar ip4:192.0.2.7 exp=explain.example -all")) == "pass"


def test_dns_failures_are_temperror():
    assert spf(Dns(failing={"example.com"})) == "temperror"
    dns = record("v=spf1 a:down.example -all", failing={"down.example"})
    assert spf(dns) == "temperror"
    inc = record("v=spf1 include:down.example -all", failing={"down.example"})
    assert spf(inc) == "temperror"


def test_null_sender_checks_postmaster_at_the_helo_domain():
    dns = Dns(txt={"mta.example.net": ["v=spf1 ip4:192.0.2.7 -all"]})
    assert spf(dns, sender="", helo="mta.example.net") == "pass"
    assert spf(dns, sender="", helo="other.example") == "none"
    assert spf(dns, sender="", helo=None) == "none"


def test_macros_in_exists():
    dns = record(
        "v=spf1 exists:%{ir}.%{l1r-}.%{o}._spf.%{d2} -all",
        addresses={"7.2.0.192.alice.example.com._spf.example.com": ["127.0.0.2"]},
    )
    assert spf(dns, sender="alice@example.com") == "pass"
    assert spf(dns, sender="bob@example.com") == "fail"
    v6 = record(
        "v=spf1 exists:%{i}.%{v}.example.com -all",
        addresses={
            "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.ip6.example.com": [
                "127.0.0.2"
            ]
        },
    )
    assert spf(v6, ip="2001:db8::1") == "pass"


# --- DMARC and the policy ----------------------------------------------------------------


@pytest.mark.parametrize(
    "records,policy",
    [
        (["v=DMARC1; p=reject; rua=mailto:d@example.com"], "reject"),
        (["v=DMARC1;p=quarantine"], "quarantine"),
        (["v=DMARC1; p=none"], "none"),
        (["v=DMARC1; p=bogus"], "none"),
        ([], "norecord"),
        (["v=DMARC1; p=reject", "v=DMARC1; p=none"], "norecord"),
    ],
)
def test_dmarc_policy(records, policy):
    dns = Dns(txt={"_dmarc.example.com": records})
    assert dmarc_policy("example.com", dns.txt) == policy


def test_dmarc_policy_lookup_failure():
    assert dmarc_policy("example.com", Dns(failing={"_dmarc.example.com"}).txt) == "temperror"


def dmarc_dns(spf_text: str = "v=spf1 ip4:192.0.2.0/24 -all", p: str = "reject", **kw) -> Dns:
    return Dns(txt={"example.com": [spf_text], "_dmarc.example.com": [f"v=DMARC1; p={p}"]}, **kw)


def deliver(
    policy: SpfDmarc,
    ip: str = CLIENT,
    sender: str = "alice@example.com",
    helo: str = "mail.example.com",
) -> list[Reply]:
    s = Session([policy], ip=ip)
    return s.transaction(sender, ["u@example.org", "v@example.org"], helo=helo)


def policy_for(dns: Dns, **kw) -> SpfDmarc:
    return SpfDmarc(dns.txt, dns.addresses, dns.mx_hosts, **kw)


def test_spf_pass_is_accepted():
    assert [r.code for r in deliver(policy_for(dmarc_dns()))] == [250, 250, 250, 250]


def test_dmarc_reject_refuses_after_the_data_when_spf_does_not_pass():
    out = deliver(policy_for(dmarc_dns()), ip="198.51.100.1")
    assert [r.code for r in out[:3]] == [250, 250, 250]  # RCPTs accepted
    assert out[3] == Reply(550, "5.7.1", "Email rejected per DMARC policy for example.com")
    soft = deliver(policy_for(dmarc_dns("v=spf1 ~all")))
    assert soft[3].code == 550  # softfail is not a pass either


@pytest.mark.parametrize("p", ["quarantine", "none"])
def test_quarantine_and_none_accept(p):
    assert deliver(policy_for(dmarc_dns(p=p)), ip="198.51.100.1")[3].code == 250


def test_no_dmarc_record_accepts_even_spf_fail():
    dns = Dns(txt={"example.com": ["v=spf1 -all"]})
    assert deliver(policy_for(dns))[3].code == 250


def test_reject_spf_fail_refuses_at_rcpt_but_not_softfail():
    out = deliver(policy_for(dmarc_dns(p="none"), reject_spf_fail=True), ip="198.51.100.1")
    assert [r.code for r in out] == [250, 550, 550]
    assert out[1] == Reply(550, "5.7.1", "<alice@example.com>: Sender address rejected: SPF fail")
    soft = deliver(policy_for(dmarc_dns("v=spf1 ~all", p="none"), reject_spf_fail=True))
    assert [r.code for r in soft] == [250, 250, 250, 250]


def test_temperror_defers_with_451_unless_told_not_to():
    dns = dmarc_dns(failing={"example.com"})
    out = deliver(policy_for(dns))
    assert out[3] == Reply(
        451, "4.4.3", "Temporary DNS failure evaluating DMARC policy for example.com"
    )
    assert deliver(policy_for(dns, defer_temperror=False))[3].code == 250
    no_dmarc = dmarc_dns(failing={"_dmarc.example.com"})
    assert deliver(policy_for(no_dmarc), ip="198.51.100.1")[3].code == 451
    assert deliver(policy_for(no_dmarc))[3].code == 250  # SPF passed: DMARC passes


def test_null_sender_is_judged_on_the_helo_domain():
    dns = Dns(
        txt={
            "mta.example.net": ["v=spf1 ip4:192.0.2.7 -all"],
            "_dmarc.mta.example.net": ["v=DMARC1; p=reject"],
        }
    )
    assert deliver(policy_for(dns), sender="", helo="mta.example.net")[3].code == 250
    out = deliver(policy_for(dns), sender="", helo="mta.example.net", ip="198.51.100.1")
    assert out[3].text == "Email rejected per DMARC policy for mta.example.net"


def test_spf_is_evaluated_once_per_transaction_and_queries_cost_time():
    dns = dmarc_dns()
    policy = policy_for(dns, reject_spf_fail=True, query_seconds=0.1)
    s = Session([policy])
    s.transaction("alice@example.com", ["u@example.org", "v@example.org"])
    assert dns.calls == [("txt", "example.com"), ("txt", "_dmarc.example.com")]
    # delays: greeting, EHLO, MAIL, RCPT (SPF: 1 query), RCPT, DATA, end of data (DMARC)
    assert s.delays == pytest.approx([0, 0, 0, 0.1, 0, 0, 0.1])
