"""The scenario schema: frozen pydantic models whose field names are the YAML keys.

Every quantity with a unit is stored in base units (seconds, bytes, bytes per second,
events per second, fractions); see :mod:`smtpsim.scenario.units`. Distributions, rate
profiles and recipient counts have short YAML forms that are turned into the models
:class:`Dist`, :class:`RateProfile` and :class:`PerMessage` here.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import math
from statistics import NormalDist
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from . import _names
from .bounds import (
    DEFAULT_MAX_EVENTS,
    MAX_COUNT,
    MAX_DURATION,
    MAX_MAX_EVENTS,
    MAX_MESSAGES,
    MAX_POPULATION,
    MAX_RATE,
    MAX_RECIPIENTS_PER_MESSAGE,
    MAX_SEED,
    MAX_SIGMA,
    MAX_WEIGHT,
)
from .feedback import Feedback
from .units import (
    UNIT_SCHEMAS,
    Bandwidth,
    Duration,
    Fraction,
    Size,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
    parse_time_of_day,
)

__all__ = [
    "DAY",
    "DEFAULT_SIZE_CDF",
    "Burst",
    "Dist",
    "DistInfo",
    "DurationDist",
    "Flow",
    "FlowLink",
    "Host",
    "Link",
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

DAY = 86400.0
"""Seconds per day: the period of a diurnal rate profile. Simulated time 0 is midnight."""


class _Model(BaseModel):
    """Base: frozen, no unknown keys, defaults validated (so ``"300s"`` defaults are parsed)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def _f(default: Any = ..., *, description: str, **kw: Any) -> Any:
    """``Field`` typed as Any, so a YAML-form default ("300s") may stand for a float."""
    return Field(default, description=description, **kw)


# ---------------------------------------------------------------------------------------------
# names


Name: TypeAlias = Annotated[
    str,
    AfterValidator(_names.check_key),
    WithJsonSchema({"type": "string", "pattern": _names.KEY_PATTERN}),
]
"""A host key, router name or flow name: ``^[A-Za-z][A-Za-z0-9_-]*$`` (no dots)."""

Domain: TypeAlias = Annotated[
    str,
    BeforeValidator(_names.normalize_domain),
    WithJsonSchema({"type": "string", "pattern": _names.DOMAIN_PATTERN.replace("a-z", "A-Za-z")}),
]
"""A DNS domain name, stored in lower case without a trailing dot."""

IPv4: TypeAlias = Annotated[
    str,
    BeforeValidator(_names.normalize_ipv4),
    WithJsonSchema({"type": "string", "format": "ipv4"}),
]


# ---------------------------------------------------------------------------------------------
# distributions

_DIST_KINDS = ("constant", "exponential", "lognormal", "uniform", "empirical")
_DIST_ARGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (arguments in the unit of the distribution, plain-number arguments)
    "exponential": (("mean",), ()),
    "lognormal": (("median",), ("sigma",)),
    "uniform": (("low", "high"), ()),
}


class Dist(_Model):
    """A distribution of durations (seconds) or sizes (bytes).

    YAML: a plain value (a constant) or a one-key mapping: ``{constant: V}``,
    ``{exponential: {mean: V}}``, ``{lognormal: {median: V, sigma: s}}``,
    ``{uniform: {low: V, high: V}}``, ``{empirical: [[V, cdf], ...]}``.
    """

    kind: Literal["constant", "exponential", "lognormal", "uniform", "empirical"] = _f(
        description="which distribution"
    )
    value: float = _f(0.0, ge=0, description="constant: the value")
    mean: float = _f(0.0, ge=0, description="exponential: the mean")
    median: float = _f(0.0, ge=0, description="lognormal: the median, exp(mu)")
    sigma: float = _f(
        0.0, ge=0, le=MAX_SIGMA, description="lognormal: the standard deviation of the log"
    )
    low: float = _f(0.0, ge=0, description="uniform: the lower bound")
    high: float = _f(0.0, ge=0, description="uniform: the upper bound")
    points: tuple[tuple[float, float], ...] = _f(
        (),
        description="empirical: (value, cumulative probability) pairs of a piecewise-linear "
        "CDF; values and probabilities non-decreasing, the last probability 1",
    )

    @model_validator(mode="after")
    def _check(self) -> Dist:
        if self.kind == "exponential" and self.mean <= 0:
            raise ValueError("exponential: mean must be greater than 0")
        if self.kind == "lognormal" and self.median <= 0:
            raise ValueError("lognormal: median must be greater than 0")
        if self.kind == "uniform" and self.low > self.high:
            raise ValueError("uniform: low must not exceed high")
        if self.kind == "empirical":
            pts = self.points
            if not pts:
                raise ValueError("empirical: needs at least one [value, cdf] point")
            for i, (v, p) in enumerate(pts):
                if v < 0 or not 0 <= p <= 1:
                    raise ValueError(
                        f"empirical: point {i + 1} must have value >= 0 and cdf in [0, 1]"
                    )
                if i and (v < pts[i - 1][0] or p < pts[i - 1][1]):
                    raise ValueError(
                        f"empirical: point {i + 1} goes backwards; values and cdf must not decrease"
                    )
            if abs(pts[-1][1] - 1.0) > 1e-9:
                raise ValueError(f"empirical: the last cdf must be 1, got {pts[-1][1]:g}")
        return self

    def mean_value(self) -> float:
        """The exact mean (for empirical: the mean of the piecewise-linear CDF)."""
        if self.kind == "constant":
            return self.value
        if self.kind == "exponential":
            return self.mean
        if self.kind == "lognormal":
            return self.median * math.exp(self.sigma**2 / 2)
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        v0, p0 = self.points[0]
        total = v0 * p0
        for (va, pa), (vb, pb) in itertools.pairwise(self.points):
            total += (pb - pa) * (va + vb) / 2
        return total

    def quantile(self, u: float) -> float:
        """The inverse CDF at ``u`` in [0, 1]: ``quantile(uniform_random())`` is a sample."""
        if not 0 <= u <= 1:
            raise ValueError(f"quantile: u must be in [0, 1], got {u}")
        if self.kind == "constant":
            return self.value
        if self.kind == "exponential":
            return math.inf if u == 1 else -self.mean * math.log1p(-u)
        if self.kind == "lognormal":
            if u in (0, 1) and self.sigma > 0:
                return 0.0 if u == 0 else math.inf
            z = NormalDist().inv_cdf(u) if 0 < u < 1 else 0.0
            return self.median * math.exp(self.sigma * z)
        if self.kind == "uniform":
            return self.low + u * (self.high - self.low)
        pts = self.points
        if u <= pts[0][1]:
            return pts[0][0]
        for (va, pa), (vb, pb) in itertools.pairwise(pts):
            if u <= pb and pb > pa:
                return va + (vb - va) * (u - pa) / (pb - pa)
        return pts[-1][0]


