"""Incidents: what goes wrong, and when, as a timeline separate from the network.

An incident is one kind key with its target, plus its timing::

    incidents:
      - {link_down: [mx-small, internet], at: 20h, for: 45min}
      - {host_down: {host: mx1, mode: blackhole}, at: 6h, until: 8h}
      - {server_errors: {host: mx1, phase: rcpt, reply: "421 4.7.0 Try again later",
                         probability: 0.3}, at: 1h, for: 2h}
      - {dnsbl_list: {zone: zen.dnsbl.example, ip: 192.0.2.20}, at: 6h, for: 6h}
      - {dns_failure: bigmail.example, every: 1d, for: 10min}
      - {host_crash: {host: out, queue: lost}, random: {rate: 1/d, duration: 30min}}
      - {access_down: mx1, at: 9h, for: 30min}       # its POP3/IMAP service
      - {access_slow: {host: mx1, factor: 20}, at: 8h, for: 1h}
      - {certificate_change: {host: mx1, key: mx1-2026}, at: 1d}   # TLS (issue 14)
      - {starttls_stripped: [internet, transit], at: 6h, for: 12h}

Timing: ``at`` (default 0) and an end, ``for`` (a duration) or ``until`` (a time);
without an end the incident lasts to the end of the run. ``every`` repeats the window
from ``at``; ``random`` draws Poisson onsets (``rate``) from ``at`` with a duration
distribution.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from .base import Domain, Kinds, Model, Name, OneOf, field
from .bounds import MAX_COUNT, MAX_FACTOR
from .distributions import DurationDist
from .dns import mx_from_yaml
from .retrieval import AccessDown, AccessSlow
from .tls import CertificateChange, MtaStsChange, TlsaChange
from .units import Duration, Fraction, Rate

__all__ = ["INCIDENT_KINDS", "Incident"]

PHASES = ("connect", "helo", "mail", "rcpt", "data", "end-of-data")


# The grammar of a one-line reply, as ``smtpsim.protocol.Reply.parse`` reads it: the
# scenario layer is pure data and does not import the protocol core; a test checks
# that the two agree.
_REPLY = re.compile(r"^([2-5]\d\d)(?: ([245])\.\d{1,3}\.\d{1,3})?(?: .*)?$")


def _reply_text(value: object) -> object:
    if isinstance(value, str):
        m = _REPLY.match(value.strip())
        if m is None:
            raise ValueError(f"expected a reply such as '421 4.7.0 Try again later', got {value!r}")
        if m.group(2) is not None and m.group(2) != m.group(1)[0]:
            raise ValueError(f"the enhanced code of {value!r} does not fit its reply code")
    return value


def _ip_or_network(value: object) -> object:
    if isinstance(value, str):
        try:
            return str(ipaddress.IPv4Network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"expected an IPv4 address or network such as 192.0.2.20 or 192.0.2.0/24, "
                f"got {value!r}"
            ) from None
    return value


ReplyText = Annotated[str, BeforeValidator(_reply_text)]
IpOrNetwork = Annotated[str, BeforeValidator(_ip_or_network)]


def _short(field: str) -> BeforeValidator:
    """Accept ``kind: VALUE`` as ``kind: {field: VALUE}``."""

    def convert(value: object) -> object:
        return {field: value} if isinstance(value, str | list | tuple) else value

    return BeforeValidator(convert)


class LinkCongestion(Model):
    """A congested link: slower, thinner, lossier."""

    link: tuple[Name, Name] = field(description="the link, by its two ends")
    latency_factor: float = field(
        1.0, ge=1.0, le=MAX_FACTOR, description="one-way latency multiplied by this"
    )
    added_latency: Duration = field(0.0, description="and this added to it")
    bandwidth_factor: float = field(1.0, gt=0.0, le=1.0, description="capacity multiplied by this")
    loss: Fraction = field(0.0, description="connection attempts lost (and timing out) meanwhile")


class HostDown(Model):
    """A host's SMTP service is down."""

    host: Name = field(description="host key")
    mode: Literal["refuse", "blackhole"] = field(
        "refuse",
        description="refuse: connections are refused at once; blackhole: TCP is accepted "
        "but no greeting comes, so clients wait for their greeting timeout",
    )


