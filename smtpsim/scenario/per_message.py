"""Recipients per message: :class:`PerMessage` and its kinds (mean, fixed, table).

YAML: ``{mean: m}`` (1 + Poisson(m - 1)), ``{fixed: n}``, or ``{table: {n: weight, ...}}``.
Each kind is a small frozen class that knows its YAML argument, its JSON Schema, its
checks and its mean; :class:`PerMessage` is the stored form, as for distributions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, ClassVar, Literal, TypeAlias

from pydantic import BeforeValidator, WithJsonSchema, model_validator

from . import _names
from .base import Kinds, Model, field, object_schema, pairs
from .bounds import MAX_RECIPIENTS_PER_MESSAGE, MAX_WEIGHT
from .raw import Fields, JsonSchema

__all__ = ["PER_MESSAGE_KINDS", "PerMessage", "PerMessageForm"]


class CountKind:
    """One kind of per-message count. Subclasses are frozen dataclasses of its parameter."""

    name: ClassVar[str]
    schema: ClassVar[JsonSchema]  # the JSON Schema of its argument
    example: ClassVar[object]  # its argument in an example

    @classmethod
    def of(cls, p: PerMessage) -> CountKind:
        """The kind object of a stored count of this kind (its parameter: the field named
        after the kind)."""
        return cls(*(getattr(p, key) for key in (cls.name,)))

    @classmethod
    def from_yaml(cls, arg: object) -> Fields:
        """The model fields of ``{name: arg}``."""
        return {cls.name: arg}

    def check(self) -> None:
        """ValueError if the parameter does not make a count."""

    def mean(self) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Mean(CountKind):
    """1 + Poisson(mean - 1) recipients."""

    mean_: float
    name: ClassVar[str] = "mean"
    schema: ClassVar[JsonSchema] = {"type": "number", "minimum": 1}
    example: ClassVar[object] = 1.66

    def mean(self) -> float:
        return self.mean_


@dataclass(frozen=True)
class Fixed(CountKind):
    fixed: int
    name: ClassVar[str] = "fixed"
    schema: ClassVar[JsonSchema] = {"type": "integer", "minimum": 1}
    example: ClassVar[object] = 1

    def mean(self) -> float:
        return float(self.fixed)


@dataclass(frozen=True)
class Table(CountKind):
    """(recipients, weight) pairs: a count drawn with probability proportional to weight."""

    table: tuple[tuple[int, float], ...]
    name: ClassVar[str] = "table"
    schema: ClassVar[JsonSchema] = {
        "type": "object",
        "additionalProperties": {"type": "number", "exclusiveMinimum": 0},
    }
    example: ClassVar[object] = {"1": 0.92, "2": 0.05}

    @classmethod
    def from_yaml(cls, arg: object) -> Fields:
        rows = []
        for n, w in pairs(cls.name, arg, "[recipients, weight]"):
            try:
                if not isinstance(n, str | int | float) or not isinstance(w, str | int | float):
                    raise TypeError
                rows.append((int(n), float(w)))
            except (TypeError, ValueError):
                raise ValueError(
                    f"table: expected recipients: weight numbers, got {_names.got(n)}: "
                    f"{_names.got(w)}"
                ) from None
        return {"table": sorted(rows)}

    def check(self) -> None:
        if not self.table:
            raise ValueError("table: needs at least one entry")
        for n, w in self.table:
            if n < 1 or w <= 0:
                raise ValueError(f"table: recipients must be >= 1 and weights > 0, got {n}: {w:g}")
            if n > MAX_RECIPIENTS_PER_MESSAGE or w > MAX_WEIGHT:
                raise ValueError(
                    f"table: recipients must be at most {MAX_RECIPIENTS_PER_MESSAGE} and "
                    f"weights at most {MAX_WEIGHT:g} (the plausibility bounds), got {n}: {w:g}"
                )
        counts = [n for n, _ in self.table]
        if counts != sorted(set(counts)):
            raise ValueError("table: recipient counts must be distinct and ascending")

    def mean(self) -> float:
        total = sum(w for _, w in self.table)
        return sum(n * w for n, w in self.table) / total


_CLASSES: dict[str, type[CountKind]] = {k.name: k for k in (Mean, Fixed, Table)}
PER_MESSAGE_KINDS = Kinds("per_message form", tuple(_CLASSES))


class PerMessage(Model):
    """Recipients per message.

    YAML: ``{mean: m}`` (1 + Poisson(m - 1)), ``{fixed: n}``, or ``{table: {n: weight, ...}}``.
    """

    kind: Literal["mean", "fixed", "table"] = field(description="which form")
    mean: float = field(
        1.66,
        ge=1,
        le=MAX_RECIPIENTS_PER_MESSAGE,
        description="mean: 1 + Poisson(mean - 1) recipients",
    )
    fixed: int = field(
        1, ge=1, le=MAX_RECIPIENTS_PER_MESSAGE, description="fixed: always this many recipients"
    )
    table: tuple[tuple[int, float], ...] = field(
        (), description="table: (recipients, weight) pairs, by recipients"
    )

    @cached_property
    def form(self) -> CountKind:
        """The kind object: the parameter of this kind, and its mean."""
        return _CLASSES[self.kind].of(self)

    @model_validator(mode="after")
    def _check(self) -> PerMessage:
        self.form.check()
        return self

    def mean_value(self) -> float:
        """The mean number of recipients per message."""
        return self.form.mean()


def per_message_from_yaml(value: object) -> object:
    """A per-message count's YAML form (or its ``model_dump()``) as :class:`PerMessage` fields."""
    if isinstance(value, PerMessage) or (isinstance(value, dict) and "kind" in value):
        return value
    if not isinstance(value, dict):
        raise ValueError(
            "expected {mean: m}, {fixed: n} or {table: {n: weight, ...}}, got "
            f"{_names.got(value)}"
        )
    kind, arg = PER_MESSAGE_KINDS.split(value)
    return {"kind": kind, **_CLASSES[kind].from_yaml(arg)}


PER_MESSAGE_SCHEMA: JsonSchema = {
    "anyOf": [object_schema({k.name: k.schema}, [k.name]) for k in _CLASSES.values()],
    "examples": [{k.name: k.example} for k in _CLASSES.values()],
}
"""The JSON Schema of the per-message YAML forms, from its kinds."""

PerMessageForm: TypeAlias = Annotated[
    PerMessage, BeforeValidator(per_message_from_yaml), WithJsonSchema(PER_MESSAGE_SCHEMA)
]
"""A :class:`PerMessage` written in its YAML forms."""
