"""Traffic: populations of senders, the mail they submit, and who it goes to."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from .base import Domain, IPv4, Model, field
from .bounds import MAX_MESSAGES, MAX_POPULATION, MAX_WEIGHT
from .clients import MailClients
from .distributions import DurationDist, SizeDist
from .per_message import PerMessageForm
from .policies import Retry
from .postfix import Postfix
from .rates import RateProfileForm
from .units import Bandwidth, Duration, Fraction

__all__ = ["DEFAULT_SIZE_CDF", "Burst", "Flow", "FlowLink", "Recipients"]

DEFAULT_SIZE_CDF: tuple[tuple[str, float], ...] = (
    ("900B", 0.0),
    ("2KiB", 0.235),
    ("4KiB", 0.492),
    ("8KiB", 0.676),
    ("16KiB", 0.796),
    ("32KiB", 0.854),
    ("64KiB", 0.905),
    ("128KiB", 0.933),
    ("256KiB", 0.957),
    ("512KiB", 0.972),
    ("1MiB", 0.985),
    ("2MiB", 0.9996),
    ("10MiB", 1.0),
)
"""Message sizes: J. Buchner's empirical CDF ("Modelling realistic email traffic: email
size distribution", 2009, from a FreeBSD list's messages), closed at 10 MiB."""


class Recipients(Model):
    """Who a flow's messages go to."""

    per_message: PerMessageForm = field(
        {"mean": 1.66},
        description="recipients per message: {mean: m} (1 + Poisson(m - 1)), {fixed: n} or "
        "{table: {n: weight, ...}}",
    )
    domains: dict[Domain, Annotated[float, Field(gt=0, le=MAX_WEIGHT)]] = field(
        min_length=1, description="recipient domain -> weight (weights > 0, need not sum to 1)"
    )


class Burst(Model):
    """A batch of messages submitted at once or spread evenly over an interval."""

    at: Duration = field(description="when the burst starts")
    messages: int = field(gt=0, le=MAX_MESSAGES, description="how many messages")
    over: Duration = field(0.0, description="spread over this interval (0 = all at once)")


class FlowLink(Model):
    """The link between a flow's sender population and its submit_to host."""

    latency: DurationDist = field("10ms", description="one-way latency")
    bandwidth: Bandwidth = field(
        "100Mbit/s", description="capacity, shared equally by the message transfers in progress"
    )
    flow_bandwidth: Bandwidth | None = field(
        None,
        description="the most one message transfer gets, however idle the link: a TCP "
        "flow's own limit (its window over the round trip, or the sender's access rate); "
        "default: none beyond its share of the capacity",
    )
    loss: Fraction = field(0.0, description="probability that a connection attempt is lost")


class Flow(Model):
    """A population of senders and the mail it submits."""

    submit_to: str = field(description="host key of the msa, mta or relay the senders submit to")
    sender_domain: Domain | None = field(
        None,
        description="domain of the senders; default: the first domain the submit_to host accepts",
    )
    senders: int = field(
        100, ge=1, le=MAX_POPULATION, description="number of senders: user0 ... user<n-1>"
    )
    rate: RateProfileForm = field(0, description="message rate (Poisson arrivals); 0 = bursts only")
    bursts: tuple[Burst, ...] = field((), description="batches of messages at given times")
    messages: int | None = field(
        None, ge=1, le=MAX_MESSAGES, description="stop after this many messages (none = no limit)"
    )
    start: Duration = field(0.0, description="when the flow starts")
    stop: Duration | None = field(None, description="when the flow stops (none = at the end)")
    size: SizeDist = field(
        {"empirical": [list(p) for p in DEFAULT_SIZE_CDF]},
        description="message size (default: an empirical CDF of measured sizes, 900 B to "
        "10 MiB, mean about 57 kB)",
    )
    recipients: Recipients = field(description="recipients per message and the domain mix")
    unknown_users: Fraction = field(
        0.0, description="share of recipient addresses that do not exist (rejected with 550)"
    )
    link: FlowLink = field(
        {"latency": "10ms", "bandwidth": "100Mbit/s"},
        description="the population's link to its submit_to host",
    )
    ip: IPv4 | None = field(
        None,
        description="the population's client address; default: assigned after the hosts' addresses",
    )
    client: Postfix = Field(
        default_factory=Postfix,
        description="Postfix parameters of the population's SMTP client (pipelining, "
        "timeouts, concurrency); it always relays to submit_to, so relayhost and "
        "smtp_fallback_relay must stay unset",
    )
    retry: Retry = field("postfix", description="how the population's client retries")
    spamtraps: Fraction = field(
        0.0,
        description="share of recipient addresses that are spamtraps (trap<k>@domain: "
        "delivered, and reported to DNSBLs that list by spamtrap hits)",
    )
    clients: MailClients | None = field(
        None,
        description="the senders' mail clients and their settings (issue 13): each message "
        "is submitted by its sender's client straight to the server's listener on the "
        "client's port; a client that cannot submit retries, then gives up (status unsent). "
        "Default: none, the population relays through its own Postfix client",
    )

    @model_validator(mode="after")
    def _check(self) -> Flow:
        if self.rate.max_rate() == 0 and not self.bursts:
            raise ValueError("the flow sends nothing: its rate is 0 and it has no bursts")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop:g}s) must come after start ({self.start:g}s)")
        return self
