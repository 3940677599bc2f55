"""TLS policies in whole runs: what Postfix's SMTP client does with each TLS failure
across MX hosts and retries, and MTA-STS caching.

Sources (Postfix src/smtp/smtp_proto.c): "TLS is required, but was not offered by
host %s" (4.7.4) and "Server certificate not verified" (4.7.5) are ``smtp_site_fail``
calls, soft errors: smtp_connect.c goes on to the next MX address, and a recipient
left over is deferred; only maximal_queue_lifetime ends it (expired, with that last
error). Under ``may`` a server without STARTTLS gets the mail in the clear. DANE
(RFC 7672 section 2.2.2; smtp_tls_policy.c): an MX host whose TLSA records do not
match fails like a bad certificate, and the next MX is tried.
"""

from __future__ import annotations

from pathlib import Path

from engine_helpers import attempts_from, run_model, strings

from smtpsim.mail.tls import StsPolicy
from smtpsim.mta.tls import PublishedSts, TlsClient, TlsWorld


def two_mx(
    *, level: str, mx1: str = "", mx2: str = "", extra: str = "", duration: str = "20min"
) -> str:
    """out sends 5 messages to dest.example, whose MX hosts are mx1 (10) and mx2 (20)."""
    return f"""
name: tls-delivery
duration: {duration}
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix:
      smtp_tls_security_level: {level}
      maximal_queue_lifetime: 1h
      bounce_queue_lifetime: 1h
  mx1:
    role: mx
    name: mx1.dest.example
    accepts: [dest.example]
    {mx1}
  mx2:
    role: mx
    name: mx2.dest.example
    accepts: [dest.example]
    {mx2}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10, mx2: 20}}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{{at: 10s, messages: 5}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
{extra}
"""


OFFER = "postfix: {smtpd_tls_security_level: may}"


def test_dane_with_a_stale_tlsa_record_goes_to_the_next_mx() -> None:
    # mx1's key was rolled over without its TLSA record; mx2's record matches.
    mx1 = OFFER + "\n    tls: {certificate: {key: new}, tlsa: ['3 1 1 old']}"
    mx2 = OFFER + "\n    tls: {certificate: {key: k2}, tlsa: ['3 1 1 k2']}"
    _, result = run_model(two_mx(level="dane", mx1=mx1, mx2=mx2))
    tries = attempts_from(result, "out")
    at_mx1, at_mx2 = tries[tries["peer"] == "mx1"], tries[tries["peer"] == "mx2"]
    assert len(at_mx1) == 5 and set(strings(at_mx1["dsn"])) == {"4.7.5"}
    assert set(strings(at_mx1["phase"])) == {"starttls"}
    assert set(strings(at_mx2["outcome"])) == {"sent"}
    delivered = result.recipients[result.recipients["status"] == "delivered"]
    assert len(delivered) == 5
    report = result.tls_report
    assert report is not None
    by = report.set_index(["result"])
    assert int(by.loc["tlsa-invalid", "sessions"]) == 5
    assert int(by.loc["tlsa-invalid", "blocked"]) == 5
    assert int(by.loc["success", "sent"]) == 5


def test_dane_with_no_matching_mx_defers_then_expires_with_postfixs_text() -> None:
    mx = OFFER + "\n    tls: {certificate: {key: new}, tlsa: ['3 1 1 old']}"
    _, result = run_model(two_mx(level="dane", mx1=mx, mx2=mx, duration="2h"))
    r = result.recipients[result.recipients["domain"] == "dest.example"]
    assert set(strings(r["status"])) == {"expired"}  # never bounced at once: 4.x.x
    assert set(strings(r["reply"])) == {"451 4.7.5 Server certificate not verified"}
    tries = attempts_from(result, "out")
    tries = tries[tries["rcpt"].str.endswith("@dest.example")]
    assert set(strings(tries["outcome"])) == {"deferred"}
    assert set(strings(tries["peer"])) == {"mx1", "mx2"}  # each try goes on to the backup


