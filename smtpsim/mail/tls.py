"""TLS between servers as simulated facts: certificates, DANE TLSA records, MTA-STS
policies, and what a sending MTA does with them under its TLS security level.

Nothing here does cryptography. A receiving host's certificate is a value (its names,
its validity window in simulated seconds, whether it chains to a CA senders trust,
whether it is self-signed, and the identities of its public key and of its issuer's
key, which is what DANE records pin). ``plan`` decides, before a session starts, what
the sending MTA will do on it, the way Postfix's SMTP client decides:

- the level in force for this server (``smtp_tls_security_level``, or the
  destination's ``smtp_tls_policy_maps`` entry), raised by an MTA-STS policy in
  ``enforce`` mode (RFC 8461 section 5: deliver only over TLS to an MX the policy
  lists, with a certificate valid for its name: Postfix with an MTA-STS resolver in
  ``smtp_tls_policy_maps`` turns such a policy into ``secure match=<mx patterns>``),
  or set by DANE: level ``dane`` with TLSA records for the MX host is mandatory TLS
  authenticated by those records; without TLSA records it is ``may`` (Postfix
  ``smtp_tls_policy.c``: "no TLSA records found" makes the destination non-DANE, level
  ``may``; TLSA records of none of the usable kinds make it ``encrypt``); where the MX
  host has usable TLSA records, DANE decides and an MTA-STS policy is not consulted
  (RFC 8461 section 2 leaves DANE in charge where both apply);
- levels above ``may`` require TLS (Postfix ``tls.h``, ``TLS_REQUIRED_BY_SECURITY_LEVEL``):
  a server that does not offer STARTTLS ends the session with ``4.7.4 TLS is required,
  but was not offered by host NAME[IP]`` (``smtp_proto.c``), a site failure: the next
  MX is tried and, when none is left, the mail is deferred;
- levels above ``encrypt`` must match the certificate (``TLS_MUST_MATCH``): a
  certificate that fails ends the session, after the handshake, with ``4.7.5 Server
  certificate not verified`` (``smtp_proto.c``), again a site failure;
- ``may`` and ``encrypt`` never check the certificate (Postfix's opportunistic and
  unauthenticated mandatory TLS): an expired or self-signed certificate is used as it
  is; under ``may`` a server without STARTTLS gets the mail in the clear.

The verdicts are named with RFC 8460's result types (section 4.3), as Postfix's
TLSRPT support reports them (``smtp_proto.c``: ``TLSRPT_STARTTLS_NOT_SUPPORTED``,
``TLSRPT_CERTIFICATE_HOST_MISMATCH`` or ``TLSRPT_CERTIFICATE_NOT_TRUSTED``).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import Reply

__all__ = [
    "LEVELS",
    "POLICY_TYPES",
    "REQUIRED",
    "RESULTS",
    "Certificate",
    "StsPolicy",
    "TlsPlan",
    "Tlsa",
    "mx_pattern_matches",
    "name_matches",
    "plan",
]

# Postfix's smtp_tls_security_level values modelled (postconf(5)), weakest first;
# "fingerprint", "half-dane" and "dane-only" are not.
LEVELS = ("none", "may", "encrypt", "dane", "verify", "secure")
# The levels that refuse to go on in the clear (tls.h: TLS_REQUIRED_BY_SECURITY_LEVEL,
# every level above "may"; "dane" only with TLSA records, which ``plan`` sees to).
REQUIRED = frozenset({"encrypt", "dane", "verify", "secure", "sts"})

# What a session's TLS came to: "success" (TLS, and the policy in force satisfied),
# RFC 8460 section 4.3's failure types, and "not-attempted" (level none).
RESULTS = (
    "success",
    "starttls-not-supported",
    "certificate-expired",
    "certificate-not-trusted",
    "certificate-host-mismatch",
    "tlsa-invalid",
    "validation-failure",
    "sts-policy-fetch-error",
    "not-attempted",
)
POLICY_TYPES = ("sts", "tlsa", "no-policy-found")  # RFC 8460 section 4.4, "policy-type"


@dataclass(frozen=True, slots=True)
class Certificate:
    """A server certificate as facts (times are simulated seconds).

    ``key`` is the identity of its public key (what a DANE-EE ``3 1 1`` record pins),
    ``issuer`` that of the issuing CA's key (what a DANE-TA ``2 1 1`` record pins);
    ``trusted``: it chains to a CA in the senders' trust store (the WebPKI).
    """

    names: tuple[str, ...]
    not_before: float
    not_after: float
    key: str
    issuer: str = "public-ca"
    trusted: bool = True
    self_signed: bool = False

    def current(self, now: float) -> bool:
        return self.not_before <= now <= self.not_after

    def pkix_failure(self, now: float) -> str | None:
        """Why WebPKI validation fails at ``now`` (an RFC 8460 result type), or None.
        A self-signed or untrusted chain is reported before the dates, as OpenSSL's
        chain building fails before it checks validity."""
        if self.self_signed or not self.trusted:
            return "certificate-not-trusted"
        if not self.current(now):
            return "certificate-expired"
        return None

    def valid_for(self, name: str) -> bool:
        return any(name_matches(pattern, name) for pattern in self.names)


@dataclass(frozen=True, slots=True)
class Tlsa:
    """One TLSA record of an MX host (``_25._tcp.<mx>``, RFC 7672 section 2.2), with
    DNSSEC assumed. ``usage`` 3 (DANE-EE) pins the server's key, 2 (DANE-TA) its
    issuer's key; 0 and 1 (PKIX-TA, PKIX-EE) are unusable for SMTP (RFC 7672 section
    3.1.3). ``data`` is the pinned key's identity (selector 1, matching type 1: the
    SHA-256 of the SubjectPublicKeyInfo, abstracted)."""

    usage: int
    data: str

    @classmethod
    def parse(cls, text: str) -> Tlsa:
        """``"3 1 1 KEY"``: usage, selector, matching type, data."""
        parts = text.split()
        if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
            raise ValueError(f"expected a TLSA record such as '3 1 1 mx1-key', got {text!r}")
        usage = int(parts[0])
        if usage > 3:
            raise ValueError(f"TLSA usage must be 0 to 3 (RFC 6698), got {usage}")
        return cls(usage, parts[3])

    @property
    def usable(self) -> bool:
        return self.usage in (2, 3)

    def matches(self, cert: Certificate) -> bool:
        return self.data == (cert.key if self.usage == 3 else cert.issuer)


@dataclass(frozen=True, slots=True)
class StsPolicy:
    """An MTA-STS policy (RFC 8461 section 3.2) and the ``id`` of its TXT record
    (section 3.1), which tells senders to fetch it again when it changes."""

    mode: str  # enforce, testing or none
    mx: tuple[str, ...]
    max_age: float
    id: str

    def lists(self, mx_name: str) -> bool:
        return any(mx_pattern_matches(p, mx_name) for p in self.mx)


@dataclass(frozen=True, slots=True)
class TlsPlan:
    """What the sending MTA does about TLS on one session.

    ``starttls`` is the session's mode (``no``, ``may`` or ``require``, as
    ``ClientSession`` takes it); ``failure`` the reply that ends the session where TLS
    falls short of the policy (STARTTLS missing, or the certificate after the
    handshake), None when the session goes on; ``result`` the RFC 8460 result type
    (``success`` or a failure, reported even when the policy does not enforce it, as
    in MTA-STS ``testing`` mode); ``encrypted`` whether the mail crosses the link
    over TLS; ``level`` the level in force (``sts`` for an enforced MTA-STS policy).
    """

    starttls: str
    failure: Reply | None
    result: str
    encrypted: bool
    level: str
    policy_type: str


def name_matches(pattern: str, name: str) -> bool:
    """A certificate name against a host name: exact, or a wildcard ``*.example.com``
    standing for exactly one left-most label (RFC 6125 section 6.4.3); case-blind."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = name.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == name


