"""The scenario: the top of the format, and where to find every model of it.

A scenario file is a :class:`Scenario`; its sections are models of their own modules,
each importing only the modules below it (``base``; ``distributions``, ``rates`` and
``per_message``, the short forms; ``postfix``, ``policies``, ``dns``, ``hosts``,
``traffic``, ``incidents``), so this module comes last. Every quantity with a unit is
stored in base units (seconds, bytes, bytes per second, events per second, fractions);
see :mod:`smtpsim.scenario.units`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import Field, ValidationInfo, model_validator

from .base import Domain, IPv4, Model, Name, field
from .bounds import DEFAULT_MAX_EVENTS, MAX_MAX_EVENTS, MAX_SEED
from .checks import reference_problems
from .defaults import fill_defaults
from .distributions import Dist, DistInfo, DurationDist, SizeDist
from .dns import Zone
from .hosts import Host, Link
from .incidents import Incident
from .per_message import PerMessage
from .policies import RetrySpec
from .postfix import Postfix, Processing
from .rates import DAY, RateProfile
from .traffic import DEFAULT_SIZE_CDF, Burst, Flow, FlowLink, Recipients
from .units import Duration

__all__ = [
    "DAY",
    "DEFAULT_SIZE_CDF",
    "Burst",
    "Dist",
    "DistInfo",
    "Domain",
    "DurationDist",
    "Flow",
    "FlowLink",
    "Host",
    "IPv4",
    "Incident",
    "Link",
    "Name",
    "PerMessage",
    "Postfix",
    "Processing",
    "RateProfile",
    "Recipients",
    "RetrySpec",
    "Scenario",
    "Simulation",
    "SizeDist",
    "Zone",
]


class Simulation(Model):
    """How the run is executed and what it records."""

    wire: bool = field(
        False, description="serialize and parse every SMTP line (slower, same results)"
    )
    session_memo: Literal["on", "off", "verify"] = field(
        "on",
        description="replay SMTP sessions of a shape already seen instead of running "
        "the protocol machines again (same results, faster); 'verify' does both and stops "
        "at the first session where they differ",
    )
    record_attempts: bool = field(True, description="record the attempts table")
    record_levels: bool = field(True, description="record the levels table (queue sizes over time)")
    max_events: int = field(
        DEFAULT_MAX_EVENTS,
        ge=1,
        le=MAX_MAX_EVENTS,
        description="stop the run with an error after this many simulation events (a run "
        "whose event count explodes); a one-hour quickstart takes about 16,000",
    )
    drain: bool = field(
        False,
        description="after the duration (or --until), stop the traffic and run on until "
        "every recipient, bounce notices included, is delivered, bounced, expired, lost or "
        "unsent, or until drain_limit: no mail is left pending, so shares are not censored",
    )
    drain_limit: Duration = field(
        "10d",
        gt=0,
        description="the longest a drain may run after the traffic stops (the "
        "default covers maximal_queue_lifetime and bounce_queue_lifetime, 5d each)",
    )

    @model_validator(mode="before")
    @classmethod
    def _memo_words(cls, data: object) -> object:
        """YAML 1.1 reads a bare ``on``/``off`` as true/false: take them as meant."""
        if isinstance(data, dict) and isinstance(data.get("session_memo"), bool):
            data = {**data, "session_memo": "on" if data["session_memo"] else "off"}
        return data


class Scenario(Model):
    """A simulated mail network, its DNS, its traffic, and how long to run it."""

    name: str = field(min_length=1, description="short name of the scenario")
    description: str = field("", description="what the scenario is for")
    duration: Duration = field(gt=0, description="simulated time to run")
    warmup: Duration = field(
        0.0, description="initial period left out of the statistics (less than duration)"
    )
    seed: int = field(1, ge=0, le=MAX_SEED, description="random seed of the run")
    hosts: dict[Name, Host] = field(min_length=1, description="the hosts, by key")
    routers: tuple[Name, ...] = field(
        ("internet",), description="names of routers: link ends that are not hosts"
    )
    links: tuple[Link, ...] = field((), description="the network links")
    dns: dict[Domain, Zone] = field({}, description="DNS zones, by domain name")
    traffic: dict[Name, Flow] = field({}, description="the traffic flows, by name")
    incidents: tuple[Incident, ...] = field(
        (), description="what goes wrong and when: links, hosts, DNS, DNSBLs, policies"
    )
    simulation: Simulation = Field(
        default_factory=Simulation, description="how the run is executed and recorded"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: object) -> object:
        return fill_defaults(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Scenario:
        if isinstance(info.context, dict) and info.context.get("skip_references"):
            return self
        problems = reference_problems(self.model_dump())
        if problems:
            raise ValueError("\n".join(str(p) for p in problems))
        return self

    def canonical_json(self) -> str:
        """The scenario as canonical JSON: sorted keys, no spaces, base units."""
        return json.dumps(
            self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), allow_nan=False
        )

    def digest(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`: identifies the scenario in result stores."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()