class DistInfo:
    """Annotated metadata naming the unit of a distribution type (for documentation)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit


def _mapping_args(
    kind: str, args: Any, keys: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    example = ", ".join(f"{k}: ..." for k in keys)
    if not isinstance(args, dict):
        raise ValueError(
            f"{kind}: expected a mapping such as {{{example}}}, got {_names.got(args)}"
        )
    for key in args:
        if key not in keys and key not in optional:
            allowed = tuple(keys) + tuple(optional)
            raise ValueError(
                f"{kind}: unknown key {key!r}{_names.suggest(str(key), allowed)}"
                f" (expected {', '.join(allowed)})"
            )
    for key in keys:
        if key not in args:
            raise ValueError(f"{kind}: {key!r} is missing")
    return args


def _one_key(value: dict[Any, Any], kinds: tuple[str, ...], what: str) -> tuple[str, Any]:
    if len(value) != 1:
        raise ValueError(
            f"expected {what} as a one-key mapping ({', '.join(kinds)}), got keys "
            f"{', '.join(map(str, value))}"
        )
    ((kind, args),) = value.items()
    if kind not in kinds:
        raise ValueError(
            f"unknown {what} {kind!r}; expected one of {', '.join(kinds)}"
            f"{_names.suggest(str(kind), kinds)}"
        )
    return str(kind), args


def _pairs(kind: str, args: Any, what: str) -> list[tuple[Any, Any]]:
    """A list of 2-item lists, or a mapping, as a list of pairs."""
    if isinstance(args, dict):
        return list(args.items())
    if isinstance(args, list | tuple) and all(
        isinstance(p, list | tuple) and len(p) == 2 for p in args
    ):
        return [(p[0], p[1]) for p in args]
    raise ValueError(f"{kind}: expected a list of {what} pairs, got {_names.got(args)}")


def _dist_from_yaml(value: Any, parse: Any, unit: str) -> Any:
    if isinstance(value, Dist):
        return value
    if isinstance(value, dict) and "kind" in value:  # the model_dump() form: bounds again
        dumped = dict(value)
        for key in ("value", "mean", "median", "low", "high"):
            if isinstance(dumped.get(key), int | float) and not isinstance(dumped[key], bool):
                dumped[key] = parse(dumped[key])
        if isinstance(dumped.get("points"), list | tuple):
            dumped["points"] = [(parse(p[0]), p[1]) if isinstance(p, list | tuple) and p else p
                             for p in dumped["points"]]
        return dumped
    if not isinstance(value, dict):
        return {"kind": "constant", "value": parse(value)}
    kind, args = _one_key(value, _DIST_KINDS, "distribution")
    try:
        if kind == "constant":
            return {"kind": kind, "value": parse(args)}
        if kind == "empirical":
            points = [(parse(v), parse_fraction(p)) for v, p in _pairs(kind, args, "[value, cdf]")]
            return {"kind": kind, "points": points}
        in_unit, plain = _DIST_ARGS[kind]
        args = _mapping_args(kind, args, in_unit, plain)
        out: dict[str, Any] = {"kind": kind}
        for key in in_unit:
            out[key] = parse(args[key])
        for key in plain:
            if key in args:
                if isinstance(args[key], bool) or not isinstance(args[key], int | float):
                    raise ValueError(f"{key}: expected a number, got {_names.got(args[key])}")
                out[key] = float(args[key])
        if out.get("sigma", 0.0) > MAX_SIGMA:
            raise ValueError(
                f"sigma must be at most {MAX_SIGMA:g} (the plausibility bound), got "
                f"{out['sigma']:g}"
            )
        return out
    except ValueError as e:
        text = str(e)
        raise ValueError(text if text.startswith(kind) else f"{kind}: {text}") from None


def _dist_schema(unit: str) -> dict[str, Any]:
    v = UNIT_SCHEMAS[unit]

    def one(key: str, inner: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {key: inner},
            "required": [key],
            "additionalProperties": False,
        }

    def args(required: list[str], props: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": props,
            "required": required,
            "additionalProperties": False,
        }

    fraction = UNIT_SCHEMAS["fraction"]
    return {
        "description": f"a {unit} distribution: a plain {unit} (a constant) or a one-key mapping",
        "anyOf": [
            v,
            one("constant", v),
            one("exponential", args(["mean"], {"mean": v})),
            one(
                "lognormal",
                args(
                    ["median", "sigma"],
                    {"median": v, "sigma": {"type": "number", "minimum": 0, "maximum": MAX_SIGMA}},
                ),
            ),
            one("uniform", args(["low", "high"], {"low": v, "high": v})),
            one(
                "empirical",
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "array",
                        "prefixItems": [v, fraction],
                        "minItems": 2,
                        "maxItems": 2,
                    },
                },
            ),
        ],
    }


_DURATION_DIST_SCHEMA = _dist_schema("duration")
_SIZE_DIST_SCHEMA = _dist_schema("size")

DurationDist: TypeAlias = Annotated[
    Dist,
    BeforeValidator(lambda v: _dist_from_yaml(v, parse_duration, "duration")),
    WithJsonSchema(_DURATION_DIST_SCHEMA),
    DistInfo("duration"),
]
"""A :class:`Dist` whose values are durations (seconds)."""

SizeDist: TypeAlias = Annotated[
    Dist,
    BeforeValidator(lambda v: _dist_from_yaml(v, parse_size, "size")),
    WithJsonSchema(_SIZE_DIST_SCHEMA),
    DistInfo("size"),
]
"""A :class:`Dist` whose values are sizes (bytes)."""

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


# ---------------------------------------------------------------------------------------------
# hosts


class Postfix(_Model):
    """MTA settings under Postfix's own parameter names, with Postfix 3.7 defaults."""

    queue_run_delay: Duration = _f(
        "300s", description="interval between scans of the deferred queue; should not exceed "
        "minimal_backoff_time"
    )
    minimal_backoff_time: Duration = _f(
        "300s", description="minimum time between delivery attempts of a deferred message; also "
        "how long a dead destination stays suspended"
    )
    maximal_backoff_time: Duration = _f(
        "4000s", description="maximum time between delivery attempts of a deferred message"
    )
    maximal_queue_lifetime: Duration = _f(
        "5d", description="give up (bounce) after this time in the queue if delivery still fails "
        "temporarily; checked at an attempt; 0 = try once"
    )
    bounce_queue_lifetime: Duration = _f(
        "5d", description="the same as maximal_queue_lifetime, for bounces (sender <>)"
    )
    initial_destination_concurrency: int = _f(
        5, ge=1, le=MAX_COUNT,
        description="starting number of parallel deliveries to a destination"
    )
    default_destination_concurrency_limit: int = _f(
        20, ge=1, le=MAX_COUNT,
        description="maximum number of parallel deliveries to one destination"
    )
    default_destination_recipient_limit: int = _f(
        50, ge=1, le=MAX_COUNT,
        description="maximum recipients per delivery request (= per SMTP transaction)"
    )
    default_destination_concurrency_failed_cohort_limit: float = _f(
        1.0, ge=0, le=MAX_COUNT,
        description="failed pseudo-cohorts (connect or handshake failures in a row, "
        "counted in units of the current concurrency) before a destination is declared dead; "
        "0 = never"
    )
    default_destination_concurrency_positive_feedback: Feedback = _f(
        "1", description="window increase per delivery without a connect or handshake "
        "failure: a number from 0 to 1, or x/concurrency, x/sqrt_concurrency (see "
        "concurrency feedback); the window grows by 1 when the sum reaches 1"
    )
    default_destination_concurrency_negative_feedback: Feedback = _f(
        "1", description="window decrease per delivery that failed to connect or in the "
        "handshake (same forms); the window drops by 1 at once, then again after each "
        "further 1 of feedback (never below 1)"
    )
    default_process_limit: int = _f(
        100, ge=1, le=MAX_COUNT,
        description="maximum processes per service: parallel SMTP client sessions "
        "(all destinations) and parallel server sessions"
    )
    qmgr_message_active_limit: int = _f(
        20000, ge=1, le=MAX_COUNT, description="maximum number of messages in the active queue"
    )
    relayhost: Annotated[str | None, BeforeValidator(_names.optional_host)] = _f(
        None,
        description="send all mail not for a local domain to this host (a host key), without "
        "MX lookup; none = deliver by MX",
    )
    smtp_fallback_relay: Annotated[
        tuple[str, ...],
        BeforeValidator(_names.host_list),
        WithJsonSchema(
            {
                "anyOf": [
                    {"type": "array", "items": {"type": "string"}},
                    {"type": "string"},
                    {"type": "null"},
                ]
            }
        ),
    ] = _f(
        (),
        description="host keys tried in order, after the MX hosts, for destinations that "
        "cannot be found or are unreachable; one name or a list",
    )
    smtp_connection_cache_on_demand: bool = _f(
        True, description="cache SMTP connections to a destination with a backlog "
        "(back-to-back or concurrent deliveries)"
    )
    smtp_connection_cache_time_limit: Duration = _f(
        "2s", description="how long an idle cached connection is kept"
    )
    smtp_connection_reuse_time_limit: Duration = _f(
        "300s", description="a connection is reused only within this time after it was opened"
    )
    smtp_connect_timeout: Duration = _f("30s", description="TCP connection set-up timeout")
    smtp_helo_timeout: Duration = _f(
        "300s", description="timeout for the greeting and the reply to EHLO/HELO"
    )
    smtp_mail_timeout: Duration = _f("300s", description="timeout for the reply to MAIL FROM")
    smtp_rcpt_timeout: Duration = _f("300s", description="timeout for the reply to RCPT TO")
    smtp_data_init_timeout: Duration = _f("120s", description="timeout for the reply to DATA")
    smtp_data_xfer_timeout: Duration = _f(
        "180s", description="timeout for sending one block of message content"
    )
    smtp_data_done_timeout: Duration = _f(
        "600s", description="timeout for the reply to the final '.'"
    )
    smtp_quit_timeout: Duration = _f("300s", description="timeout for the reply to QUIT")
    smtp_skip_quit_response: bool = _f(
        True, description="do not wait for the reply to QUIT"
    )
    smtp_mx_address_limit: int = _f(
        5, ge=1, le=MAX_COUNT, description="maximum number of MX addresses tried per delivery"
    )
    smtp_mx_session_limit: int = _f(
        2, ge=1, le=MAX_COUNT,
        description="maximum number of SMTP sessions (past EHLO) per delivery before "
        "giving up or trying the fallback relay"
    )
    smtp_tls_security_level: Literal["none", "may", "encrypt"] = _f(
        "none", description="client STARTTLS: none, may (opportunistic), encrypt (mandatory)"
    )
    smtpd_tls_security_level: Literal["none", "may"] = _f(
        "none", description="server STARTTLS: none, or may (offer it)"
    )
    message_size_limit: Size = _f(
        10240000, description="largest message accepted (bytes; 0 = no limit)"
    )
    smtpd_recipient_limit: int = _f(
        1000, ge=100, le=MAX_COUNT,
        description="recipients accepted per message by the server (RFC 5321: "
        "at least 100)"
    )
    smtpd_timeout: Duration = _f(
        "300s", description="server timeout waiting for the next command or data"
    )
    hopcount_limit: int = _f(
        50,
        ge=1,
        le=MAX_COUNT,
        description="Received: headers allowed before a message bounces as looping (5.4.6)",
    )
    smtpd_pipelining: bool = _f(
        True, description="(smtpsim) whether the server offers PIPELINING"
    )
    smtp_pipelining: bool = _f(
        True, description="(smtpsim) whether the client uses PIPELINING when offered"
    )

    @model_validator(mode="after")
    def _check_backoff(self) -> Postfix:
        if self.minimal_backoff_time > self.maximal_backoff_time:
            raise ValueError(
                f"minimal_backoff_time ({self.minimal_backoff_time:g}s) must not exceed "
                f"maximal_backoff_time ({self.maximal_backoff_time:g}s)"
            )
        return self


