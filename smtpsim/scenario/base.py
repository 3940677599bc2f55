"""What every scenario model builds on: the model class, the field helper, names, and
"exactly one kind key".

Every other module of the format imports from here and nothing here imports them, so
the modules stack one way: base, then the short forms (distributions, rates,
per-message counts), then hosts, DNS, policies, traffic and incidents, then the
scenario on top.

"Exactly one kind key" is how the format writes a choice: an incident
(``{link_down: [a, b], at: 1h}``), a policy (``{dnsbl: {...}}``), a distribution
(``{lognormal: {...}}``), a rate profile or a per-message count. :class:`Kinds` holds
the kinds of one such choice and the two ways it is checked: a YAML mapping split into
its kind and arguments (the short forms), and a model whose kinds are optional fields
(:class:`OneOf`, for incidents and policies).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from . import _names
from .raw import JsonSchema, YamlMap

__all__ = [
    "Domain",
    "IPv4",
    "Kinds",
    "Model",
    "Name",
    "OneOf",
    "field",
    "mapping_args",
    "object_schema",
    "pairs",
]


class Model(BaseModel):
    """Base: frozen, no unknown keys, defaults validated (so ``"300s"`` defaults are parsed)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


def field(default: object = ..., *, description: str, **kw: Any) -> Any:
    """``Field`` with a required description. The result is typed as pydantic's ``Field``
    types it (fits any annotation), so a YAML-form default ("300s") may stand for a float;
    ``kw`` are ``Field``'s own keywords."""
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
# exactly one kind key


@dataclass(frozen=True)
class Kinds:
    """The kinds of one choice, in order, and what the choice is called in messages."""

    what: str  # "distribution": in messages about a YAML mapping
    names: tuple[str, ...]
    needs: str = ""  # "an incident" in "an incident needs exactly one of"; default "a <what>"

    def split(self, value: YamlMap) -> tuple[str, object]:
        """A one-key YAML mapping ``{kind: arguments}`` as (kind, arguments)."""
        if len(value) != 1:
            raise ValueError(
                f"expected {self.what} as a one-key mapping ({', '.join(self.names)}), got keys "
                f"{', '.join(map(str, value))}"
            )
        ((kind, args),) = value.items()
        if kind not in self.names:
            raise ValueError(
                f"unknown {self.what} {kind!r}; expected one of {', '.join(self.names)}"
                f"{_names.suggest(str(kind), self.names)}"
            )
        return str(kind), args

    def given(self, model: BaseModel) -> str:
        """The one kind whose field is set on ``model``; ValueError if none or several."""
        given = [k for k in self.names if getattr(model, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"{self.needs or 'a ' + self.what} needs exactly one of {', '.join(self.names)}; "
                f"got {', '.join(given) or 'none'}"
            )
        return given[0]


class OneOf(Model):
    """A model with one optional field per kind, of which exactly one is given."""

    KINDS: ClassVar[Kinds]

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> OneOf:
        self.KINDS.given(self)
        return self

    @property
    def kind(self) -> str:
        """The kind given."""
        return next(k for k in self.KINDS.names if getattr(self, k) is not None)

    @property
    def target(self) -> object:
        """The kind's value."""
        return getattr(self, self.kind)


# ---------------------------------------------------------------------------------------------
# arguments of short forms


def mapping_args(
    kind: str, args: object, keys: tuple[str, ...], optional: tuple[str, ...] = ()
) -> YamlMap:
    """``args`` if it is a mapping with every key of ``keys`` and others from ``optional``."""
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


def pairs(kind: str, args: object, what: str) -> list[tuple[object, object]]:
    """A list of 2-item lists, or a mapping, as a list of pairs."""
    if isinstance(args, dict):
        return list(args.items())
    if isinstance(args, list | tuple) and all(
        isinstance(p, list | tuple) and len(p) == 2 for p in args
    ):
        return [(p[0], p[1]) for p in args]
    raise ValueError(f"{kind}: expected a list of {what} pairs, got {_names.got(args)}")


def object_schema(properties: JsonSchema, required: Iterable[str]) -> JsonSchema:
    """The JSON Schema of a mapping with exactly these keys, ``required`` among them."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }
