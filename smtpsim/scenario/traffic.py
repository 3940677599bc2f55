"""Traffic: populations of senders, the mail they submit, and who it goes to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from .base import Domain, IPv4, Model, field
from .bounds import MAX_FACTOR, MAX_MESSAGES, MAX_POPULATION, MAX_WEIGHT
from .clients import MailClients
from .distributions import DurationDist, SizeDist
from .per_message import PerMessageForm
from .policies import Retry
from .postfix import Postfix
from .rates import RateProfileForm
from .raw import YamlMap
from .units import Bandwidth, Duration, Fraction

__all__ = ["DEFAULT_SIZE_CDF", "Burst", "Flow", "FlowDsn", "FlowLink", "Recipients", "Replay"]

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


def _replay_from_yaml(value: object) -> object:
    return {"file": value} if isinstance(value, str) else value


def anchor_replays(data: YamlMap, directory: Path) -> None:
    """Make the relative trace paths of raw scenario ``data`` relative to
    ``directory`` (the scenario file's), in place: a scenario and its trace travel
    together, whatever the directory a command runs in."""
    traffic = data.get("traffic")
    if not isinstance(traffic, dict):
        return
    for flow in traffic.values():
        if not isinstance(flow, dict):
            continue
        replay = flow.get("replay")
        spec = replay if isinstance(replay, dict) else flow
        key = "file" if isinstance(replay, dict) else "replay"
        file = spec.get(key)
        if isinstance(file, str) and file and not Path(file).is_absolute():
            spec[key] = str(directory / file)


class Replay(Model):
    """Submissions replayed from a trace: a Postfix maillog (the messages it shows
    submitted, read by smtpsim.logs) or a CSV file of ``time,sender,recipients,size``.

    The file is read when the scenario is checked on the command line and when it runs
    (``smtpsim.logs.trace``); a relative path is relative to the scenario file's
    directory (to the working directory for a scenario given as text)."""

    file: str = field(min_length=1, description="the trace: a maillog (plain or gzip) or a .csv")
    format: Literal["auto", "postfix", "csv"] = field(
        "auto", description="auto: csv for a .csv file, else a Postfix maillog"
    )
    time_scale: float = field(
        1.0,
        gt=0,
        le=MAX_FACTOR,
        description="the trace's intervals multiplied by this (0.5: twice as fast)",
    )
    align: Literal["time-of-day", "first"] = field(
        "time-of-day",
        description="time-of-day: a message at 09:30 of the trace's first day is "
        "submitted at 9.5 h (times 0 is midnight); first: the first message at the "
        "flow's start",
    )
    loop: bool = field(
        False,
        description="start the trace again when it ends (its span, to a mean gap after "
        "its last message), until the flow stops",
    )
    addresses: Literal["numbered", "as-is"] = field(
        "numbered",
        description="numbered: each address of a domain some host accepts becomes one of "
        "its mailboxes (user<k>; a recipient the log bounced as unknown, 5.1.1, "
        "unknown<k>), others stay; as-is: the trace's addresses",
    )


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


class FlowDsn(Model):
    """The DSN parameters (RFC 3461) a flow's messages are submitted with: which
    notices each recipient asks for, and what they return."""

    notify: tuple[Literal["never", "success", "failure", "delay"], ...] | None = field(
        None,
        description="NOTIFY of every recipient: [never], or any of success, failure, "
        "delay; none = no NOTIFY (Postfix then acts as failure, delay)",
    )
    ret: Literal["full", "hdrs"] | None = field(
        None,
        description="RET: what a failure notice returns, the whole message (full) or its "
        "headers (hdrs); none = not given (the whole message)",
    )
    envid: bool = field(
        False, description="give each message an ENVID (the flow's name and the message id)"
    )
    orcpt: bool = field(False, description="give each recipient an ORCPT (rfc822;its address)")

    @model_validator(mode="after")
    def _check(self) -> FlowDsn:
        if self.notify is not None:
            if not self.notify:
                raise ValueError("notify needs at least one value: [never] asks for no notice")
            if "never" in self.notify and len(self.notify) > 1:
                raise ValueError("notify: never goes alone (RFC 3461 section 4.1)")
        return self


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
    replay: Annotated[Replay | None, BeforeValidator(_replay_from_yaml)] = field(
        None,
        description="replay a trace's submissions (times, senders, recipients, sizes) "
        "instead of drawing them: FILE, or {file: FILE, time_scale, align, loop, addresses}",
    )
    recipients: Recipients | None = field(
        None,
        validate_default=True,
        description="recipients per message and the domain mix (required unless the "
        "flow replays a trace, which names them)",
    )
    unknown_users: Fraction = field(
        0.0, description="share of recipient addresses that do not exist (rejected with 550)"
    )
    smtputf8: Fraction = field(
        0.0,
        description="share of messages from a UTF-8 sender address (användare<k>@domain, "
        "RFC 6531): they need SMTPUTF8 on every hop, and bounce with 5.6.7 at a server "
        "that does not offer it (postfix.smtputf8_enable)",
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
    dsn: FlowDsn | None = field(
        None,
        description="DSN parameters of its messages (RFC 3461): {notify, ret, envid, "
        "orcpt}; none = none given",
    )
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

    @field_validator("recipients", mode="after")
    @classmethod
    def _recipients_unless_replay(
        cls, value: Recipients | None, info: ValidationInfo
    ) -> Recipients | None:
        # replay comes first among the fields, so it is known here
        if value is None and info.data.get("replay") is None:
            raise PydanticCustomError("missing", "Field required")
        return value

    @model_validator(mode="after")
    def _check(self) -> Flow:
        if self.replay is not None:
            if self.rate.max_rate() > 0 or self.bursts:
                raise ValueError(
                    "a replaying flow takes its times from the trace: leave out rate and bursts"
                )
        elif self.rate.max_rate() == 0 and not self.bursts:
            raise ValueError("the flow sends nothing: its rate is 0 and it has no bursts")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop:g}s) must come after start ({self.start:g}s)")
        return self