class Processing(_Model):
    """Server processing times, added to the SMTP session at each step."""

    greeting: DurationDist = _f("1ms", description="time to produce the 220 greeting")
    command: DurationDist = _f(
        "0.2ms", description="time to answer one command (EHLO, MAIL, RCPT, ...)"
    )
    end_of_data: DurationDist = _f(
        "5ms", description="time from the final '.' to the reply (queue file written, filters)"
    )


from .policies import ListingRule, PolicySpec, Retry, RetrySpec  # noqa: E402


class Host(_Model):
    """A mail server (or resolver or DNSBL server) of the simulated network."""

    role: Literal["msa", "mta", "relay", "mx", "resolver", "dnsbl"] = _f(
        description="msa: submission server of a flow; mta: outbound MTA; relay: smarthost; "
        "mx: inbound server for domains; resolver: DNS resolver; dnsbl: DNSBL server"
    )
    name: Domain | None = _f(
        None, description="DNS name of the host (its A record); default '<key>.sim.example'"
    )
    ip: IPv4 | None = _f(
        None,
        description="IPv4 address; default: assigned in order of the hosts from 198.18.0.1 "
        "(skipping addresses given explicitly)",
    )
    accepts: tuple[Domain, ...] = _f(
        (), description="local domains: mail for them ends in a mailbox on this host"
    )
    mailboxes: int = _f(
        1000, ge=1, le=MAX_POPULATION,
        description="valid users per accepted domain: user0 ... user<n-1>"
    )
    auth: bool | None = _f(
        None, description="whether AUTH is required before relaying; default true for role "
        "msa, false otherwise"
    )
    postfix: Postfix = Field(
        default_factory=Postfix, description="MTA parameters (Postfix names and defaults)"
    )
    processing: Processing = Field(
        default_factory=Processing, description="server processing times"
    )
    listen_backlog: int | None = _f(
        None, ge=0, le=MAX_COUNT,
        description="connections that may wait in the server's listen queue while "
        "all its default_process_limit processes are busy; when it is full a new connection "
        "gets no answer and the client's connect times out (smtp_connect_timeout), as on "
        "FreeBSD; none = no limit: every connection completes and waits for its greeting, up "
        "to the client's smtp_helo_timeout, as on Linux"
    )
    policies: tuple[PolicySpec, ...] = _f(
        (), description="receiving policies: dnsbl, greylisting, rate_limit, mailbox_full, "
        "spam_filter, spf (checked in that order: see the policies section)"
    )
    retry: Retry = _f(
        "postfix", description="how this MTA retries: postfix, exim, persistent, frequent, "
        "impatient, or {exim: RULES}"
    )

    @model_validator(mode="before")
    @classmethod
    def _default_auth(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("auth") is None:
            role = data.get("role")
            if role in ("msa", "mta", "relay", "mx", "resolver", "dnsbl"):
                return {**data, "auth": role == "msa"}
        return data


class Link(_Model):
    """A network link between two hosts or routers (an undirected edge of the topology)."""

    between: tuple[str, str] = _f(description="the two ends: host keys or router names")
    latency: DurationDist = _f("0.5ms", description="one-way latency")
    bandwidth: Bandwidth = _f(
        "1Gbit/s", description="capacity, shared equally by the message transfers in progress"
    )
    flow_bandwidth: Bandwidth | None = _f(
        None, description="the most one message transfer gets, however idle the link: a TCP "
        "flow's own limit (its window over the round trip, or the sender's access rate); "
        "default: none beyond its share of the capacity"
    )
    loss: Fraction = _f(
        0.0, description="probability that a TCP connection attempt over this link is lost "
        "(and times out after smtp_connect_timeout)"
    )

    @model_validator(mode="after")
    def _check_ends(self) -> Link:
        if self.between[0] == self.between[1]:
            raise ValueError(f"a link needs two different ends, got {self.between[0]!r} twice")
        return self


# ---------------------------------------------------------------------------------------------
# DNS


def _mx_from_yaml(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        if value.strip().lower() == "null":
            return "null"
        raise ValueError(
            "expected MX hosts with preferences such as {mx1: 10}, or 'null' for a null MX, "
            f"got {_names.got(value)}"
        )
    if isinstance(value, dict):
        if not value:
            raise ValueError(
                "no MX hosts: write mx: 'null' for a null MX, or leave mx out for an implicit MX"
            )
        out: dict[str, int] = {}
        for host, pref in value.items():
            if not isinstance(host, str):
                raise ValueError(f"expected a host key, got {_names.got(host)}")
            if isinstance(pref, bool) or not isinstance(pref, int) or not 0 <= pref <= 65535:
                raise ValueError(
                    f"the preference of {host} must be an integer from 0 to 65535, got "
                    f"{_names.got(pref)}"
                )
            out[host] = pref
        return out
    raise ValueError(
        "expected MX hosts with preferences such as {mx1: 10}, or 'null' for a null MX, got "
        f"{_names.got(value)}"
    )


class Zone(_Model):
    """The DNS data of one domain: MX records, an A record, TXT records, or a DNSBL zone."""

    mx: Annotated[
        dict[str, int] | Literal["null"] | None,
        BeforeValidator(_mx_from_yaml),
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "object",
                        "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 65535},
                        "minProperties": 1,
                    },
                    {"const": "null"},
                    {"type": "null"},
                ],
                "examples": [{"mx1": 10, "mx2": 20}, "null"],
            }
        ),
    ] = _f(
        None,
        description="MX records: host key -> preference (lower is preferred); 'null' (quoted) "
        "= null MX (RFC 7505: the domain accepts no mail); absent = implicit MX (the A record)",
    )
    a: str | None = _f(
        None, description="host key whose address the domain's own A record holds (used for "
        "the implicit MX when there is no mx)"
    )
    ttl: Duration = _f("1h", description="time to live of the domain's records in resolver caches")
    txt: tuple[str, ...] = _f((), description="TXT records (SPF and such)")
    dnsbl: bool = _f(
        False, description="this is a DNSBL zone: listings are queried as <reversed-ip>.<zone>"
    )
    dmarc: Literal["none", "quarantine", "reject"] | None = _f(
        None, description="the domain's DMARC policy (its _dmarc TXT record), if any"
    )
    listing: ListingRule | None = _f(
        None, description="DNSBL zones: list an address by itself after spamtrap hits"
    )