def mx_pattern_matches(pattern: str, mx_name: str) -> bool:
    """An MTA-STS ``mx`` pattern against an MX host name (RFC 8461 section 4.1: a
    wildcard matches one left-most label)."""
    return name_matches(pattern, mx_name)


_NOT_VERIFIED = Reply(451, "4.7.5", "Server certificate not verified")


def _not_offered(server: str) -> Reply:
    return Reply(451, "4.7.4", f"TLS is required, but was not offered by host {server}")


def _check(
    level: str,
    cert: Certificate,
    now: float,
    mx_name: str,
    domain: str,
    tlsa: tuple[Tlsa, ...],
    sts: StsPolicy | None,
) -> str | None:
    """The RFC 8460 failure type of ``cert`` under ``level``, or None if it passes."""
    if level == "dane":
        # RFC 7672 section 3.1.1: a DANE-EE match ignores names and dates; section
        # 3.1.2: DANE-TA needs the name (MX host or next-hop domain) and the dates.
        for record in tlsa:
            if not record.usable or not record.matches(cert):
                continue
            if record.usage == 3:
                return None
            if cert.current(now) and (cert.valid_for(mx_name) or cert.valid_for(domain)):
                return None
        return "tlsa-invalid"
    if level == "sts":
        if sts is None or not sts.lists(mx_name):
            return "validation-failure"  # RFC 8461 section 4.1: an MX not in the policy
        return cert.pkix_failure(now) or (
            None if cert.valid_for(mx_name) else "certificate-host-mismatch"
        )
    failure = cert.pkix_failure(now)
    if failure is not None:
        return failure
    if level == "verify":  # smtp_tls_verify_cert_match = hostname
        return None if cert.valid_for(mx_name) else "certificate-host-mismatch"
    # secure: smtp_tls_secure_cert_match = nexthop, dot-nexthop
    name_ok = any(
        name_matches(p, domain) or p.lower().rstrip(".").endswith("." + domain.lower())
        for p in cert.names
    )
    return None if name_ok else "certificate-host-mismatch"


