"""The two TLS scenarios (issue 14) answer their questions.

certificate-expiry: Postfix's ``may`` never checks the certificate, so its mail keeps
flowing over TLS after the expiry (and in the clear to the backup MX without STARTTLS
while mx1 restarts); ``verify`` and an enforced MTA-STS policy fail mx1 with 4.7.5
"Server certificate not verified" and the backup with 4.7.4 "TLS is required, but was
not offered by host" (smtp_proto.c), so their mail waits in the queue until the
renewal; MTA-STS ``testing`` reports the failures and delivers (RFC 8461 section 5).

starttls-stripping: with STARTTLS stripped, ``may`` delivers in the clear to every
domain (the attacker reads it); DANE protects the domain with TLSA records and
MTA-STS the domain with an enforced policy, each only that one (RFC 7672 section 2.2,
RFC 8461 section 5: "mail is not delivered in the clear").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import smtpsim

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DAY = 86400.0


@pytest.fixture(scope="module")
def expiry() -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(SCENARIOS / "certificate-expiry.yaml"))


@pytest.fixture(scope="module")
def stripping() -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(SCENARIOS / "starttls-stripping.yaml"))


def tls_attempts(result: smtpsim.RunResult, host: str) -> pd.DataFrame:
    a = result.attempts
    return a[(a["host"].astype(str) == host) & a["dsn"].astype(str).str.startswith("4.7.")]


def domain_of(attempts: pd.DataFrame) -> pd.Series:
    return attempts["rcpt"].str.rpartition("@")[2]


def test_may_never_defers_for_tls_and_goes_to_the_backup_in_the_clear(expiry) -> None:
    assert tls_attempts(expiry, "out-may").empty
    report = expiry.tls_report
    mine = report[report["host"] == "out-may"]
    assert set(mine["result"]) <= {"success", "starttls-not-supported"}
    # the clear sessions are those of mx1's restart at 36h, on day 1
    clear = mine[mine["sent_clear"] > 0]
    assert len(clear) > 0 and set(clear["day"]) == {1}


def test_verify_defers_from_the_expiry_to_the_renewal(expiry) -> None:
    failed = tls_attempts(expiry, "out-verify")
    assert len(failed) > 100
    assert failed["t_start"].min() >= 1 * DAY
    # the renewal is at 36h, but mx1 restarts until 36h20m and the backup refuses:
    # the destination stays throttled on its last 4.7.4 until then (qmgr, peer none)
    assert failed["t_start"].max() <= 36 * 3600.0 + 20 * 60.0
    tried = failed[failed["peer"].astype(str) != "none"]
    assert tried["t_start"].max() < 36 * 3600.0 + 20 * 60.0
    at = tried.set_index(tried["peer"].astype(str))["dsn"].astype(str)
    assert set(at.loc["mx1"]) == {"4.7.5"} and set(at.loc["mx2"]) == {"4.7.4"}
    report = expiry.tls_report
    assert int(report.loc[report["host"] == "out-verify", "sent_clear"].sum()) == 0


def test_enforce_defers_where_testing_delivers(expiry) -> None:
    failed = tls_attempts(expiry, "out-sts")
    assert set(domain_of(failed)) == {"shop.example"}  # enforce; blog.example is testing
    report = expiry.tls_report
    blog = report[(report["host"] == "out-sts") & (report["domain"] == "blog.example")]
    sts = blog[blog["policy_type"] == "sts"]
    expired = sts[sts["result"] == "certificate-expired"]
    assert int(expired["sessions"].sum()) > 0  # reported ...
    assert int(expired["sent"].sum()) > 0 and int(blog["blocked"].sum()) == 0  # ... delivered


def test_every_expiry_recipient_is_delivered_in_the_end(expiry) -> None:
    assert set(expiry.recipients["status"].astype(str)) == {"delivered"}


def test_the_attacker_reads_may_mail_but_not_what_dane_and_mta_sts_protect(stripping) -> None:
    report = stripping.tls_report
    exposed = report.groupby(["host", "domain"])["exposed"].sum()
    blocked = report.groupby(["host", "domain"])["blocked"].sum()
    for domain in ("dane-shop.example", "sts-shop.example", "plain-shop.example"):
        assert exposed[("out-may", domain)] > 0
    assert exposed[("out-dane", "dane-shop.example")] == 0
    assert blocked[("out-dane", "dane-shop.example")] > 0
    assert exposed[("out-sts", "sts-shop.example")] == 0
    assert blocked[("out-sts", "sts-shop.example")] > 0
    # each protects only its own kind of domain
    assert exposed[("out-dane", "plain-shop.example")] > 0
    assert exposed[("out-dane", "sts-shop.example")] > 0
    assert exposed[("out-sts", "dane-shop.example")] > 0
    summary = stripping.summary()["tls"]
    assert summary["exposed"] == int(report["exposed"].sum()) > 0
    assert summary["failed_sessions"]["starttls-not-supported"] > 0


def test_the_protected_mail_waits_for_the_attack_to_end(stripping) -> None:
    failed = tls_attempts(stripping, "out-dane")
    assert set(failed["dsn"].astype(str)) == {"4.7.4"}
    assert failed["t_start"].min() >= 6 * 3600.0 and failed["t_start"].max() < 18 * 3600.0
    assert set(stripping.recipients["status"].astype(str)) == {"delivered"}
