"""Paths into a scenario: walking the schema's types, formatting pydantic locations,
and parsing ``--set`` paths (``hosts.out.postfix.relayhost``, ``links[2].latency``,
``dns."new.example".mx``)."""

from __future__ import annotations

import re
import types
import typing
from typing import TypeGuard, Union, get_args, get_origin

from pydantic import BaseModel

from .schema import Dist, PerMessage, RateProfile, Scenario

OPAQUE: tuple[type[BaseModel], ...] = (Dist, PerMessage, RateProfile)
"""Models with their own YAML forms: a path may go into them only where the data has keys."""

ROOT: object = Scenario


def unwrap(tp: object) -> object:
    """Strip ``Annotated`` and ``None`` from a union; prefer a model, mapping or list member."""
    while True:
        origin = get_origin(tp)
        if origin is typing.Annotated:
            tp = get_args(tp)[0]
            continue
        if origin is Union or origin is types.UnionType:
            members = [a for a in get_args(tp) if a is not type(None)]
            structured = [
                m for m in members if is_model(m) or get_origin(unwrap(m)) in (dict, tuple, list)
            ]
            tp = (structured or members)[0]
            continue
        return tp


def is_model(tp: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def is_open_model(tp: object) -> TypeGuard[type[BaseModel]]:
    """A model whose fields are YAML keys (not one of the OPAQUE short-form models)."""
    return is_model(tp) and not issubclass(tp, OPAQUE)


def kind_of(tp: object) -> str:
    """'model', 'dict', 'list' or 'leaf' (leaves include the OPAQUE models)."""
    tp = unwrap(tp)
    if is_open_model(tp):
        return "model"
    origin = get_origin(tp)
    if origin is dict:
        return "dict"
    if origin in (tuple, list):
        return "list"
    return "leaf"


def field_names(tp: object) -> list[str]:
    tp = unwrap(tp)
    return list(tp.model_fields) if is_open_model(tp) else []


def step(tp: object, segment: str | int) -> object:
    """The type found at ``segment`` below a value of type ``tp``; KeyError if none."""
    tp = unwrap(tp)
    kind = kind_of(tp)
    if is_open_model(tp):  # kind "model"
        if isinstance(segment, str) and segment in tp.model_fields:
            return tp.model_fields[segment].annotation
        raise KeyError(segment)
    if kind == "dict":
        return get_args(tp)[1]
    if kind == "list" and isinstance(segment, int):
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if 0 <= segment < len(args):
            return args[segment]
    raise KeyError(segment)


def type_at(loc: tuple[str | int, ...]) -> object:
    """The schema type at a pydantic location, or None when the path leaves the schema."""
    tp = ROOT
    for segment in loc:
        try:
            tp = step(tp, segment)
        except KeyError:
            return None
    return tp


_TYPE_TAG = re.compile(r"^(function-|lax-|json-or-python|tagged-union|is-instance|union\[)|\[.*\]$")


def format_loc(loc: tuple[str | int, ...], data: object) -> str:
    """A pydantic location as a YAML path, walking ``data`` to tell list items from keys."""
    text = ""
    node = data
    for segment in loc:
        if segment == "[key]":
            continue
        if (
            isinstance(segment, str)
            and _TYPE_TAG.search(segment)
            and not (isinstance(node, dict) and segment in node)
        ):
            continue
        if isinstance(segment, int) and isinstance(node, list | tuple):
            text += f"[{segment}]"
            node = node[segment] if 0 <= segment < len(node) else None
        else:
            text += f".{segment}" if text else str(segment)
            node = node.get(segment) if isinstance(node, dict) else None
    return text


def format_segments(segments: list[str | int]) -> str:
    text = ""
    for segment in segments:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            text += f".{segment}" if text else segment
    return text


# --set paths ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<quoted>"[^"]*"|'[^']*')
      | \[(?P<index>-?\d+)\]
      | \[(?P<bracket>[^\]]+)\]
      | (?P<name>[^.\[\]"']+)
    )""",
    re.X,
)


class PathSyntaxError(ValueError):
    pass


def parse_path(text: str) -> list[tuple[str, str | int]]:
    """``a.b[2]."c.d"`` -> [("name","a"), ("name","b"), ("index",2), ("quoted","c.d")].

    "quoted" segments (in quotes or brackets) are whole keys that may contain dots.
    Raises PathSyntaxError("bad path 'a..b': empty segment at position 3").
    """

    def bad(what: str) -> PathSyntaxError:
        return PathSyntaxError(f"bad path {text!r}: {what}")

    out: list[tuple[str, str | int]] = []
    pos = 0
    expect_item = True
    while pos < len(text):
        if expect_item and text[pos] == ".":
            raise bad(f"empty segment at position {pos + 1}")
        if not expect_item:
            if text[pos] == ".":
                pos += 1
                expect_item = True
                continue
            if text[pos] != "[":
                raise bad(f"unexpected {text[pos]!r} at position {pos + 1}")
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise bad(f"unexpected {text[pos]!r} at position {pos + 1}")
        if m.group("quoted"):
            out.append(("quoted", m.group("quoted")[1:-1]))
        elif m.group("index") is not None:
            out.append(("index", int(m.group("index"))))
        elif m.group("bracket") is not None:
            out.append(("quoted", m.group("bracket").strip().strip("\"'")))
        else:
            name = m.group("name").strip()
            if not name:
                raise bad(f"empty segment at position {pos + 1}")
            out.append(("name", name))
        pos = m.end()
        expect_item = False
    if expect_item:
        raise bad("it ends with '.'" if text else "it is empty")
    return out