class HostCrash(Model):
    """A host crashes and restarts at the end of the window."""

    host: Name = field(description="host key")
    queue: Literal["kept", "lost"] = field(
        "kept", description="kept: its queue survives the restart; lost: its mail is lost"
    )


class HostSlow(Model):
    """A host's server processing takes longer."""

    host: Name = field(description="host key")
    factor: float = field(gt=0.0, le=MAX_FACTOR, description="processing times multiplied by this")


class ServerErrors(Model):
    """A server answers a phase with a given reply, with some probability."""

    host: Name = field(description="host key")
    phase: Literal["connect", "helo", "mail", "rcpt", "data", "end-of-data"] = field(
        description="where the reply is given"
    )
    reply: ReplyText = field(description="the reply, e.g. '421 4.7.0 Try again later'")
    probability: Fraction = field(1.0, description="share of the commands that get it")


class DiskFull(Model):
    """A server's queue disk is full: ``452 4.3.1 Insufficient system storage`` at MAIL."""

    host: Name = field(description="host key")


class DnsFailure(Model):
    """DNS fails for now (4.4.3): a zone's servers (every resolver's lookups of that
    zone), or one host's resolver (all of that host's lookups)."""

    zone: Domain | None = field(None, description="the domain whose servers fail")
    resolver: Name | None = field(None, description="or: the host whose resolver fails")
    mode: Literal["servfail", "timeout"] = field(
        "servfail",
        description="servfail: answered at once; timeout: after the resolver's timeouts "
        "(5 s per try, 2 tries)",
    )

    @model_validator(mode="after")
    def _zone_or_resolver(self) -> DnsFailure:
        if (self.zone is None) == (self.resolver is None):
            raise ValueError("give a zone or a resolver (a host key), not both")
        return self


class DnsChange(Model):
    """New records for a zone; resolvers see them as their cached answers expire."""

    zone: Domain = field(description="the domain")
    mx: Annotated[dict[Name, int] | Literal["null"] | None, BeforeValidator(mx_from_yaml)] = field(
        None, description="the new MX records (host key: preference), 'null', or none"
    )
    a: Name | None = field(None, description="the new A host (for an implicit MX)")


class DnsblListing(Model):
    """An address or network listed on, or delisted from, a DNSBL zone."""

    zone: Domain = field(description="the DNSBL zone")
    ip: IpOrNetwork = field(description="an IPv4 address or network (192.0.2.0/24)")


class PolicySwitch(Model):
    """A receiving policy of a host switched on or off, or a rate limit changed."""

    host: Name = field(description="host key")
    policy: str = field(description="the policy's kind, as in the host's policies list")
    enabled: bool | None = field(None, description="on (true) or off (false) during the incident")
    connections: int | None = field(
        None, ge=0, le=MAX_COUNT, description="rate_limit: new connections limit"
    )
    connection_rate: int | None = field(
        None, ge=0, le=MAX_COUNT, description="rate_limit: new connection rate"
    )
    message_rate: int | None = field(
        None, ge=0, le=MAX_COUNT, description="rate_limit: new message rate"
    )
    recipient_rate: int | None = field(
        None, ge=0, le=MAX_COUNT, description="rate_limit: new recipient rate"
    )

    @model_validator(mode="after")
    def _something_to_do(self) -> PolicySwitch:
        limits = (self.connections, self.connection_rate, self.message_rate, self.recipient_rate)
        if self.enabled is None and all(v is None for v in limits):
            raise ValueError("say what changes: enabled, or a rate_limit's new limits")
        if self.policy != "rate_limit" and any(v is not None for v in limits):
            raise ValueError("only a rate_limit policy has limits to change")
        return self


class RandomOnsets(Model):
    """Incidents that start at random: Poisson onsets with a duration distribution."""

    rate: Rate = field(description="onsets per unit of time, e.g. 2/d")
    duration: DurationDist = field(description="how long each one lasts")


