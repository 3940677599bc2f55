"""Loading a scenario: YAML, ``--set`` overrides, validation, cross-reference checks.

Every problem found is reported at once, in one :class:`ScenarioError`, sorted by path,
in our own words with YAML paths (``hosts.mx1.postfix.maximal_backoff_time: expected a
duration such as '20ms', got 'fast'``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from . import _names, _paths
from ._shape import ShapeError, check_data
from ._yaml import describe_yaml_error, load_yaml
from .checks import reference_problems
from .problems import Problem, ScenarioError
from .raw import YamlMap
from .schema import Scenario
from .traffic import anchor_replays

__all__ = [
    "Problem",
    "ScenarioError",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "with_overrides",
]


# ---------------------------------------------------------------------------------------------
# overrides


def parse_override(text: str) -> tuple[str, object]:
    """``"hosts.out.postfix.maximal_backoff_time=2h"`` -> (path, value).

    The value is read as YAML (``2h`` a string, ``true`` a bool, ``5`` an int, ``[a, b]``
    a list); ``none`` or ``null`` (any case) or ``~`` is None; an empty value is ``""``.
    """
    if "=" not in text:
        raise ValueError(f"expected PATH=VALUE, got {text!r}")
    path, _, raw = text.partition("=")
    path = path.strip()
    if not path:
        raise ValueError(f"expected PATH=VALUE, got {text!r}")
    raw = raw.strip()
    if raw.lower() in ("none", "null", "~"):
        return path, None
    if raw == "":
        return path, ""
    try:
        return path, load_yaml(raw)
    except yaml.YAMLError:
        return path, raw


def _choose_key(
    node: YamlMap, segments: list[tuple[str, str | int]], i: int, value_type: object
) -> tuple[str | int, int]:
    """The key of a mapping at segments[i] and the index after it.

    Keys of mappings such as ``dns`` are domain names with dots: an existing key wins
    (longest first); otherwise the rest of the path is the key when the values are plain,
    or the shortest key that is followed by a field name of the value model (or ends
    the path). Quoted or bracketed segments are always whole keys.
    """
    kind, segment = segments[i]
    if kind == "quoted":
        return segment, i + 1
    end = i
    while end < len(segments) and segments[end][0] == "name":
        end += 1
    names = [str(s) for _, s in segments[i:end]]
    for j in range(len(names), 0, -1):
        if ".".join(names[:j]) in node:
            return ".".join(names[:j]), i + j
    value_kind = _paths.kind_of(value_type)
    if value_kind == "leaf":
        return ".".join(names), end
    if value_kind == "model":
        fields = _paths.field_names(value_type)
        for j in range(1, len(names) + 1):
            if i + j == len(segments) or (j < len(names) and names[j] in fields):
                return ".".join(names[:j]), i + j
    return names[0], i + 1


def _apply_one(root: YamlMap, text: str) -> Problem | None:
    shown_text = text if len(text) <= 80 else text[:77] + "..."
    try:
        path_text, value = parse_override(text)
        segments = _paths.parse_path(path_text)
    except ShapeError as e:
        return Problem(
            text.partition("=")[0].strip() or "--set", f"{e.message} (in --set {shown_text})"
        )
    except ValueError as e:
        return Problem("--set", str(e))
    where = f"(in --set {shown_text})"
    node: object = root
    tp: object = _paths.ROOT
    shown: list[str | int] = []
    i = 0
    while i < len(segments):
        kind, segment = segments[i]
        structure = _paths.kind_of(tp)
        here = _paths.format_segments([*shown, segment])
        if structure == "list" or kind == "index":
            if kind != "index":
                return Problem(here, f"expected a list index such as [0] here {where}")
            if not isinstance(node, list):
                return Problem(_paths.format_segments(shown) or here, f"is not a list {where}")
            assert isinstance(segment, int)
            if not -len(node) <= segment < len(node):
                return Problem(here, f"no such item: the list has {len(node)} {where}")
            key: str | int = segment % len(node)
            try:
                next_tp = _paths.step(tp, key) if structure == "list" else None
            except KeyError:
                next_tp = None
            i += 1
        elif structure == "model":
            if segment not in _paths.field_names(tp):
                fields = _paths.field_names(tp)
                return Problem(here, f"unknown field{_names.suggest(str(segment), fields)} {where}")
            key = segment
            next_tp = _paths.step(tp, key)
            i += 1
        elif structure == "dict":
            if not isinstance(node, dict):
                return Problem(_paths.format_segments(shown), f"is not a mapping {where}")
            value_type = _paths.step(tp, "")
            key, i = _choose_key(node, segments, i, value_type)
            here = _paths.format_segments([*shown, key])
            next_tp = value_type
        else:  # a leaf with structure in the data (such as {lognormal: {...}})
            if not isinstance(node, dict) or kind == "index":
                return Problem(here, f"no such setting {where}")
            if i + 1 < len(segments) and segment not in node:
                return Problem(here, f"no such setting {where}")
            key, next_tp = segment, None
            i += 1
        shown.append(key)

        if i == len(segments):
            if not _put(node, key, value):
                return Problem(_paths.format_segments(shown[:-1]), f"is not a mapping {where}")
            return None

        child = _get(node, key)
        if child is None:
            if next_tp is not None and _paths.kind_of(next_tp) in ("model", "dict"):
                child = {}
                if not _put(node, key, child):
                    return Problem(_paths.format_segments(shown[:-1]), f"is not a mapping {where}")
            else:
                return Problem(_paths.format_segments(shown), f"no such setting {where}")
        elif _paths.kind_of(next_tp) in ("model", "dict") and not isinstance(child, dict):
            return Problem(_paths.format_segments(shown), f"is not a mapping {where}")
        node = child
        tp = next_tp
    return None


def _get(node: object, key: str | int) -> object:
    """``node[key]`` of a mapping, or of a list at an index; None if there is none."""
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int):
        return node[key]
    return None


def _put(node: object, key: str | int, value: object) -> bool:
    """Set ``node[key]`` in a mapping, or in a list at an index; False if ``node`` is
    neither (the data has a value where the path needs a mapping)."""
    if isinstance(node, dict):
        node[key] = value
        return True
    if isinstance(node, list) and isinstance(key, int):
        node[key] = value
        return True
    return False


def _apply(data: YamlMap, overrides: Sequence[str]) -> tuple[YamlMap, list[Problem]]:
    result = copy.deepcopy(data)
    problems = [p for p in (_apply_one(result, text) for text in overrides) if p is not None]
    return result, problems


def apply_overrides(data: YamlMap, overrides: Sequence[str]) -> YamlMap:
    """A copy of ``data`` with ``PATH=VALUE`` overrides applied (``data`` is left alone).

    Raises :class:`ScenarioError` naming every override whose path is not in the schema.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    result, problems = _apply(data, overrides)
    if problems:
        raise ScenarioError(problems)
    return result