def plan(
    *,
    level: str,
    offered: bool,
    cert: Certificate | None,
    now: float,
    server: str,
    mx_name: str,
    domain: str,
    tlsa: tuple[Tlsa, ...] = (),
    sts: StsPolicy | None = None,
    sts_fetch_failed: bool = False,
) -> TlsPlan:
    """What the client does on one session (module docstring).

    ``level`` is the sender's level for this destination (``LEVELS``); ``offered``
    whether the server's EHLO reply will list STARTTLS (as the client sees it: an
    attacker may have removed it); ``cert`` the certificate the server presents
    (None if it offers no TLS); ``server`` its name as Postfix logs it,
    ``NAME[IP]``; ``tlsa`` the MX host's TLSA records; ``sts`` the domain's MTA-STS
    policy as the sender holds it (fetched or cached); ``sts_fetch_failed``: the
    sender found the domain's TXT record but could not fetch its policy and holds
    none (RFC 8461 section 5: deliver as if there were no policy).
    """
    if level not in LEVELS:
        raise ValueError(f"unknown TLS security level {level!r}; known: {', '.join(LEVELS)}")
    policy_type = "no-policy-found"
    enforced = level
    if level == "dane":
        if any(r.usable for r in tlsa):
            policy_type = "tlsa"
        elif tlsa:
            enforced = "encrypt"  # smtp_tls_policy.c: "TLSA records unusable"
        else:
            enforced = "may"  # smtp_tls_policy.c: "no TLSA records found"
    testing: StsPolicy | None = None
    if policy_type == "no-policy-found" and sts is not None and sts.mode != "none":
        policy_type = "sts"
        if sts.mode == "enforce":
            enforced = "sts"
        else:
            testing = sts  # RFC 8461 section 5: report failures, deliver anyway
    elif policy_type == "no-policy-found" and sts_fetch_failed:
        policy_type = "sts"  # RFC 8460 reports a fetch error against the STS policy
    if enforced == "none":
        return TlsPlan("no", None, "not-attempted", False, enforced, policy_type)
    if sts_fetch_failed and policy_type == "sts" and enforced != "sts":
        # No policy to apply (RFC 8461 section 5): the session runs at the base level,
        # and the report says why the domain's policy was not applied.
        base = plan(
            level=level,
            offered=offered,
            cert=cert,
            now=now,
            server=server,
            mx_name=mx_name,
            domain=domain,
            tlsa=tlsa,
        )
        result = "sts-policy-fetch-error" if base.failure is None else base.result
        return TlsPlan(base.starttls, base.failure, result, base.encrypted, base.level, "sts")
    required = enforced in REQUIRED
    if not offered or cert is None:
        failure = _not_offered(server) if required else None
        mode = "require" if required else "may"
        return TlsPlan(mode, failure, "starttls-not-supported", False, enforced, policy_type)
    if enforced in ("may", "encrypt"):
        result = "success"
        if testing is not None:
            result = _check("sts", cert, now, mx_name, domain, tlsa, testing) or "success"
        mode = "require" if required else "may"
        return TlsPlan(mode, None, result, True, enforced, policy_type)
    why = _check(enforced, cert, now, mx_name, domain, tlsa, sts)
    if why is None:
        return TlsPlan("require", None, "success", True, enforced, policy_type)
    return TlsPlan("require", _NOT_VERIFIED, why, True, enforced, policy_type)