INCIDENT_KINDS = (
    "link_down",
    "link_congestion",
    "host_down",
    "host_crash",
    "host_slow",
    "server_errors",
    "disk_full",
    "dns_failure",
    "dns_change",
    "dnsbl_list",
    "dnsbl_delist",
    "policy",
    "access_down",
    "access_slow",
    "certificate_change",
    "tlsa_change",
    "mta_sts_change",
    "mta_sts_down",
    "starttls_stripped",
)


class Incident(OneOf):
    """One incident: exactly one kind key, and its timing."""

    KINDS = Kinds("incident", INCIDENT_KINDS, needs="an incident")

    link_down: tuple[Name, Name] | None = field(None, description="a link is down: its two ends")
    link_congestion: LinkCongestion | None = field(None, description="a link is congested")
    host_down: Annotated[HostDown | None, _short("host")] = field(
        None, description="a host's SMTP service is down (a host key, or host and mode)"
    )
    host_crash: Annotated[HostCrash | None, _short("host")] = field(
        None, description="a host crashes, its queue kept or lost"
    )
    host_slow: HostSlow | None = field(None, description="a host processes slowly")
    server_errors: ServerErrors | None = field(None, description="a server answers with errors")
    disk_full: Annotated[DiskFull | None, _short("host")] = field(
        None, description="a server's queue disk is full (a host key)"
    )
    dns_failure: Annotated[DnsFailure | None, _short("zone")] = field(
        None, description="DNS lookups fail (a domain, or zone or resolver, and mode)"
    )
    dns_change: DnsChange | None = field(None, description="a zone's records change")
    dnsbl_list: DnsblListing | None = field(None, description="an address is listed on a DNSBL")
    dnsbl_delist: DnsblListing | None = field(None, description="an address is delisted")
    policy: PolicySwitch | None = field(None, description="a host's policy is switched")
    access_down: Annotated[AccessDown | None, _short("host")] = field(
        None, description="a host's POP3/IMAP access service is down (a host key)"
    )
    access_slow: AccessSlow | None = field(
        None, description="a host's access service is congested (slower sessions)"
    )
    certificate_change: CertificateChange | None = field(
        None, description="a host presents another certificate (replacement, renewal)"
    )
    tlsa_change: TlsaChange | None = field(None, description="a host's TLSA records change")
    mta_sts_change: MtaStsChange | None = field(
        None, description="a domain's MTA-STS policy changes"
    )
    mta_sts_down: Domain | None = field(
        None, description="a domain's MTA-STS policy host is down: policy fetches fail"
    )
    starttls_stripped: tuple[Name, Name] | None = field(
        None,
        description="an attacker on a link (its two ends) removes STARTTLS from EHLO replies",
    )

    at: Duration = field(0.0, description="when it starts")
    for_: Duration | None = Field(None, alias="for", description="how long it lasts (or use until)")
    until: Duration | None = field(None, description="when it ends (or use for)")
    every: Duration | None = field(None, description="repeat the window with this period from at")
    random: RandomOnsets | None = field(None, description="random onsets instead of at")

    model_config = Model.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _a_sane_window(self) -> Incident:
        if self.for_ is not None and self.until is not None:
            raise ValueError("give either 'for' or 'until', not both")
        if self.until is not None and self.until <= self.at:
            raise ValueError(
                f"the incident ends (until {self.until:g} s) before it starts (at {self.at:g} s)"
            )
        if self.for_ is not None and self.for_ <= 0:
            raise ValueError("'for' must be positive: the incident would end before it starts")
        if self.every is not None:
            if self.for_ is None:
                raise ValueError("a recurring incident ('every') needs 'for'")
            if self.every <= self.for_:
                raise ValueError(f"'every' ({self.every:g} s) must be longer than 'for'")
        if self.random is not None and (self.every is not None or self.until is not None):
            raise ValueError("random onsets take their durations from 'random', not every/until")
        return self

    @property
    def end(self) -> float | None:
        """When a one-off window ends (``None``: at the end of the run)."""
        if self.until is not None:
            return self.until
        if self.for_ is not None:
            return self.at + self.for_
        return None