# ---------------------------------------------------------------------------------------------
# traffic


class PerMessage(_Model):
    """Recipients per message.

    YAML: ``{mean: m}`` (1 + Poisson(m - 1)), ``{fixed: n}``, or ``{table: {n: weight, ...}}``.
    """

    kind: Literal["mean", "fixed", "table"] = _f(description="which form")
    mean: float = _f(
        1.66, ge=1, le=MAX_RECIPIENTS_PER_MESSAGE,
        description="mean: 1 + Poisson(mean - 1) recipients",
    )
    fixed: int = _f(
        1, ge=1, le=MAX_RECIPIENTS_PER_MESSAGE, description="fixed: always this many recipients"
    )
    table: tuple[tuple[int, float], ...] = _f(
        (), description="table: (recipients, weight) pairs, by recipients"
    )

    @model_validator(mode="after")
    def _check(self) -> PerMessage:
        if self.kind == "table":
            if not self.table:
                raise ValueError("table: needs at least one entry")
            for n, w in self.table:
                if n < 1 or w <= 0:
                    raise ValueError(
                        f"table: recipients must be >= 1 and weights > 0, got {n}: {w:g}"
                    )
                if n > MAX_RECIPIENTS_PER_MESSAGE or w > MAX_WEIGHT:
                    raise ValueError(
                        f"table: recipients must be at most {MAX_RECIPIENTS_PER_MESSAGE} and "
                        f"weights at most {MAX_WEIGHT:g} (the plausibility bounds), got {n}: {w:g}"
                    )
            counts = [n for n, _ in self.table]
            if counts != sorted(set(counts)):
                raise ValueError("table: recipient counts must be distinct and ascending")
        return self

    def mean_value(self) -> float:
        """The mean number of recipients per message."""
        if self.kind == "mean":
            return self.mean
        if self.kind == "fixed":
            return float(self.fixed)
        total = sum(w for _, w in self.table)
        return sum(n * w for n, w in self.table) / total