def test_may_delivers_in_the_clear_where_encrypt_defers(tmp_path: Path) -> None:
    # Neither MX offers STARTTLS.
    _, plain = run_model(two_mx(level="may", extra=""))
    assert set(strings(plain.recipients["status"])) == {"delivered"}
    assert plain.tls_report is None  # nothing about TLS modelled: no report, as before
    text = two_mx(level="may", mx1="tls: {}")  # the TLS model on, STARTTLS still not offered
    _, plain = run_model(text)
    assert set(strings(plain.recipients["status"])) == {"delivered"}
    report = plain.tls_report
    assert report is not None
    assert set(report["result"]) == {"starttls-not-supported"}
    assert int(report["sent_clear"].sum()) == 5
    _, strict = run_model(two_mx(level="encrypt", mx1="tls: {}"))
    tries = attempts_from(strict, "out")
    first = tries[tries["peer"] == "mx1"].iloc[0]
    assert first["dsn"] == "4.7.4"
    assert set(strings(tries["dsn"])) == {"4.7.4"}
    assert set(strings(tries["peer"])) == {"mx1", "mx2"}
    assert set(strings(strict.recipients["status"])) == {"pending"}
    # The maillog says it in Postfix's words, as the client's own (not "host ... said").
    log = strict.write_maillog(tmp_path / "maillog").read_text()
    assert "status=deferred (TLS is required, but was not offered by host mx2.dest.example[" in log
    assert "said: 451 4.7.4" not in log


def test_certificate_expiry_stops_verify_but_not_may() -> None:
    # One MX, its certificate expires at 5 minutes and is renewed at 15.
    mx1 = OFFER + "\n    tls: {certificate: {not_after: 5min}}"
    extra = "incidents:\n  - {certificate_change: {host: mx1, not_after: 30d}, at: 15min}\n"
    bursts = "bursts: [{at: 10s, messages: 5}, {at: 6min, messages: 5}]"
    for level, dsns in (("may", {"2.0.0"}), ("verify", {"2.0.0", "4.7.5"})):
        text = two_mx(level=level, mx1=mx1, extra=extra).replace(
            "bursts: [{at: 10s, messages: 5}]", bursts
        )
        text = text.replace(
            "dest.example: {mx: {mx1: 10, mx2: 20}}", "dest.example: {mx: {mx1: 10}}"
        )
        _, result = run_model(text)
        tries = attempts_from(result, "out")
        assert set(strings(tries["dsn"])) == dsns, level
        assert set(strings(result.recipients["status"])) == {"delivered"}
        if level == "verify":
            failed = tries[tries["dsn"] == "4.7.5"]
            assert failed["t_start"].min() >= 300.0 and failed["t_start"].max() < 900.0


# --- MTA-STS caching (RFC 8461 sections 3.1, 5.1) --------------------------------------------


def sts_client(policy: StsPolicy) -> tuple[TlsWorld, TlsClient]:
    world = TlsWorld({}, {}, {"dest.example": PublishedSts(policy, 0.2, 10.0)})
    return world, TlsClient(world, "may", {}, True)


def publish(world: TlsWorld, policy: StsPolicy) -> None:
    world.sts["dest.example"] = PublishedSts(policy, 0.2, 10.0)


def test_mta_sts_cache_honours_max_age_across_a_policy_change_without_a_new_id() -> None:
    testing = StsPolicy("testing", ("*.dest.example",), 3600.0, "v1")
    world, client = sts_client(testing)
    view, cost = client.sts("dest.example", 0.0)
    assert view.policy == testing and cost == 0.2  # fetched
    publish(world, StsPolicy("enforce", ("*.dest.example",), 3600.0, "v1"))  # id not bumped
    view, cost = client.sts("dest.example", 1800.0)
    assert view.policy == testing and cost == 0.0  # the cached policy, no fetch
    view, cost = client.sts("dest.example", 3600.1)  # max_age counts from the fetch's end
    assert view.policy == testing and cost == 0.0
    view, cost = client.sts("dest.example", 3600.3)  # past max_age (from the fetch's end, 0.2 s)
    assert view.policy is not None and view.policy.mode == "enforce" and cost == 0.2


def test_mta_sts_a_new_id_is_fetched_at_the_next_delivery() -> None:
    world, client = sts_client(StsPolicy("testing", ("*.dest.example",), 86400.0, "v1"))
    client.sts("dest.example", 0.0)
    publish(world, StsPolicy("enforce", ("*.dest.example",), 86400.0, "v2"))
    view, cost = client.sts("dest.example", 60.0)
    assert view.policy is not None and view.policy.mode == "enforce" and cost == 0.2


