"""YAML reading for scenarios: safe, no base-60 numbers, duplicate keys are errors.

PyYAML follows YAML 1.1, where an unquoted ``10:00`` is the base-60 integer 600 and an
unquoted ``07:30`` is 450. In a scenario ``10:00`` is a time of day, so this loader
resolves such scalars as strings. It also refuses duplicate mapping keys (PyYAML
silently keeps the last one, which would hide a second ``out:`` host).
"""

from __future__ import annotations

import re

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode

from ._shape import check_text
from .raw import YamlMap

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"


class ScenarioLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` without sexagesimal numbers and with duplicate-key errors."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> YamlMap:
        seen: dict[object, yaml.Mark] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue
            if first is not None:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key!r} (first at line {first.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark
        mapping: YamlMap = super().construct_mapping(node, deep=deep)
        return mapping


ScenarioLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ScenarioLoader.add_implicit_resolver(
    _INT,
    re.compile(
        r"""^(?:[-+]?0b[0-1_]+
            |[-+]?0[0-7_]+
            |[-+]?(?:0|[1-9][0-9_]*)
            |[-+]?0x[0-9a-fA-F_]+)$""",
        re.X,
    ),
    list("-+0123456789"),
)
ScenarioLoader.add_implicit_resolver(
    _FLOAT,
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
            |\.[0-9_]+(?:[eE][-+][0-9]+)?
            |[-+]?\.(?:inf|Inf|INF)
            |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def load_yaml(text: str) -> object:
    """Parse ``text``; raises ``yaml.YAMLError`` (use :func:`describe_yaml_error`), or
    :class:`~._shape.ShapeError` for text nested too deeply or too big with its aliases
    expanded (checked first, so that the parser never recurses that far)."""
    check_text(text, ScenarioLoader)
    return yaml.load(text, Loader=ScenarioLoader)


def describe_yaml_error(error: yaml.YAMLError) -> str:
    """'YAML syntax error at line 3, column 7: mapping values are not allowed here'."""
    if isinstance(error, yaml.MarkedYAMLError):
        mark = error.problem_mark or error.context_mark
        what = error.problem or error.context or "invalid YAML"
        if isinstance(error, ConstructorError) and "duplicate key" in what:
            kind = "YAML error"
        else:
            kind = "YAML syntax error"
        if mark is not None:
            return f"{kind} at line {mark.line + 1}, column {mark.column + 1}: {what}"
        return f"{kind}: {what}"
    return f"YAML error: {error}"