def _per_message_from_yaml(value: Any) -> Any:
    if isinstance(value, PerMessage) or (isinstance(value, dict) and "kind" in value):
        return value
    if not isinstance(value, dict):
        raise ValueError(
            "expected {mean: m}, {fixed: n} or {table: {n: weight, ...}}, got "
            f"{_names.got(value)}"
        )
    kind, arg = _one_key(value, ("mean", "fixed", "table"), "per_message form")
    if kind == "table":
        rows = []
        for n, w in _pairs("table", arg, "[recipients, weight]"):
            try:
                rows.append((int(n), float(w)))
            except (TypeError, ValueError):
                raise ValueError(
                    f"table: expected recipients: weight numbers, got {_names.got(n)}: "
                    f"{_names.got(w)}"
                ) from None
        return {"kind": kind, "table": sorted(rows)}
    return {"kind": kind, kind: arg}


class Recipients(_Model):
    """Who a flow's messages go to."""

    per_message: Annotated[
        PerMessage,
        BeforeValidator(_per_message_from_yaml),
        WithJsonSchema(
            {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"mean": {"type": "number", "minimum": 1}},
                        "required": ["mean"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {"fixed": {"type": "integer", "minimum": 1}},
                        "required": ["fixed"],
                        "additionalProperties": False,
                    },
                    {
                        "type": "object",
                        "properties": {
                            "table": {
                                "type": "object",
                                "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
                            }
                        },
                        "required": ["table"],
                        "additionalProperties": False,
                    },
                ],
                "examples": [{"mean": 1.66}, {"fixed": 1}, {"table": {"1": 0.92, "2": 0.05}}],
            }
        ),
    ] = _f(
        {"mean": 1.66},
        description="recipients per message: {mean: m} (1 + Poisson(m - 1)), {fixed: n} or "
        "{table: {n: weight, ...}}",
    )
    domains: dict[Domain, Annotated[float, Field(gt=0, le=MAX_WEIGHT)]] = _f(
        min_length=1, description="recipient domain -> weight (weights > 0, need not sum to 1)"
    )


