"""Message rates over time: :class:`RateProfile` and its kinds (constant, piecewise, diurnal).

YAML: a rate (``3/s``), ``{constant: R}``, ``{piecewise: [{at: T, rate: R}, ...]}`` or
``{diurnal: {peak: R, trough: R, peak_at: "10:00"}}``.

Each kind is a small frozen class that knows its YAML arguments, its JSON Schema, its
checks, its highest rate, its rate at a time and its integral (the expected number of
arrivals, for thinning); :class:`RateProfile` is the stored form, as for distributions.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from . import _names
from .base import Kinds, Model, field, mapping_args, object_schema
from .bounds import MAX_DURATION, MAX_RATE
from .raw import Fields, JsonSchema
from .units import UNIT_SCHEMAS, parse_duration, parse_rate, parse_time_of_day

__all__ = ["DAY", "RATE_KINDS", "RateProfile", "RateProfileForm"]

DAY = 86400.0
"""Seconds per day: the period of a diurnal rate profile. Simulated time 0 is midnight."""


class RateKind:
    """One kind of rate profile. Subclasses are frozen dataclasses of its parameters."""

    name: ClassVar[str]
    stored: ClassVar[tuple[str, ...]]  # the RateProfile fields of its parameters, in order
    example: ClassVar[object]  # a YAML example, for the JSON Schema

    @classmethod
    def of(cls, p: RateProfile) -> RateKind:
        return cls(*(getattr(p, key) for key in cls.stored))

    @classmethod
    def from_yaml(cls, args: object) -> Fields:
        """The model fields of ``{name: args}``."""
        raise NotImplementedError

    @classmethod
    def json_schema(cls) -> JsonSchema:
        """The JSON Schema of the kind's arguments."""
        raise NotImplementedError

    def check(self) -> None:
        """ValueError if the parameters do not make a profile."""

    def max_rate(self) -> float:
        raise NotImplementedError

    def rate_at(self, t: float) -> float:
        raise NotImplementedError

    def expected_count(self, t0: float, t1: float) -> float:
        """The integral of the rate from ``t0`` to ``t1`` (``t1 > t0``)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(RateKind):
    rate: float
    name: ClassVar[str] = "constant"
    stored: ClassVar[tuple[str, ...]] = ("rate",)
    example: ClassVar[object] = "3/s"

    @classmethod
    def from_yaml(cls, args: object) -> Fields:
        return {"rate": parse_rate(args)}

    @classmethod
    def json_schema(cls) -> JsonSchema:
        return UNIT_SCHEMAS["rate"]

    def max_rate(self) -> float:
        return self.rate

    def rate_at(self, t: float) -> float:
        return self.rate

    def expected_count(self, t0: float, t1: float) -> float:
        return self.rate * (t1 - t0)


@dataclass(frozen=True)
class Piecewise(RateKind):
    """Piecewise constant: each step's rate from its time to the next step's."""

    steps: tuple[tuple[float, float], ...]
    name: ClassVar[str] = "piecewise"
    stored: ClassVar[tuple[str, ...]] = ("steps",)
    example: ClassVar[object] = {
        "piecewise": [{"at": 0, "rate": "1/s"}, {"at": "2h", "rate": "5/s"}]
    }

    @classmethod
    def from_yaml(cls, args: object) -> Fields:
        if not isinstance(args, list | tuple):
            raise ValueError(f"expected a list of {{at: T, rate: R}} steps, got {_names.got(args)}")
        steps = []
        for i, step in enumerate(args):
            try:
                step = mapping_args("step", step, ("at", "rate"))
                steps.append((parse_duration(step["at"]), parse_rate(step["rate"])))
            except ValueError as e:
                raise ValueError(f"step {i + 1}: {e}") from None
        return {"steps": steps}

    @classmethod
    def json_schema(cls) -> JsonSchema:
        step = object_schema(
            {"at": UNIT_SCHEMAS["duration"], "rate": UNIT_SCHEMAS["rate"]}, ["at", "rate"]
        )
        return {"type": "array", "minItems": 1, "items": step}

    def check(self) -> None:
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

    @cached_property
    def _times(self) -> list[float]:
        return [s for s, _ in self.steps]

    def max_rate(self) -> float:
        return max(r for _, r in self.steps)

    def rate_at(self, t: float) -> float:
        i = bisect.bisect_right(self._times, t) - 1
        return self.steps[max(i, 0)][1]

    def expected_count(self, t0: float, t1: float) -> float:
        total = 0.0
        bounds = [s for s, _ in self.steps[1:]] + [math.inf]
        for (start, rate), end in zip(self.steps, bounds, strict=True):
            lo, hi = max(t0, start if start > 0 else -math.inf), min(t1, end)
            if hi > lo:
                total += rate * (hi - lo)
        return total


@dataclass(frozen=True)
class Diurnal(RateKind):
    """A 24 h cosine from ``trough`` to ``peak``, highest at ``peak_at``."""

    peak: float
    trough: float
    peak_at: float
    name: ClassVar[str] = "diurnal"
    stored: ClassVar[tuple[str, ...]] = ("peak", "trough", "peak_at")
    example: ClassVar[object] = {"diurnal": {"peak": "5/s", "trough": "0.2/s", "peak_at": "10:00"}}

    @classmethod
    def from_yaml(cls, args: object) -> Fields:
        args = mapping_args(cls.name, args, ("peak",), ("trough", "peak_at"))
        out: Fields = {"peak": parse_rate(args["peak"])}
        if "trough" in args:
            out["trough"] = parse_rate(args["trough"])
        if "peak_at" in args:
            out["peak_at"] = parse_time_of_day(args["peak_at"])
        return out

    @classmethod
    def json_schema(cls) -> JsonSchema:
        rate = UNIT_SCHEMAS["rate"]
        return object_schema(
            {"peak": rate, "trough": rate, "peak_at": UNIT_SCHEMAS["time of day"]}, ["peak"]
        )

    def check(self) -> None:
        if self.trough > self.peak:
            raise ValueError("diurnal: trough must not exceed peak")

    def max_rate(self) -> float:
        return self.peak

    def rate_at(self, t: float) -> float:
        phase = 2 * math.pi * (t - self.peak_at) / DAY
        return self.trough + (self.peak - self.trough) * (1 + math.cos(phase)) / 2

    def expected_count(self, t0: float, t1: float) -> float:
        amp = (self.peak - self.trough) / 2
        w = 2 * math.pi / DAY
        sin_part = math.sin(w * (t1 - self.peak_at)) - math.sin(w * (t0 - self.peak_at))
        return (self.trough + amp) * (t1 - t0) + amp * sin_part / w


_CLASSES: dict[str, type[RateKind]] = {k.name: k for k in (Constant, Piecewise, Diurnal)}
RATE_KINDS = Kinds("rate profile", tuple(_CLASSES))


class RateProfile(Model):
    """A message rate over time: constant, piecewise constant, or diurnal (a 24 h cosine).

    YAML: a rate (``3/s``), ``{constant: R}``, ``{piecewise: [{at: T, rate: R}, ...]}`` or
    ``{diurnal: {peak: R, trough: R, peak_at: "10:00"}}``.
    """

    kind: Literal["constant", "piecewise", "diurnal"] = field(description="which profile")
    rate: float = field(0.0, ge=0, le=MAX_RATE, description="constant: messages per second")
    steps: tuple[tuple[float, float], ...] = field(
        (), description="piecewise: (from time, messages per second) pairs, the first at 0"
    )
    peak: float = field(
        0.0, ge=0, le=MAX_RATE, description="diurnal: highest rate (messages per second)"
    )
    trough: float = field(
        0.0, ge=0, le=MAX_RATE, description="diurnal: lowest rate, 12 h after the peak"
    )
    peak_at: float = field(
        36000.0,
        ge=0,
        lt=DAY,
        description="diurnal: time of day of the peak (seconds after "
        "midnight; simulated time 0 is midnight)",
    )

    @cached_property
    def form(self) -> RateKind:
        """The kind object: the parameters of this kind, and its formulas."""
        return _CLASSES[self.kind].of(self)

    @model_validator(mode="after")
    def _check(self) -> RateProfile:
        self.form.check()
        return self

    def max_rate(self) -> float:
        """The highest rate the profile reaches (per second): the bound for thinning."""
        return self.form.max_rate()

    def rate_at(self, t: float) -> float:
        """The rate (per second) at simulated time ``t`` (seconds; 0 is midnight)."""
        return self.form.rate_at(t)

    def expected_count(self, t0: float, t1: float) -> float:
        """The integral of the rate from ``t0`` to ``t1``: the expected number of arrivals."""
        return 0.0 if t1 <= t0 else self.form.expected_count(t0, t1)


def rate_from_yaml(value: object) -> object:
    """A rate profile's YAML form (or its ``model_dump()``) as :class:`RateProfile` fields."""
    if isinstance(value, RateProfile) or (isinstance(value, dict) and "kind" in value):
        return value
    if not isinstance(value, dict):
        return {"kind": "constant", "rate": parse_rate(value)}
    kind, args = RATE_KINDS.split(value)
    try:
        return {"kind": kind, **_CLASSES[kind].from_yaml(args)}
    except ValueError as e:
        text = str(e)
        raise ValueError(text if text.startswith(kind) else f"{kind}: {text}") from None


RATE_SCHEMA: JsonSchema = {
    "description": "a rate (a constant), or a one-key mapping: " + ", ".join(_CLASSES),
    "anyOf": [UNIT_SCHEMAS["rate"]]
    + [object_schema({k.name: k.json_schema()}, [k.name]) for k in _CLASSES.values()],
    "examples": [k.example for k in _CLASSES.values()],
}
"""The JSON Schema of a rate profile's YAML forms, from its kinds."""

RateProfileForm: TypeAlias = Annotated[
    RateProfile, BeforeValidator(rate_from_yaml), WithJsonSchema(RATE_SCHEMA)
]
"""A :class:`RateProfile` written in its YAML forms."""
