"""Each TLS security level against each failure kind gives Postfix's behaviour.

Sources (Postfix, github.com/vdukhovni/postfix, src/):
- tls/tls.h: ``TLS_REQUIRED_BY_SECURITY_LEVEL(l) ((l) > TLS_LEV_MAY)``, and
  ``TLS_MUST_MATCH(l) ((l) > TLS_LEV_ENCRYPT)``: may never insists, encrypt insists on
  TLS but not on the certificate, dane/verify/secure on both;
- smtp/smtp_proto.c: STARTTLS missing where TLS is required ->
  ``smtp_site_fail(... "4.7.4", "TLS is required, but was not offered by host %s")``;
  a certificate not matched -> ``smtp_site_fail(... "4.7.5", "Server certificate not
  verified")``; both are site failures (the next MX, then deferral: never a bounce);
  under may, a server without STARTTLS gets the mail in plaintext;
- smtp/smtp_tls_policy.c: dane with "no TLSA records found" -> may; "TLSA records
  unusable" -> encrypt;
- RFC 7672 section 3.1.1: a DANE-EE (3 1 1) match ignores names and dates; 3.1.2:
  DANE-TA (2 1 1) checks them.
"""

from __future__ import annotations

import math

import pytest

from smtpsim.mail.tls import Certificate, StsPolicy, Tlsa, name_matches, plan

NOW = 1000.0
MX = "mx1.dest.example"
SERVER = "mx1.dest.example[198.51.100.5]"

GOOD = Certificate((MX,), 0.0, math.inf, "k1", issuer="ca1")
FAULTS = {
    "good": GOOD,
    "expired": Certificate((MX,), 0.0, NOW - 1, "k1", issuer="ca1"),
    "not-yet-valid": Certificate((MX,), NOW + 1, math.inf, "k1", issuer="ca1"),
    "self-signed": Certificate((MX,), 0.0, math.inf, "k1", issuer="k1", self_signed=True),
    "untrusted": Certificate((MX,), 0.0, math.inf, "k1", issuer="ca9", trusted=False),
    "wrong-name": Certificate(("www.other.example",), 0.0, math.inf, "k1", issuer="ca1"),
}

# What Postfix does: "tls" (delivers over TLS), "clear" (delivers in plaintext),
# "4.7.4" / "4.7.5" (the session fails with that status: next MX, then deferred).
EXPECTED = {
    # level:   not offered,  good,  expired, not-yet-valid, self-signed, untrusted, wrong-name
    "none": ("clear", "clear", "clear", "clear", "clear", "clear", "clear"),
    "may": ("clear", "tls", "tls", "tls", "tls", "tls", "tls"),
    "encrypt": ("4.7.4", "tls", "tls", "tls", "tls", "tls", "tls"),
    "verify": ("4.7.4", "tls", "4.7.5", "4.7.5", "4.7.5", "4.7.5", "4.7.5"),
    # secure matches the next-hop domain or a name under it: mx1.dest.example is under
    # dest.example (smtp_tls_secure_cert_match = nexthop, dot-nexthop)
    "secure": ("4.7.4", "tls", "4.7.5", "4.7.5", "4.7.5", "4.7.5", "4.7.5"),
}
KINDS = (
    "not-offered",
    "good",
    "expired",
    "not-yet-valid",
    "self-signed",
    "untrusted",
    "wrong-name",
)


def outcome(level: str, kind: str, **kw: object) -> str:
    offered = kind != "not-offered"
    cert = FAULTS["good" if kind == "not-offered" else kind]
    p = plan(
        level=level,
        offered=offered,
        cert=cert,
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
        **kw,  # type: ignore[arg-type]
    )
    if p.failure is not None:
        assert p.starttls == "require"
        return p.failure.dsn
    return "tls" if p.encrypted else "clear"


@pytest.mark.parametrize("level", list(EXPECTED))
@pytest.mark.parametrize("kind", KINDS)
def test_each_level_against_each_failure_kind(level: str, kind: str) -> None:
    assert outcome(level, kind) == EXPECTED[level][KINDS.index(kind)]


