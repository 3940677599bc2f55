"""People's mail clients (issue 13): their submission settings, and the listeners
(25, 587, 465) of the server they submit to.

A flow with ``clients`` models its senders' mail user agents: each sender has one
client profile (the population's ``settings``, or one of its ``misconfigured``
variants, by share), and each message is submitted by that client in a real SMTP
session against the listener on the chosen port. A client that cannot submit retries
``retry.limit`` times ``retry.interval`` apart, then gives up: its recipients end
``unsent`` with the reason the user sees.

Listener settings carry Postfix's parameter names (as ``-o`` overrides in master.cf):
``smtpd_tls_security_level`` (``encrypt`` answers ``530 5.7.0 Must issue a STARTTLS
command first``), ``smtpd_tls_wrappermode`` (implicit TLS, port 465) and
``smtpd_sasl_auth_enable`` (with it, relaying needs AUTH: ``554 5.7.1 <rcpt>: Relay
access denied``).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import Model, field
from .units import Duration, Fraction

__all__ = [
    "ClientRetry",
    "ClientSettings",
    "Listener",
    "MailClients",
    "Misconfiguration",
    "Port",
]

Port = Annotated[int, Field(ge=1, le=65535)]
Security = Literal["none", "starttls", "implicit-tls", "starttls-if-offered"]
Mechanism = Literal["none", "plain", "login"]


class Listener(Model):
    """One smtpd listener of a host (a master.cf service) and its policy."""

    smtpd_tls_security_level: Literal["none", "may", "encrypt"] = field(
        "none",
        description="none: no STARTTLS; may: offered; encrypt: required before any "
        "command but EHLO/HELO/STARTTLS/NOOP/HELP/QUIT (530 5.7.0), and AUTH only over TLS",
    )
    smtpd_tls_wrappermode: bool = field(
        False, description="implicit TLS from the first byte (port 465, RFC 8314)"
    )
    smtpd_sasl_auth_enable: bool = field(
        True,
        description="offer AUTH (PLAIN LOGIN); a wrong password gets 535 5.7.8 (Postfix "
        "smtpd_sasl_glue.c)",
    )
    smtpd_relay_restrictions: Literal["reject_unauth_destination", "defer_unauth_destination"] = (
        field(
            "reject_unauth_destination",
            description="what an unauthenticated client relaying gets: 554 5.7.1 <rcpt>: Relay "
            "access denied (reject_unauth_destination, as submission services set it), or the "
            "same text with 454 4.7.1 (defer_unauth_destination, Postfix's built-in default; "
            "smtpd_check.c)",
        )
    )


class ClientSettings(Model):
    """A mail client's outgoing-server settings."""

    server: str | None = field(
        None,
        description="host key or DNS name (an A record or a host's name) of the server; "
        "default: the flow's submit_to",
    )
    port: Port = field(587, description="TCP port: 25, 587 (submission) or 465 (submissions)")
    security: Security = field(
        "starttls",
        description="none, starttls (required), implicit-tls (port 465 style) or "
        "starttls-if-offered",
    )
    auth: Mechanism = field("plain", description="SASL mechanism: none, plain or login")
    password: Literal["right", "wrong"] = field(
        "right", description="whether the stored password is the right one"
    )


class Misconfiguration(Model):
    """A share of the population whose client differs from ``settings``."""

    share: Fraction = field(description="share of the senders with this client")
    label: str | None = field(None, description="a name for the group (default: its changes)")
    server: str | None = field(None, description="as settings.server")
    port: Port | None = field(None, description="as settings.port")
    security: Security | None = field(None, description="as settings.security")
    auth: Mechanism | None = field(None, description="as settings.auth")
    password: Literal["right", "wrong"] | None = field(None, description="as settings.password")


class ClientRetry(Model):
    """How a client retries a submission that failed, then gives up."""

    interval: Duration = field("5min", description="time between tries")
    limit: int = field(3, ge=0, le=1000, description="retries after the first try")


class MailClients(Model):
    """The mail user agents of a flow's senders."""

    settings: ClientSettings = Field(
        default_factory=ClientSettings, description="the settings most clients have"
    )
    misconfigured: tuple[Misconfiguration, ...] = field(
        (), description="shares of senders whose clients are set up differently"
    )
    blocked_ports: tuple[Port, ...] = field(
        (), description="ports the senders' access network blocks (connections time out)"
    )
    connect_timeout: Duration = field(
        "60s", description="how long a client waits for a TCP connection"
    )
    retry: ClientRetry = Field(
        default_factory=ClientRetry, description="retries, then the client gives up"
    )

    @model_validator(mode="after")
    def _check_shares(self) -> MailClients:
        total = sum(m.share for m in self.misconfigured)
        if total > 1.0 + 1e-9:
            raise ValueError(f"the misconfigured shares add up to {total:g}, more than 1")
        return self