class Burst(_Model):
    """A batch of messages submitted at once or spread evenly over an interval."""

    at: Duration = _f(description="when the burst starts")
    messages: int = _f(gt=0, le=MAX_MESSAGES, description="how many messages")
    over: Duration = _f(0.0, description="spread over this interval (0 = all at once)")


_RATE_KINDS = ("constant", "piecewise", "diurnal")


class RateProfile(_Model):
    """A message rate over time: constant, piecewise constant, or diurnal (a 24 h cosine).

    YAML: a rate (``3/s``), ``{constant: R}``, ``{piecewise: [{at: T, rate: R}, ...]}`` or
    ``{diurnal: {peak: R, trough: R, peak_at: "10:00"}}``.
    """

    kind: Literal["constant", "piecewise", "diurnal"] = _f(description="which profile")
    rate: float = _f(0.0, ge=0, le=MAX_RATE, description="constant: messages per second")
    steps: tuple[tuple[float, float], ...] = _f(
        (), description="piecewise: (from time, messages per second) pairs, the first at 0"
    )
    peak: float = _f(
        0.0, ge=0, le=MAX_RATE, description="diurnal: highest rate (messages per second)"
    )
    trough: float = _f(
        0.0, ge=0, le=MAX_RATE, description="diurnal: lowest rate, 12 h after the peak"
    )
    peak_at: float = _f(
        36000.0, ge=0, lt=DAY, description="diurnal: time of day of the peak (seconds after "
        "midnight; simulated time 0 is midnight)"
    )

    @model_validator(mode="after")
    def _check(self) -> RateProfile:
        if self.kind == "piecewise":
            if not self.steps:
                raise ValueError("piecewise: needs at least one step")
            if self.steps[0][0] != 0:
                raise ValueError("piecewise: the first step must be at 0")
            for (ta, _), (tb, _) in itertools.pairwise(self.steps):
                if tb <= ta:
                    raise ValueError("piecewise: step times must increase")
            if any(r < 0 for _, r in self.steps):
                raise ValueError("piecewise: rates must not be negative")
            if any(r > MAX_RATE or t > MAX_DURATION for t, r in self.steps):
                raise ValueError(
                    f"piecewise: rates must be at most {MAX_RATE:.0f}/s and times at most "
                    f"{MAX_DURATION / 86400:.0f}d (the plausibility bounds)"
                )
        if self.kind == "diurnal" and self.trough > self.peak:
            raise ValueError("diurnal: trough must not exceed peak")
        return self

    def max_rate(self) -> float:
        """The highest rate the profile reaches (per second): the bound for thinning."""
        if self.kind == "constant":
            return self.rate
        if self.kind == "piecewise":
            return max(r for _, r in self.steps)
        return self.peak

    def rate_at(self, t: float) -> float:
        """The rate (per second) at simulated time ``t`` (seconds; 0 is midnight)."""
        if self.kind == "constant":
            return self.rate
        if self.kind == "piecewise":
            i = bisect.bisect_right([s for s, _ in self.steps], t) - 1
            return self.steps[max(i, 0)][1]
        phase = 2 * math.pi * (t - self.peak_at) / DAY
        return self.trough + (self.peak - self.trough) * (1 + math.cos(phase)) / 2

    def expected_count(self, t0: float, t1: float) -> float:
        """The integral of the rate from ``t0`` to ``t1``: the expected number of arrivals."""
        if t1 <= t0:
            return 0.0
        if self.kind == "constant":
            return self.rate * (t1 - t0)
        if self.kind == "piecewise":
            total = 0.0
            bounds = [s for s, _ in self.steps[1:]] + [math.inf]
            for (start, rate), end in zip(self.steps, bounds, strict=True):
                lo, hi = max(t0, start if start > 0 else -math.inf), min(t1, end)
                if hi > lo:
                    total += rate * (hi - lo)
            return total
        amp = (self.peak - self.trough) / 2
        w = 2 * math.pi / DAY
        sin_part = math.sin(w * (t1 - self.peak_at)) - math.sin(w * (t0 - self.peak_at))
        return (self.trough + amp) * (t1 - t0) + amp * sin_part / w


