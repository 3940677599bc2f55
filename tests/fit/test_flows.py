"""Flows by client network and by sender domain, on Postfix 3.7 lines
(tests/fit/data/odd-lines.maillog, hand-written as Postfix writes them: smtpd.c's
``client=NAME[ADDR]``, IPv6 addresses without the ``IPv6:`` prefix there), with the
odd lines a real log has: a warning, a lost connection, a NOQUEUE reject, a
connection cache's second use."""

from __future__ import annotations

from pathlib import Path

import smtpsim
from smtpsim.fit import FitOptions, fit_log
from smtpsim.fit.report import fit_report
from smtpsim.fit.traffic import flow_key
from smtpsim.logs.postfix_log import read_postfix_log

_LOG = (Path(__file__).resolve().parent / "data" / "odd-lines.maillog").read_text()


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
    assert set(fit.scenario["traffic"]) == {"net-192-0-2-0-24", "net-2001-db8-1-64", "local"}
    smtpsim.load_scenario(fit.yaml())  # the names are scenario names
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
    smtpsim.load_scenario(fit.yaml())
    # the senders' domains are the mta's own, so that bounces come home
    assert set(fit.scenario["hosts"]["mta"]["accepts"]) == {
        "a.example",
        "b.example",
        "relay.corp.example",
    }


def test_names_no_scenario_takes_are_grouped_and_the_scenario_validates() -> None:
    odd = (
        _LOG.replace("ops@dest.example", "ops@localhost")
        .replace("bob@dest.example", "bob@DEST.Example")
        .replace("carol@dest.example", "carol@[198.51.100.5]")
    )
    fit = fit_log(read_postfix_log(odd.splitlines(), year=2026), ["odd"], FitOptions())
    scenario = smtpsim.load_scenario(fit.yaml())
    domains = {d for f in scenario.traffic.values() if f.recipients for d in f.recipients.domains}
    assert domains == {"dest.example", "other.example", "other-domains.example"}