# ---------------------------------------------------------------------------------------------
# pydantic errors in our words


def _num(x: object) -> str:
    if isinstance(x, int) and not isinstance(x, bool) and abs(x) >= 10**15:
        return f"{x:.3g}"  # not 309 digits
    return f"{x:g}" if isinstance(x, float) else str(x)


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    got = _names.got(value)
    loc = error["loc"]
    if kind == "missing":
        return "missing list item" if loc and isinstance(loc[-1], int) else "required field missing"
    if kind == "extra_forbidden":
        parent = _paths.type_at(tuple(loc[:-1]))
        fields = _paths.field_names(parent) if parent is not None else []
        hint = _names.suggest(str(loc[-1]), fields)
        if not hint and fields:
            hint = f"; expected one of {', '.join(fields)}"
        return f"unknown field{hint}"
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error") or error["msg"])
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"expected one of {expected}, got {got}"
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return f"expected an integer, got {got}"
    if kind in ("float_type", "float_parsing", "finite_number"):
        return f"expected a number, got {got}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {got}"
    if kind in ("string_type", "string_unicode"):
        return f"expected a string, got {got}"
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return f"expected a mapping, got {got}"
    if kind in ("tuple_type", "list_type", "iterable_type", "set_type", "frozen_set_type"):
        return f"expected a list, got {got}"
    comparisons = {
        "greater_than": ("gt", "greater than"),
        "greater_than_equal": ("ge", "at least"),
        "less_than": ("lt", "less than"),
        "less_than_equal": ("le", "at most"),
    }
    if kind in comparisons:
        key, words = comparisons[kind]
        return f"must be {words} {_num(ctx.get(key))}, got {_num(value)}"
    if kind in ("too_short", "string_too_short"):
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"needs at least {minimum} items"
    if kind in ("too_long", "string_too_long"):
        return f"has too many items: at most {ctx.get('max_length')} allowed"
    text = str(error.get("msg", "invalid value")).split(" or instance of ")[0]
    return f"{text.replace('Input should be ', 'expected ')}, got {got}"