def test_postfix_texts_and_codes() -> None:
    p = plan(
        level="encrypt",
        offered=False,
        cert=None,
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
    )
    assert p.failure is not None
    assert (p.failure.code // 100, p.failure.dsn) == (4, "4.7.4")
    assert p.failure.text == f"TLS is required, but was not offered by host {SERVER}"
    assert p.result == "starttls-not-supported"
    p = plan(
        level="verify",
        offered=True,
        cert=FAULTS["expired"],
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
    )
    assert p.failure is not None and p.failure.code // 100 == 4
    assert (p.failure.dsn, p.failure.text) == ("4.7.5", "Server certificate not verified")
    assert p.result == "certificate-expired"


@pytest.mark.parametrize(
    ("kind", "result"),
    [
        ("expired", "certificate-expired"),
        ("not-yet-valid", "certificate-expired"),
        ("self-signed", "certificate-not-trusted"),
        ("untrusted", "certificate-not-trusted"),
        ("wrong-name", "certificate-host-mismatch"),
    ],
)
def test_rfc_8460_result_types(kind: str, result: str) -> None:
    p = plan(
        level="verify",
        offered=True,
        cert=FAULTS[kind],
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
    )
    assert p.result == result


def test_secure_wants_the_next_hop_domain_not_just_the_mx_name() -> None:
    cert = Certificate(("mx1.hosting.example",), 0.0, math.inf, "k1")
    kw = dict(offered=True, cert=cert, now=NOW, server=SERVER, domain="dest.example")
    assert plan(level="verify", mx_name="mx1.hosting.example", **kw).failure is None  # type: ignore[arg-type]
    secure = plan(level="secure", mx_name="mx1.hosting.example", **kw)  # type: ignore[arg-type]
    assert secure.failure is not None and secure.result == "certificate-host-mismatch"


# --- DANE ---------------------------------------------------------------------------------

EE = (Tlsa.parse("3 1 1 k1"),)
STALE = (Tlsa.parse("3 1 1 k0"),)
TA = (Tlsa.parse("2 1 1 ca1"),)


@pytest.mark.parametrize(
    ("tlsa", "kind", "expected"),
    [
        # no TLSA records: dane is may (smtp_tls_policy.c)
        ((), "not-offered", "clear"),
        ((), "expired", "tls"),
        # only unusable records (PKIX-EE, usage 1): encrypt
        ((Tlsa.parse("1 1 1 k1"),), "not-offered", "4.7.4"),
        ((Tlsa.parse("1 1 1 k1"),), "self-signed", "tls"),
        # DANE-EE that matches: names and dates ignored (RFC 7672 section 3.1.1)
        (EE, "good", "tls"),
        (EE, "expired", "tls"),
        (EE, "self-signed", "tls"),
        (EE, "wrong-name", "tls"),
        (EE, "not-offered", "4.7.4"),
        # a stale record after a key rollover
        (STALE, "good", "4.7.5"),
        # DANE-TA: the issuer pinned, names and dates checked (RFC 7672 section 3.1.2)
        (TA, "good", "tls"),
        (TA, "untrusted", "4.7.5"),  # issuer ca9, not the pinned ca1
        (TA, "expired", "4.7.5"),
        (TA, "wrong-name", "4.7.5"),
    ],
)
def test_dane(tlsa: tuple[Tlsa, ...], kind: str, expected: str) -> None:
    assert outcome("dane", kind, tlsa=tlsa) == expected


def test_dane_mismatch_reports_tlsa_invalid_and_the_policy_type() -> None:
    p = plan(
        level="dane",
        offered=True,
        cert=GOOD,
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
        tlsa=STALE,
    )
    assert (p.result, p.policy_type, p.level) == ("tlsa-invalid", "tlsa", "dane")


# --- MTA-STS --------------------------------------------------------------------------------


def sts(mode: str, mx: tuple[str, ...] = ("*.dest.example",)) -> StsPolicy:
    return StsPolicy(mode, mx, 86400.0, "1")


@pytest.mark.parametrize(
    ("mode", "kind", "expected", "result"),
    [
        ("enforce", "good", "tls", "success"),
        ("enforce", "expired", "4.7.5", "certificate-expired"),
        ("enforce", "wrong-name", "4.7.5", "certificate-host-mismatch"),
        ("enforce", "not-offered", "4.7.4", "starttls-not-supported"),
        # testing: report, deliver anyway (RFC 8461 section 5)
        ("testing", "expired", "tls", "certificate-expired"),
        ("testing", "not-offered", "clear", "starttls-not-supported"),
        ("testing", "good", "tls", "success"),
        # none: as if there were no policy
        ("none", "not-offered", "clear", "starttls-not-supported"),
    ],
)
def test_mta_sts_on_top_of_may(mode: str, kind: str, expected: str, result: str) -> None:
    offered = kind != "not-offered"
    p = plan(
        level="may",
        offered=offered,
        cert=FAULTS["good" if not offered else kind],
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
        sts=sts(mode),
    )
    got = p.failure.dsn if p.failure is not None else ("tls" if p.encrypted else "clear")
    assert (got, p.result) == (expected, result)
    assert p.policy_type == ("no-policy-found" if mode == "none" else "sts")


def test_mta_sts_enforce_refuses_an_mx_the_policy_does_not_list() -> None:
    p = plan(
        level="may",
        offered=True,
        cert=GOOD,
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
        sts=sts("enforce", ("mx.other.example",)),
    )
    assert p.failure is not None and p.failure.dsn == "4.7.5"
    assert p.result == "validation-failure"


def test_mta_sts_fetch_error_without_a_cached_policy_delivers_as_without_one() -> None:
    p = plan(
        level="may",
        offered=False,
        cert=None,
        now=NOW,
        server=SERVER,
        mx_name=MX,
        domain="dest.example",
        sts_fetch_failed=True,
    )
    assert p.failure is None and not p.encrypted
    assert (p.policy_type, p.result) == ("sts", "sts-policy-fetch-error")


def test_wildcards_match_one_label() -> None:
    assert name_matches("*.dest.example", "mx1.dest.example")
    assert not name_matches("*.dest.example", "a.mx1.dest.example")
    assert not name_matches("*.dest.example", "dest.example")
    assert name_matches("MX1.Dest.Example.", "mx1.dest.example")


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown TLS security level 'strict'"):
        plan(
            level="strict",
            offered=True,
            cert=GOOD,
            now=NOW,
            server=SERVER,
            mx_name=MX,
            domain="dest.example",
        )