def _rate_from_yaml(value: Any) -> Any:
    if isinstance(value, RateProfile) or (isinstance(value, dict) and "kind" in value):
        return value
    if not isinstance(value, dict):
        return {"kind": "constant", "rate": parse_rate(value)}
    kind, args = _one_key(value, _RATE_KINDS, "rate profile")
    try:
        if kind == "constant":
            return {"kind": kind, "rate": parse_rate(args)}
        if kind == "piecewise":
            if not isinstance(args, list | tuple):
                raise ValueError(
                    f"expected a list of {{at: T, rate: R}} steps, got {_names.got(args)}"
                )
            steps = []
            for i, step in enumerate(args):
                try:
                    step = _mapping_args("step", step, ("at", "rate"))
                    steps.append((parse_duration(step["at"]), parse_rate(step["rate"])))
                except ValueError as e:
                    raise ValueError(f"step {i + 1}: {e}") from None
            return {"kind": kind, "steps": steps}
        args = _mapping_args(kind, args, ("peak",), ("trough", "peak_at"))
        out: dict[str, Any] = {"kind": kind, "peak": parse_rate(args["peak"])}
        if "trough" in args:
            out["trough"] = parse_rate(args["trough"])
        if "peak_at" in args:
            out["peak_at"] = parse_time_of_day(args["peak_at"])
        return out
    except ValueError as e:
        text = str(e)
        raise ValueError(text if text.startswith(kind) else f"{kind}: {text}") from None


_RATE_SCHEMA: dict[str, Any] = {
    "description": "a rate (a constant), or a one-key mapping: constant, piecewise, diurnal",
    "anyOf": [
        UNIT_SCHEMAS["rate"],
        {
            "type": "object",
            "properties": {"constant": UNIT_SCHEMAS["rate"]},
            "required": ["constant"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "piecewise": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "at": UNIT_SCHEMAS["duration"],
                            "rate": UNIT_SCHEMAS["rate"],
                        },
                        "required": ["at", "rate"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["piecewise"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "diurnal": {
                    "type": "object",
                    "properties": {
                        "peak": UNIT_SCHEMAS["rate"],
                        "trough": UNIT_SCHEMAS["rate"],
                        "peak_at": UNIT_SCHEMAS["time of day"],
                    },
                    "required": ["peak"],
                    "additionalProperties": False,
                }
            },
            "required": ["diurnal"],
            "additionalProperties": False,
        },
    ],
    "examples": [
        "3/s",
        {"piecewise": [{"at": 0, "rate": "1/s"}, {"at": "2h", "rate": "5/s"}]},
        {"diurnal": {"peak": "5/s", "trough": "0.2/s", "peak_at": "10:00"}},
    ],
}


FORM_SCHEMAS: dict[str, dict[str, Any]] = {
    "DurationDist": _DURATION_DIST_SCHEMA,
    "SizeDist": _SIZE_DIST_SCHEMA,
    "RateProfile": _RATE_SCHEMA,
}
"""JSON Schemas of the YAML short forms, by the name they get under ``$defs``."""


class FlowLink(_Model):
    """The link between a flow's sender population and its submit_to host."""

    latency: DurationDist = _f("10ms", description="one-way latency")
    bandwidth: Bandwidth = _f("100Mbit/s", description="capacity, shared equally by the "
                              "message transfers in progress")
    flow_bandwidth: Bandwidth | None = _f(
        None, description="the most one message transfer gets, however idle the link: a TCP "
        "flow's own limit (its window over the round trip, or the sender's access rate); "
        "default: none beyond its share of the capacity"
    )
    loss: Fraction = _f(0.0, description="probability that a connection attempt is lost")


class Flow(_Model):
    """A population of senders and the mail it submits."""

    submit_to: str = _f(description="host key of the msa, mta or relay the senders submit to")
    sender_domain: Domain | None = _f(
        None, description="domain of the senders; default: the first domain the submit_to "
        "host accepts"
    )
    senders: int = _f(
        100, ge=1, le=MAX_POPULATION, description="number of senders: user0 ... user<n-1>"
    )
    rate: Annotated[
        RateProfile, BeforeValidator(_rate_from_yaml), WithJsonSchema(_RATE_SCHEMA)
    ] = _f(0, description="message rate (Poisson arrivals); 0 = bursts only")
    bursts: tuple[Burst, ...] = _f((), description="batches of messages at given times")
    messages: int | None = _f(
        None, ge=1, le=MAX_MESSAGES, description="stop after this many messages (none = no limit)"
    )
    start: Duration = _f(0.0, description="when the flow starts")
    stop: Duration | None = _f(None, description="when the flow stops (none = at the end)")
    size: SizeDist = _f(
        {"empirical": [list(p) for p in DEFAULT_SIZE_CDF]},
        description="message size (default: an empirical CDF of measured sizes, 900 B to "
        "10 MiB, mean about 57 kB)",
    )
    recipients: Recipients = _f(description="recipients per message and the domain mix")
    unknown_users: Fraction = _f(
        0.0, description="share of recipient addresses that do not exist (rejected with 550)"
    )
    link: FlowLink = _f(
        {"latency": "10ms", "bandwidth": "100Mbit/s"},
        description="the population's link to its submit_to host",
    )
    ip: IPv4 | None = _f(
        None, description="the population's client address; default: assigned after the "
        "hosts' addresses"
    )
    client: Postfix = Field(
        default_factory=Postfix,
        description="Postfix parameters of the population's SMTP client (pipelining, "
        "timeouts, concurrency); it always relays to submit_to, so relayhost and "
        "smtp_fallback_relay must stay unset",
    )
    retry: Retry = _f("postfix", description="how the population's client retries")
    spamtraps: Fraction = _f(
        0.0, description="share of recipient addresses that are spamtraps (trap<k>@domain: "
        "delivered, and reported to DNSBLs that list by spamtrap hits)"
    )

    @model_validator(mode="after")
    def _check(self) -> Flow:
        if self.rate.max_rate() == 0 and not self.bursts:
            raise ValueError("the flow sends nothing: its rate is 0 and it has no bursts")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop:g}s) must come after start ({self.start:g}s)")
        return self


