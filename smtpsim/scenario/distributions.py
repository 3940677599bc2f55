"""Distributions of durations (seconds) and sizes (bytes): :class:`Dist` and its kinds.

YAML: a plain value (a constant) or a one-key mapping: ``{constant: V}``,
``{exponential: {mean: V}}``, ``{lognormal: {median: V, sigma: s}}``,
``{uniform: {low: V, high: V}}``, ``{empirical: [[V, cdf], ...]}``.

Each kind is a small frozen class that knows its YAML arguments, its JSON Schema, its
checks, its mean and its quantile function; :class:`Dist` is the stored form (one model
with every kind's parameters, so that a scenario's canonical JSON, and its digest, do not
depend on this module's classes) and hands each question to its kind. Drawing samples
needs numpy and so lives with the runtime (``smtpsim.sim.make_sampler``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from statistics import NormalDist
from typing import Annotated, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from . import _names
from .base import Kinds, Model, field, mapping_args, object_schema, pairs
from .bounds import MAX_SIGMA
from .raw import Fields, JsonSchema
from .units import UNIT_SCHEMAS, parse_duration, parse_fraction, parse_size

__all__ = ["DIST_KINDS", "Dist", "DistInfo", "DurationDist", "SizeDist"]

Parse: TypeAlias = Callable[[object], float]
"""The parser of the distribution's unit (``parse_duration`` or ``parse_size``)."""