def validation_problems(error: ValidationError, data: object) -> list[Problem]:
    """A pydantic ``ValidationError`` as problems with YAML paths and our wording."""
    return [
        Problem(_paths.format_loc(tuple(e["loc"]), data), _message(e))
        for e in error.errors(include_url=False)
    ]


# ---------------------------------------------------------------------------------------------
# loading


def _is_path(text: str) -> bool:
    """Whether a one-line string names a file rather than being YAML text: it names
    something that exists, ends in .yaml/.yml, or has no ':' (a scenario's YAML
    needs one) and is not a flow collection."""
    stripped = text.strip()
    return (
        Path(text).exists()
        or stripped.endswith((".yaml", ".yml"))
        or (":" not in stripped and not stripped.startswith(("{", "[")))
    )


def _read(source: str | os.PathLike[str]) -> tuple[str, Path | None]:
    """The scenario's text, and the directory of its file (None for text)."""
    if isinstance(source, os.PathLike):
        path = Path(source)
    elif "\n" in source or not source.strip() or not _is_path(source):
        return source, None  # YAML text
    else:
        path = Path(source)
    if path.is_dir():
        raise ScenarioError(
            [Problem("<file>", f"cannot read {str(path)!r}: it is a directory, not a file")]
        )
    if not path.exists():
        hint = "" if path.suffix else " (did you mean a .yaml file?)"
        raise ScenarioError([Problem("<file>", f"cannot read {str(path)!r}: no such file{hint}")])
    try:
        return path.read_text(encoding="utf-8"), path.parent
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise ScenarioError([Problem("<file>", f"cannot read {str(path)!r}: {reason}")]) from None


def _explicit_null_mx(data: YamlMap) -> list[Problem]:
    """``mx: null`` unquoted is YAML's null, which would mean an implicit MX: ask to choose."""
    problems = []
    dns = data.get("dns")
    for domain, zone in dns.items() if isinstance(dns, dict) else ():
        if isinstance(zone, dict) and "mx" in zone and zone["mx"] is None:
            problems.append(
                Problem(
                    f"dns.{domain}.mx",
                    "is empty: write mx: 'null' (quoted) for a null MX (RFC 7505), or leave "
                    "mx out for an implicit MX",
                )
            )
    return problems


def load_scenario(
    path_or_text: str | os.PathLike[str], *, overrides: Sequence[str] = ()
) -> Scenario:
    """Read, override, validate and cross-check a scenario.

    ``path_or_text`` is a path (a ``Path``, or a string naming a file) or YAML text.
    ``overrides`` are ``PATH=VALUE`` strings as given to ``--set``. Raises
    :class:`ScenarioError` listing every problem found.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    text, directory = _read(path_or_text)
    try:
        data = load_yaml(text)
    except yaml.YAMLError as e:
        raise ScenarioError([Problem("<file>", describe_yaml_error(e))]) from None
    except ShapeError as e:
        raise ScenarioError([Problem(e.path or "<file>", e.message)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem("<file>", f"expected a mapping of scenario fields, got {_names.got(data)}")]
        )
    if directory is not None:
        anchor_replays(data, directory)
    problems = _explicit_null_mx(data)
    data, override_problems = _apply(data, overrides)
    return _validate(data, problems + override_problems)


def with_overrides(scenario: Scenario, overrides: Sequence[str]) -> Scenario:
    """``scenario`` with ``PATH=VALUE`` overrides applied, validated and checked again.

    For sweeps over a loaded scenario; the result equals loading the file with the same
    overrides. Raises :class:`ScenarioError` like :func:`load_scenario`.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    dumped: YamlMap = {k: v for k, v in scenario.model_dump(mode="json").items()}
    data, problems = _apply(dumped, overrides)
    return _validate(data, problems)


def _validate(data: YamlMap, problems: list[Problem]) -> Scenario:
    try:
        check_data(data)  # --set values can deepen the file's nesting
    except ShapeError as e:
        raise ScenarioError([*problems, Problem(e.path or "<file>", e.message)]) from None
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data, context={"skip_references": True})
    except ValidationError as e:
        problems = problems + validation_problems(e, data)
    problems = problems + reference_problems(data)
    if problems or scenario is None:
        raise ScenarioError(problems)
    return scenario
