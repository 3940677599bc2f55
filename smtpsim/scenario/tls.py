"""TLS between servers in the scenario format: a host's certificate and TLSA records,
a domain's MTA-STS policy, and the TLS incidents.

A host's ``tls`` block says what it presents when a client starts TLS (names,
validity window in simulated time, issuer trusted or not, self-signed) and which
TLSA records (RFC 7672, DNSSEC assumed) are published at ``_25._tcp.<its name>``::

    hosts:
      mx1:
        role: mx
        postfix: {smtpd_tls_security_level: may}
        tls:
          certificate: {not_after: 2d, key: mx1-2025}
          tlsa: ["3 1 1 mx1-2025"]

A zone's ``mta_sts`` block is the domain's MTA-STS policy (RFC 8461) and its TXT
record's id; senders with ``smtp_tls_mta_sts: true`` fetch it over HTTPS and cache it
for ``max_age``. The senders' side is ``smtp_tls_security_level`` and
``smtp_tls_policy_maps`` under ``postfix``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field

from .base import Domain, Model, Name, field
from .units import Duration

__all__ = [
    "TLS_LEVELS",
    "CertificateChange",
    "CertificateSpec",
    "HostTls",
    "MtaSts",
    "MtaStsChange",
    "TlsaChange",
]

# Postfix's smtp_tls_security_level values modelled (smtpsim.mail.tls.LEVELS).
TLS_LEVELS = ("none", "may", "encrypt", "dane", "verify", "secure")
TlsLevel = Literal["none", "may", "encrypt", "dane", "verify", "secure"]

_TLSA = re.compile(r"^[0-3] [01] [012] \S+$")


def _tlsa_text(value: object) -> object:
    if isinstance(value, str) and not _TLSA.match(" ".join(value.split())):
        raise ValueError(
            "expected a TLSA record 'USAGE SELECTOR MATCHING DATA' such as '3 1 1 mx1-key' "
            f"(usage 0-3, selector 0-1, matching type 0-2), got {value!r}"
        )
    return " ".join(value.split()) if isinstance(value, str) else value


TlsaRecord = Annotated[str, BeforeValidator(_tlsa_text)]


class CertificateSpec(Model):
    """The certificate a host presents after STARTTLS."""

    names: tuple[Domain, ...] | None = field(
        None,
        description="the names it is valid for (wildcards *.example.com allowed); default: "
        "the host's name",
    )
    not_before: Duration = field(0.0, description="start of its validity (simulated time)")
    not_after: Duration | None = field(
        None, description="end of its validity (simulated time); none: past the end of the run"
    )
    key: str | None = field(
        None,
        description="its public key's identity, what a DANE-EE '3 1 1' record pins; "
        "default '<host key>-key'",
    )
    issuer: str = field(
        "public-ca", description="the issuing CA's key identity (what a DANE-TA '2 1 1' pins)"
    )
    trusted: bool = field(
        True, description="whether the issuer is in the senders' trust store (WebPKI)"
    )
    self_signed: bool = field(False, description="a self-signed certificate (never trusted)")


class HostTls(Model):
    """What a host presents for TLS, and its TLSA records."""

    certificate: CertificateSpec = Field(
        default_factory=CertificateSpec, description="the server certificate"
    )
    tlsa: tuple[TlsaRecord, ...] = field(
        (),
        description="TLSA records at _25._tcp.<host name> (RFC 7672, DNSSEC-signed): "
        "'3 1 1 KEY' pins the certificate's key (DANE-EE), '2 1 1 ISSUER' its issuer "
        "(DANE-TA); usages 0 and 1 are unusable for SMTP",
    )


class MtaSts(Model):
    """A domain's MTA-STS policy (RFC 8461 section 3.2) and its publication."""

    mode: Literal["enforce", "testing", "none"] = field(
        description="enforce: deliver only over validated TLS to a listed MX; testing: "
        "deliver anyway and report failures; none: no policy"
    )
    mx: tuple[str, ...] = field(
        description="MX host name patterns (a wildcard *.example.com matches one label)",
        min_length=1,
    )
    max_age: Duration = field("1w", description="how long senders cache the policy")
    id: str = field("1", description="the id in the _mta-sts TXT record (RFC 8461 section 3.1)")
    fetch_time: Duration = field(
        "200ms", description="how long an HTTPS fetch of the policy takes (DNS, TCP, TLS, GET)"
    )
    fetch_timeout: Duration = field(
        "10s", description="how long a sender waits when the policy host does not answer"
    )


class CertificateChange(Model):
    """A host presents another certificate (a replacement, or a renewal)."""

    host: Name = field(description="host key")
    names: tuple[Domain, ...] | None = field(None, description="new names (default: unchanged)")
    not_before: Duration | None = field(None, description="new start of validity")
    not_after: Duration | None = field(None, description="new end of validity")
    key: str | None = field(None, description="new key identity (a new key: DANE-EE pins break)")
    issuer: str | None = field(None, description="new issuer key identity")
    trusted: bool | None = field(None, description="new issuer trusted or not")
    self_signed: bool | None = field(None, description="self-signed or not")


class TlsaChange(Model):
    """A host's TLSA records change (or, left alone in a rollover, do not)."""

    host: Name = field(description="host key")
    records: tuple[TlsaRecord, ...] = field(description="the TLSA records during the window")


class MtaStsChange(Model):
    """A domain's MTA-STS policy changes; senders see it when they fetch it again."""

    zone: Domain = field(description="the domain")
    mode: Literal["enforce", "testing", "none"] | None = field(None, description="new mode")
    mx: tuple[str, ...] | None = field(None, description="new MX patterns")
    max_age: Duration | None = field(None, description="new max_age")
    id: str | None = field(
        None,
        description="new TXT record id: senders fetch the policy again at their next "
        "delivery; unchanged, they keep their cached policy until its max_age",
    )
