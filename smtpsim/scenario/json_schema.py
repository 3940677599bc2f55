"""The JSON Schema (draft 2020-12) of scenario files, for editors and other tools.

Derived from the models: pydantic writes the schema of every model; the unit types and
the short forms (distributions, rate profiles) are moved under ``$defs`` and referenced
where they occur. The short forms' schemas come from their kind classes
(:func:`~smtpsim.scenario.distributions.dist_schema`,
:data:`~smtpsim.scenario.rates.RATE_SCHEMA`), as the YAML parsers do.
"""

from __future__ import annotations

import copy

from .distributions import dist_schema
from .rates import RATE_SCHEMA
from .raw import JsonSchema
from .schema import Scenario
from .units import UNIT_SCHEMAS

__all__ = ["FORM_SCHEMAS", "scenario_json_schema"]

FORM_SCHEMAS: dict[str, JsonSchema] = {
    "DurationDist": dist_schema("duration"),
    "SizeDist": dist_schema("size"),
    "RateProfile": RATE_SCHEMA,
}
"""JSON Schemas of the YAML short forms, by the name they get under ``$defs``."""

_UNIT_DEFS = {
    "Duration": "duration",
    "Size": "size",
    "Bandwidth": "bandwidth",
    "Rate": "rate",
    "Fraction": "fraction",
    "TimeOfDay": "time of day",
}


def _use_refs(node: object, targets: dict[str, JsonSchema]) -> object:
    """Replace inlined copies of ``targets`` (matched by their anyOf) with ``$ref``s."""
    if isinstance(node, list):
        return [_use_refs(item, targets) for item in node]
    if isinstance(node, dict):
        return _refs_in(node, targets)
    return node


def _refs_in(node: JsonSchema, targets: dict[str, JsonSchema]) -> JsonSchema:
    """``_use_refs`` of a schema object."""
    for name, target in targets.items():
        if node.get("anyOf") == target["anyOf"]:
            rest = {k: v for k, v in node.items() if target.get(k) != v}
            return {"$ref": f"#/$defs/{name}", **_refs_in(rest, targets)}
    return {k: _use_refs(v, targets) for k, v in node.items()}


def scenario_json_schema() -> JsonSchema:
    """The JSON Schema (draft 2020-12) of scenario files, with descriptions and examples.

    It describes the YAML forms (units as strings, short forms of distributions and rate
    profiles); unit types and short forms are shared under ``$defs``.
    """
    forms = copy.deepcopy(FORM_SCHEMAS)
    units = {name: copy.deepcopy(UNIT_SCHEMAS[unit]) for name, unit in _UNIT_DEFS.items()}
    schema = _refs_in(Scenario.model_json_schema(mode="validation"), forms)
    schema = _refs_in(schema, units)
    found = schema.get("$defs")
    defs = dict(found) if isinstance(found, dict) else {}
    for name, form in forms.items():
        defs[name] = _use_refs(form, units)
    for name, unit in units.items():
        defs[name] = unit
    schema["$defs"] = dict(sorted(defs.items()))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://smtpsim.example/schema/scenario.json",
        **{k: v for k, v in schema.items() if k != "title"},
        "title": "smtpsim scenario",
    }
