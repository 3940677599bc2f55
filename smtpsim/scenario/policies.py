"""Receiving policies of a host, sender-side retry behaviour, and DNSBL listing
rules, as scenario data.

A host's ``policies`` is a list of one-key mappings, checked in Postfix's order
whatever order they are written in (anvil rate limits, then recipients, DNSBLs,
SPF, mailbox quota, greylisting; the spam filter at the end of data)::

    policies:
      - dnsbl: {zones: [zen.dnsbl.example], at: rcpt}
      - greylisting: {delay: 5min}
      - rate_limit: {connections: 20, message_rate: 100}
      - mailbox_full: {share: 0.5%}
      - spam_filter: {threshold: 5, default: {mean: 1.0, sd: 1.5}}
      - spf: {dmarc: true}

``retry`` names how a host's (or a flow's) MTA retries: ``postfix`` (its queue
manager's own backoff, the default), ``exim`` (Debian's default rule), one of the
provider-like profiles measured under greylisting (``persistent``, ``frequent``,
``impatient``), or ``{exim: "F,2h,15m; G,16h,1h,1.5; F,4d,6h"}``.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, model_validator

from .base import Domain, Kinds, Model, Name, OneOf, field
from .bounds import MAX_COUNT, MAX_SCORE
from .units import Duration, Fraction

__all__ = ["POLICY_KINDS", "RETRY_PRESETS", "ListingRule", "PolicySpec", "RetrySpec"]

RETRY_PRESETS = ("postfix", "exim", "persistent", "frequent", "impatient")
POLICY_KINDS = ("rate_limit", "dnsbl", "spf", "mailbox_full", "greylisting", "spam_filter")
"""In the order a server checks them (Postfix: anvil, restrictions, policy service)."""


class DnsblPolicy(Model):
    """Refuse clients listed on DNSBL zones (Postfix ``reject_rbl_client``)."""

    zones: tuple[Domain, ...] = field(
        min_length=1, description="DNSBL zones (dns entries with dnsbl: true)"
    )
    at: Literal["rcpt", "connect"] = field(
        "rcpt", description="rcpt: 554 5.7.1 to each RCPT; connect: a 554 greeting"
    )


class GreylistPolicy(Model):
    """postgrey 1.37's greylisting (triplets by client /24, sender, recipient)."""

    delay: Duration = field("5min", description="how long a new triplet is refused (450 4.2.0)")
    retry_window: Duration = field("2d", description="a first retry later than this starts over")
    max_age: Duration = field("35d", description="triplets unseen this long are forgotten")
    auto_whitelist: int = field(
        5,
        ge=0,
        le=MAX_COUNT,
        description="successful deliveries after which a client network passes (0: off)",
    )
    by_host: bool = field(False, description="triplets by client address instead of /24 network")


class RateLimitPolicy(Model):
    """anvil's per-client limits (``smtpd_client_*_limit``); 0 means no limit."""

    connections: int = field(
        50, ge=0, le=MAX_COUNT, description="simultaneous connections per client"
    )
    connection_rate: int = field(0, ge=0, le=MAX_COUNT, description="connections per time unit")
    message_rate: int = field(0, ge=0, le=MAX_COUNT, description="messages (MAIL) per time unit")
    recipient_rate: int = field(
        0, ge=0, le=MAX_COUNT, description="recipients (RCPT) per time unit"
    )
    time_unit: Duration = field("60s", description="anvil_rate_time_unit")
    auth_rate: int = field(
        0,
        ge=0,
        le=MAX_COUNT,
        description="AUTH commands per time unit, failed or not (smtpd_client_auth_rate_limit): "
        "450 4.7.1 Error: too many AUTH commands from IP",
    )


class MailboxFullPolicy(Model):
    """A share of the mailboxes of the host's domains is full."""

    share: Fraction = field(description="share of the mailboxes that are full")
    permanent: bool = field(False, description="552 5.2.2 instead of 452 4.2.2")


class SenderClass(Model):
    """Spam scores of a class of senders: normal(mean, sd) per message."""

    mean: float = field(ge=-MAX_SCORE, le=MAX_SCORE, description="mean score")
    sd: float = field(ge=0.0, le=MAX_SCORE, description="standard deviation of the score")
    domains: tuple[Domain, ...] = field((), description="sender domains in this class")


class SpamFilterPolicy(Model):
    """A content filter at the end of data: reject at or above the threshold."""

    threshold: float = field(
        5.0, ge=-MAX_SCORE, le=MAX_SCORE, description="reject (550 5.7.1) at or above this score"
    )
    default: SenderClass = field(
        {"mean": 1.0, "sd": 1.5}, description="scores of senders in no class"
    )
    classes: dict[Name, SenderClass] = field({}, description="sender classes by name")


class SpfPolicy(Model):
    """SPF (RFC 7208) of the envelope sender, and DMARC p=reject at the end of data."""

    dmarc: bool = field(True, description="enforce a sender domain's dmarc: reject")
    reject_fail: bool = field(False, description="also refuse SPF fail at RCPT")


class PolicySpec(OneOf):
    """One receiving policy: exactly one of its kinds."""

    KINDS = Kinds("policy", POLICY_KINDS)

    rate_limit: RateLimitPolicy | None = field(None, description="anvil connection and rate limits")
    dnsbl: DnsblPolicy | None = field(None, description="DNSBL checks")
    spf: SpfPolicy | None = field(None, description="SPF and DMARC")
    mailbox_full: MailboxFullPolicy | None = field(None, description="full mailboxes")
    greylisting: GreylistPolicy | None = field(None, description="greylisting")
    spam_filter: SpamFilterPolicy | None = field(None, description="a spam filter")


_EXIM_TIME = r"\d+(?:\.\d+)?[smhdw]?"
_EXIM_RULE = re.compile(
    rf"^\s*(?:F,{_EXIM_TIME},{_EXIM_TIME}|G,{_EXIM_TIME},{_EXIM_TIME},"
    rf"\d+(?:\.\d+)?)\s*$"
)


def _retry_from_yaml(value: object) -> object:
    return {"preset": value} if isinstance(value, str) else value


def _check_exim(value: object) -> object:
    if isinstance(value, str):
        for rule in value.split(";"):
            if not _EXIM_RULE.match(rule):
                raise ValueError(
                    f"expected Exim retry rules such as 'F,2h,15m; G,16h,1h,1.5; F,4d,6h', "
                    f"got {rule.strip()!r}"
                )
    return value


class RetrySpec(Model):
    """How an MTA retries: a preset, or Exim rules."""

    preset: Literal["postfix", "exim", "persistent", "frequent", "impatient"] | None = field(
        None, description="postfix, exim, persistent, frequent or impatient"
    )
    exim: Annotated[str | None, BeforeValidator(_check_exim)] = field(
        None, description="Exim retry rules, e.g. 'F,2h,15m; G,16h,1h,1.5; F,4d,6h'"
    )

    @model_validator(mode="after")
    def _one(self) -> RetrySpec:
        if (self.preset is None) == (self.exim is None):
            raise ValueError("give a preset name or exim rules")
        return self


Retry = Annotated[RetrySpec, BeforeValidator(_retry_from_yaml)]


class ListingRule(Model):
    """When a DNSBL lists a sender by itself: spamtrap hits from one address."""

    hits: int = field(
        ge=1, le=MAX_COUNT, description="spamtrap hits within the window that list the address"
    )
    window: Duration = field("1h", description="the window the hits are counted in")
    duration: Duration = field("1d", description="how long the listing lasts")
