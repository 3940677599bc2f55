"""The types of raw scenario data (what YAML gave, before validation) and of the JSON
Schema fragments the format is described by.

Raw data may hold anything YAML can say, so it is typed ``object`` and the code that
reads it narrows each value with ``isinstance`` before using it; the short forms'
fields go to pydantic, which validates each.
"""

from __future__ import annotations

from typing import TypeAlias

__all__ = ["Fields", "JsonSchema", "YamlMap"]

YamlMap: TypeAlias = dict[object, object]
"""A YAML mapping as loaded: keys and values of any YAML type, not yet checked."""

Fields: TypeAlias = dict[str, object]
"""A model's fields as read from a short form, for pydantic to validate."""

JsonSchema: TypeAlias = dict[str, object]
"""A JSON Schema (or a fragment of one), as ``json.dumps`` writes it."""