# ---------------------------------------------------------------------------------------------
# the scenario


class Simulation(_Model):
    """How the run is executed and what it records."""

    wire: bool = _f(
        False, description="serialize and parse every SMTP line (slower, same results)"
    )
    session_memo: Literal["on", "off", "verify"] = _f(
        "on", description="replay SMTP sessions of a shape already seen instead of running "
        "the protocol machines again (same results, faster); 'verify' does both and stops "
        "at the first session where they differ"
    )
    record_attempts: bool = _f(True, description="record the attempts table")
    record_levels: bool = _f(True, description="record the levels table (queue sizes over time)")
    max_events: int = _f(
        DEFAULT_MAX_EVENTS, ge=1, le=MAX_MAX_EVENTS,
        description="stop the run with an error after this many simulation events (a run "
        "whose event count explodes); a one-hour quickstart takes about 16,000",
    )
    drain: bool = _f(
        False, description="after the duration (or --until), stop the traffic and run on until "
        "every recipient, bounce notices included, is delivered, bounced, expired or lost, or "
        "until drain_limit: no mail is left pending, so shares are not censored"
    )
    drain_limit: Duration = _f(
        "10d", gt=0, description="the longest a drain may run after the traffic stops (the "
        "default covers maximal_queue_lifetime and bounce_queue_lifetime, 5d each)"
    )

    @model_validator(mode="before")
    @classmethod
    def _memo_words(cls, data: Any) -> Any:
        """YAML 1.1 reads a bare ``on``/``off`` as true/false: take them as meant."""
        if isinstance(data, dict) and isinstance(data.get("session_memo"), bool):
            data = {**data, "session_memo": "on" if data["session_memo"] else "off"}
        return data


def _fill_defaults(data: dict[Any, Any]) -> dict[Any, Any]:
    """Host names and addresses, flow addresses and sender domains, where not given."""
    data = dict(data)
    hosts = data.get("hosts")
    traffic = data.get("traffic")
    hosts = dict(hosts) if isinstance(hosts, dict) else None
    traffic = dict(traffic) if isinstance(traffic, dict) else None

    def as_dict(item: Any) -> Any:
        return item.model_dump() if isinstance(item, BaseModel) else item

    used = []
    for group in (hosts, traffic):
        for key, item in (group or {}).items():
            item = group[key] = as_dict(item)  # type: ignore[index]
            if isinstance(item, dict) and item.get("ip") is not None:
                with contextlib.suppress(ValueError):
                    used.append(_names.normalize_ipv4(item["ip"]))
    free = iter(_names.auto_ips(used))
    for key, host in (hosts or {}).items():
        if isinstance(host, dict):
            host = dict(host)
            if host.get("name") is None and isinstance(key, str):
                host["name"] = f"{key}{_names.AUTO_NAME_SUFFIX}"
            if host.get("ip") is None:
                host["ip"] = next(free)
            hosts[key] = host  # type: ignore[index]
    for key, flow in (traffic or {}).items():
        if isinstance(flow, dict):
            flow = dict(flow)
            if flow.get("ip") is None:
                flow["ip"] = next(free)
            if flow.get("sender_domain") is None:
                target = flow.get("submit_to")
                submit = (hosts or {}).get(target) if isinstance(target, str) else None
                accepts = submit.get("accepts") if isinstance(submit, dict) else None
                if isinstance(accepts, list | tuple) and accepts:
                    flow["sender_domain"] = accepts[0]
            traffic[key] = flow  # type: ignore[index]
    if hosts is not None:
        data["hosts"] = hosts
    if traffic is not None:
        data["traffic"] = traffic
    return data


from .incidents import Incident  # noqa: E402  (it builds on the models above)


class Scenario(_Model):
    """A simulated mail network, its DNS, its traffic, and how long to run it."""

    name: str = _f(min_length=1, description="short name of the scenario")
    description: str = _f("", description="what the scenario is for")
    duration: Duration = _f(gt=0, description="simulated time to run")
    warmup: Duration = _f(
        0.0, description="initial period left out of the statistics (less than duration)"
    )
    seed: int = _f(1, ge=0, le=MAX_SEED, description="random seed of the run")
    hosts: dict[Name, Host] = _f(min_length=1, description="the hosts, by key")
    routers: tuple[Name, ...] = _f(
        ("internet",), description="names of routers: link ends that are not hosts"
    )
    links: tuple[Link, ...] = _f((), description="the network links")
    dns: dict[Domain, Zone] = _f({}, description="DNS zones, by domain name")
    traffic: dict[Name, Flow] = _f({}, description="the traffic flows, by name")
    incidents: tuple[Incident, ...] = _f(
        (), description="what goes wrong and when: links, hosts, DNS, DNSBLs, policies"
    )
    simulation: Simulation = Field(
        default_factory=Simulation, description="how the run is executed and recorded"
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return _fill_defaults(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _references(self, info: ValidationInfo) -> Scenario:
        if isinstance(info.context, dict) and info.context.get("skip_references"):
            return self
        from .checks import reference_problems

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