def test_mta_sts_policy_host_down() -> None:
    policy = StsPolicy("enforce", ("*.dest.example",), 3600.0, "v1")
    world, client = sts_client(policy)
    world.sts_down["dest.example"] = 1
    view, cost = client.sts("dest.example", 0.0)  # nothing cached: deliver without policy
    assert view.policy is None and view.fetch_failed and cost == 10.0
    del world.sts_down["dest.example"]
    client.sts("dest.example", 100.0)  # fetched and cached now
    publish(world, StsPolicy("enforce", ("*.dest.example",), 3600.0, "v2"))
    world.sts_down["dest.example"] = 1
    view, cost = client.sts("dest.example", 200.0)  # the new id cannot be fetched:
    assert view.policy == policy and not view.fetch_failed  # the cached one holds
    view, _ = client.sts("dest.example", 100.2 + 3600.0 + 1.0)  # ... until it expires
    assert view.policy is None and view.fetch_failed


def test_an_explicit_policy_map_entry_comes_before_mta_sts() -> None:
    world = TlsWorld(
        {}, {}, {"dest.example": PublishedSts(StsPolicy("enforce", ("x",), 1.0, "1"), 0.2, 10.0)}
    )
    client = TlsClient(world, "may", {"dest.example": "encrypt"}, True)
    view, cost = client.sts("dest.example", 0.0)
    assert view.policy is None and cost == 0.0


def test_mta_sts_policy_host_down_then_up_in_a_run() -> None:
    # dest.example enforces MTA-STS; its MX offers no STARTTLS. While the policy host
    # is down (0-5 min) the sender has no policy: it delivers in the clear and reports
    # sts-policy-fetch-error, each delivery waiting fetch_timeout first. Once the policy
    # is fetched the sender enforces it: 4.7.4 at both MX hosts, deferred.
    text = two_mx(level="may", mx1="tls: {}").replace(
        "smtp_tls_security_level: may", "smtp_tls_security_level: may\n      smtp_tls_mta_sts: true"
    )
    text = text.replace(
        "dest.example: {mx: {mx1: 10, mx2: 20}}",
        "dest.example:\n    mx: {mx1: 10, mx2: 20}\n"
        "    mta_sts: {mode: enforce, mx: ['*.dest.example'], fetch_timeout: 7s}",
    )
    text = text.replace(
        "bursts: [{at: 10s, messages: 5}]",
        "bursts: [{at: 10s, messages: 5}, {at: 6min, messages: 5}]",
    )
    text += "incidents:\n  - {mta_sts_down: dest.example, at: 0s, until: 5min}\n"
    _, result = run_model(text)
    tries = attempts_from(result, "out")
    early, late = tries[tries["t_start"] < 300.0], tries[tries["t_start"] >= 360.0]
    assert set(strings(early["outcome"])) == {"sent"}
    assert (early["conn_s"] >= 7.0).all()  # the failed fetch came first
    assert set(strings(late["dsn"])) == {"4.7.4"}
    report = result.tls_report
    assert report is not None
    by = report.groupby("result")["sent_clear"].sum()
    assert int(by["sts-policy-fetch-error"]) == 5
    assert int(report.loc[report["result"] == "starttls-not-supported", "blocked"].sum()) >= 5


def test_the_policy_table_sets_the_level_per_destination() -> None:
    # smtp_tls_policy_maps: dest.example must be encrypted, other.example goes as the
    # default level (may); neither MX offers STARTTLS.
    text = two_mx(level="may", mx1="tls: {}").replace(
        "smtp_tls_security_level: may",
        "smtp_tls_security_level: may\n      smtp_tls_policy_maps: {dest.example: encrypt}",
    )
    text = text.replace(
        "accepts: [dest.example]\n    tls: {}",
        "accepts: [dest.example, other.example]\n    tls: {}",
    )
    text = text.replace(
        "dest.example: {mx: {mx1: 10, mx2: 20}}",
        "dest.example: {mx: {mx1: 10, mx2: 20}}\n  other.example: {mx: {mx1: 10}}",
    )
    text = text.replace(
        "domains: {dest.example: 1}", "domains: {dest.example: 0.5, other.example: 0.5}"
    )
    _, result = run_model(text)
    tries = attempts_from(result, "out")
    domain = tries["rcpt"].str.rpartition("@")[2]
    assert set(strings(tries.loc[domain == "dest.example", "dsn"])) == {"4.7.4"}
    assert set(strings(tries.loc[domain == "other.example", "outcome"])) == {"sent"}
    report = result.tls_report
    assert report is not None
    levels = report.groupby("domain")["sent_clear"].sum()
    assert int(levels["dest.example"]) == 0 and int(levels["other.example"]) > 0
