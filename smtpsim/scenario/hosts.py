"""Hosts of the simulated network and the links between them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Domain, IPv4, Model, field
from .bounds import MAX_COUNT, MAX_POPULATION
from .clients import Listener, Port
from .distributions import DurationDist
from .policies import PolicySpec, Retry
from .postfix import Postfix, Processing
from .retrieval import AccessService
from .tls import HostTls
from .units import Bandwidth, Fraction

__all__ = ["Host", "Link"]


class Host(Model):
    """A mail server (or resolver or DNSBL server) of the simulated network."""

    role: Literal["msa", "mta", "relay", "mx", "resolver", "dnsbl"] = field(
        description="msa: submission server of a flow; mta: outbound MTA; relay: smarthost; "
        "mx: inbound server for domains; resolver: DNS resolver; dnsbl: DNSBL server"
    )
    name: Domain | None = field(
        None, description="DNS name of the host (its A record); default '<key>.sim.example'"
    )
    ip: IPv4 | None = field(
        None,
        description="IPv4 address; default: assigned in order of the hosts from 198.18.0.1 "
        "(skipping addresses given explicitly)",
    )
    accepts: tuple[Domain, ...] = field(
        (), description="local domains: mail for them ends in a mailbox on this host"
    )
    mailboxes: int = field(
        1000,
        ge=1,
        le=MAX_POPULATION,
        description="valid users per accepted domain: user0 ... user<n-1>",
    )
    auth: bool | None = field(
        None,
        description="whether AUTH is required before relaying; default true for role "
        "msa, false otherwise",
    )
    postfix: Postfix = Field(
        default_factory=Postfix, description="MTA parameters (Postfix names and defaults)"
    )
    processing: Processing = Field(
        default_factory=Processing, description="server processing times"
    )
    listen_backlog: int | None = field(
        None,
        ge=0,
        le=MAX_COUNT,
        description="connections that may wait in the server's listen queue while "
        "all its default_process_limit processes are busy; when it is full a new connection "
        "gets no answer and the client's connect times out (smtp_connect_timeout), as on "
        "FreeBSD; none = no limit: every connection completes and waits for its greeting, up "
        "to the client's smtp_helo_timeout, as on Linux",
    )
    policies: tuple[PolicySpec, ...] = field(
        (),
        description="receiving policies: dnsbl, greylisting, rate_limit, mailbox_full, "
        "spam_filter, spf (checked in that order: see the policies section)",
    )
    retry: Retry = field(
        "postfix",
        description="how this MTA retries: postfix, exim, persistent, frequent, "
        "impatient, or {exim: RULES}",
    )
    access: AccessService | None = field(
        None,
        description="a mailbox host's POP3/IMAP service and its users' mail clients "
        "(see retrieval); none: mail ends in the mailbox, nobody fetches it",
    )
    listeners: dict[Port, Listener] | None = field(
        None,
        description="port -> listener, for flows with mail clients (traffic.*.clients); "
        "default: port 25 only, with the host's postfix TLS level and its auth setting. "
        "A client connecting to another port is refused",
    )
    tls: HostTls | None = field(
        None,
        description="the certificate it presents after STARTTLS and its TLSA records "
        "(see tls); none: a valid, trusted certificate for its name, no TLSA records",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_auth(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("auth") is None:
            role = data.get("role")
            if role in ("msa", "mta", "relay", "mx", "resolver", "dnsbl"):
                return {**data, "auth": role == "msa"}
        return data


class Link(Model):
    """A network link between two hosts or routers (an undirected edge of the topology)."""

    between: tuple[str, str] = field(description="the two ends: host keys or router names")
    latency: DurationDist = field("0.5ms", description="one-way latency")
    bandwidth: Bandwidth = field(
        "1Gbit/s", description="capacity, shared equally by the message transfers in progress"
    )
    flow_bandwidth: Bandwidth | None = field(
        None,
        description="the most one message transfer gets, however idle the link: a TCP "
        "flow's own limit (its window over the round trip, or the sender's access rate); "
        "default: none beyond its share of the capacity",
    )
    loss: Fraction = field(
        0.0,
        description="probability that a TCP connection attempt over this link is lost "
        "(and times out after smtp_connect_timeout)",
    )

    @model_validator(mode="after")
    def _check_ends(self) -> Link:
        if self.between[0] == self.between[1]:
            raise ValueError(f"a link needs two different ends, got {self.between[0]!r} twice")
        return self