class DistKind:
    """One kind of distribution. Subclasses are frozen dataclasses of its parameters."""

    name: ClassVar[str]
    unit_args: ClassVar[tuple[str, ...]] = ()  # required, in the distribution's unit
    plain_args: ClassVar[dict[str, JsonSchema]] = {}  # optional numbers: their schema
    stored: ClassVar[tuple[str, ...]]  # the Dist fields of its parameters, in order

    @classmethod
    def of(cls, d: Dist) -> DistKind:
        """The kind object of a stored distribution of this kind."""
        return cls(*(getattr(d, key) for key in cls.stored))

    @classmethod
    def from_yaml(cls, args: object, parse: Parse) -> Fields:
        """The model fields of ``{name: args}``: a mapping of the kind's arguments."""
        args = mapping_args(cls.name, args, cls.unit_args, tuple(cls.plain_args))
        out: Fields = {key: parse(args[key]) for key in cls.unit_args}
        for key in cls.plain_args:
            if key in args:
                value = args[key]
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{key}: expected a number, got {_names.got(value)}")
                out[key] = float(value)
        return out

    @classmethod
    def json_schema(cls, unit: JsonSchema) -> JsonSchema:
        """The JSON Schema of the kind's arguments, values in the ``unit`` schema."""
        return object_schema({**{k: unit for k in cls.unit_args}, **cls.plain_args}, cls.unit_args)

    def check(self) -> None:
        """ValueError if the parameters do not make a distribution."""

    def mean(self) -> float:
        raise NotImplementedError

    def quantile(self, u: float) -> float:
        """The inverse CDF at ``u`` in [0, 1]."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(DistKind):
    value: float
    name: ClassVar[str] = "constant"
    stored: ClassVar[tuple[str, ...]] = ("value",)

    @classmethod
    def from_yaml(cls, args: object, parse: Parse) -> Fields:
        return {"value": parse(args)}

    @classmethod
    def json_schema(cls, unit: JsonSchema) -> JsonSchema:
        return unit

    def mean(self) -> float:
        return self.value

    def quantile(self, u: float) -> float:
        return self.value


@dataclass(frozen=True)
class Exponential(DistKind):
    mean_: float
    name: ClassVar[str] = "exponential"
    unit_args: ClassVar[tuple[str, ...]] = ("mean",)
    stored: ClassVar[tuple[str, ...]] = ("mean",)

    def check(self) -> None:
        if self.mean_ <= 0:
            raise ValueError("exponential: mean must be greater than 0")

    def mean(self) -> float:
        return self.mean_

    def quantile(self, u: float) -> float:
        return math.inf if u == 1 else -self.mean_ * math.log1p(-u)


@dataclass(frozen=True)
class Lognormal(DistKind):
    median: float
    sigma: float
    name: ClassVar[str] = "lognormal"
    unit_args: ClassVar[tuple[str, ...]] = ("median",)
    stored: ClassVar[tuple[str, ...]] = ("median", "sigma")
    plain_args: ClassVar[dict[str, JsonSchema]] = {
        "sigma": {"type": "number", "minimum": 0, "maximum": MAX_SIGMA}
    }

    @classmethod
    def from_yaml(cls, args: object, parse: Parse) -> Fields:
        out = super().from_yaml(args, parse)
        sigma = out.get("sigma", 0.0)
        if isinstance(sigma, float) and sigma > MAX_SIGMA:
            raise ValueError(
                f"sigma must be at most {MAX_SIGMA:g} (the plausibility bound), got {sigma:g}"
            )
        return out

    def check(self) -> None:
        if self.median <= 0:
            raise ValueError("lognormal: median must be greater than 0")

    def mean(self) -> float:
        return self.median * math.exp(self.sigma**2 / 2)

    def quantile(self, u: float) -> float:
        if u in (0, 1) and self.sigma > 0:
            return 0.0 if u == 0 else math.inf
        z = NormalDist().inv_cdf(u) if 0 < u < 1 else 0.0
        return self.median * math.exp(self.sigma * z)


@dataclass(frozen=True)
class Uniform(DistKind):
    low: float
    high: float
    name: ClassVar[str] = "uniform"
    unit_args: ClassVar[tuple[str, ...]] = ("low", "high")
    stored: ClassVar[tuple[str, ...]] = ("low", "high")

    def check(self) -> None:
        if self.low > self.high:
            raise ValueError("uniform: low must not exceed high")

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def quantile(self, u: float) -> float:
        return self.low + u * (self.high - self.low)


@dataclass(frozen=True)
class Empirical(DistKind):
    """A piecewise-linear CDF through (value, cumulative probability) points."""

    points: tuple[tuple[float, float], ...]
    name: ClassVar[str] = "empirical"
    stored: ClassVar[tuple[str, ...]] = ("points",)

    @classmethod
    def from_yaml(cls, args: object, parse: Parse) -> Fields:
        points = pairs(cls.name, args, "[value, cdf]")
        return {"points": [(parse(v), parse_fraction(p)) for v, p in points]}

    @classmethod
    def json_schema(cls, unit: JsonSchema) -> JsonSchema:
        pair = {
            "type": "array",
            "prefixItems": [unit, UNIT_SCHEMAS["fraction"]],
            "minItems": 2,
            "maxItems": 2,
        }
        return {"type": "array", "minItems": 1, "items": pair}

    def check(self) -> None:
        pts = self.points
        if not pts:
            raise ValueError("empirical: needs at least one [value, cdf] point")
        for i, (v, p) in enumerate(pts):
            if v < 0 or not 0 <= p <= 1:
                raise ValueError(f"empirical: point {i + 1} must have value >= 0 and cdf in [0, 1]")
            if i and (v < pts[i - 1][0] or p < pts[i - 1][1]):
                raise ValueError(
                    f"empirical: point {i + 1} goes backwards; values and cdf must not decrease"
                )
        if abs(pts[-1][1] - 1.0) > 1e-9:
            raise ValueError(f"empirical: the last cdf must be 1, got {pts[-1][1]:g}")

    def mean(self) -> float:
        v0, p0 = self.points[0]
        total = v0 * p0
        for (va, pa), (vb, pb) in itertools.pairwise(self.points):
            total += (pb - pa) * (va + vb) / 2
        return total

    def quantile(self, u: float) -> float:
        pts = self.points
        if u <= pts[0][1]:
            return pts[0][0]
        for (va, pa), (vb, pb) in itertools.pairwise(pts):
            if u <= pb and pb > pa:
                return va + (vb - va) * (u - pa) / (pb - pa)
        return pts[-1][0]


_CLASSES: dict[str, type[DistKind]] = {
    k.name: k for k in (Constant, Exponential, Lognormal, Uniform, Empirical)
}
DIST_KINDS = Kinds("distribution", tuple(_CLASSES))


class Dist(Model):
    """A distribution of durations (seconds) or sizes (bytes).

    YAML: a plain value (a constant) or a one-key mapping: ``{constant: V}``,
    ``{exponential: {mean: V}}``, ``{lognormal: {median: V, sigma: s}}``,
    ``{uniform: {low: V, high: V}}``, ``{empirical: [[V, cdf], ...]}``.
    """

    kind: Literal["constant", "exponential", "lognormal", "uniform", "empirical"] = field(
        description="which distribution"
    )
    value: float = field(0.0, ge=0, description="constant: the value")
    mean: float = field(0.0, ge=0, description="exponential: the mean")
    median: float = field(0.0, ge=0, description="lognormal: the median, exp(mu)")
    sigma: float = field(
        0.0, ge=0, le=MAX_SIGMA, description="lognormal: the standard deviation of the log"
    )
    low: float = field(0.0, ge=0, description="uniform: the lower bound")
    high: float = field(0.0, ge=0, description="uniform: the upper bound")
    points: tuple[tuple[float, float], ...] = field(
        (),
        description="empirical: (value, cumulative probability) pairs of a piecewise-linear "
        "CDF; values and probabilities non-decreasing, the last probability 1",
    )

    @cached_property
    def form(self) -> DistKind:
        """The kind object: the parameters of this kind, and its formulas."""
        return _CLASSES[self.kind].of(self)

    @model_validator(mode="after")
    def _check(self) -> Dist:
        self.form.check()
        return self

    def mean_value(self) -> float:
        """The exact mean (for empirical: the mean of the piecewise-linear CDF)."""
        return self.form.mean()

    def quantile(self, u: float) -> float:
        """The inverse CDF at ``u`` in [0, 1]: ``quantile(uniform_random())`` is a sample."""
        if not 0 <= u <= 1:
            raise ValueError(f"quantile: u must be in [0, 1], got {u}")
        return self.form.quantile(u)


class DistInfo:
    """Annotated metadata naming the unit of a distribution type (for documentation)."""

    def __init__(self, unit: str) -> None:
        self.unit = unit


def dist_from_yaml(value: object, parse: Parse) -> object:
    """A distribution's YAML form (or its ``model_dump()``) as :class:`Dist` fields."""
    if isinstance(value, Dist):
        return value
    if isinstance(value, dict) and "kind" in value:  # the model_dump() form: bounds again
        dumped = dict(value)
        for key in ("value", "mean", "median", "low", "high"):
            if isinstance(dumped.get(key), int | float) and not isinstance(dumped[key], bool):
                dumped[key] = parse(dumped[key])
        if isinstance(dumped.get("points"), list | tuple):
            dumped["points"] = [
                (parse(p[0]), p[1]) if isinstance(p, list | tuple) and p else p
                for p in dumped["points"]
            ]
        return dumped
    if not isinstance(value, dict):
        return {"kind": "constant", "value": parse(value)}
    kind, args = DIST_KINDS.split(value)
    try:
        return {"kind": kind, **_CLASSES[kind].from_yaml(args, parse)}
    except ValueError as e:
        text = str(e)
        raise ValueError(text if text.startswith(kind) else f"{kind}: {text}") from None


def dist_schema(unit: str) -> JsonSchema:
    """The JSON Schema of a distribution's YAML forms, from its kinds."""
    v = UNIT_SCHEMAS[unit]
    return {
        "description": f"a {unit} distribution: a plain {unit} (a constant) or a one-key mapping",
        "anyOf": [v]
        + [object_schema({k.name: k.json_schema(v)}, [k.name]) for k in _CLASSES.values()],
    }


DurationDist: TypeAlias = Annotated[
    Dist,
    BeforeValidator(lambda v: dist_from_yaml(v, parse_duration)),
    WithJsonSchema(dist_schema("duration")),
    DistInfo("duration"),
]
"""A :class:`Dist` whose values are durations (seconds)."""

SizeDist: TypeAlias = Annotated[
    Dist,
    BeforeValidator(lambda v: dist_from_yaml(v, parse_size)),
    WithJsonSchema(dist_schema("size")),
    DistInfo("size"),
]
"""A :class:`Dist` whose values are sizes (bytes)."""
