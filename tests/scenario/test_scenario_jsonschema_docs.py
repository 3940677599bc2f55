"""JSON Schema export, the reference page, and the package's import purity."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from scenario_helpers import BASE

from smtpsim.scenario import (
    Scenario,
    ScenarioError,
    _docgen,
    load_scenario,
    scenario_json_schema,
)
from smtpsim.scenario._yaml import load_yaml

DOC = Path(__file__).resolve().parents[2] / "docs" / "scenario-format.md"


def test_json_schema_is_json_and_names_the_top_level() -> None:
    schema = scenario_json_schema()
    text = json.dumps(schema)
    assert json.loads(text) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == list(Scenario.model_fields)
    assert set(schema["required"]) == {"name", "duration", "hosts"}
    assert "errors.pydantic.dev" not in text


def test_json_schema_documents_fields_and_units() -> None:
    schema = scenario_json_schema()
    defs = schema["$defs"]
    postfix = defs["Postfix"]["properties"]["maximal_backoff_time"]
    assert postfix["$ref"] == "#/$defs/Duration"
    assert postfix["default"] == "4000s"
    assert "maximum time between delivery attempts" in postfix["description"]
    duration = defs["Duration"]
    assert {b["type"] for b in duration["anyOf"]} == {"number", "string"}
    assert "5min" in duration["examples"]
    for name in (
        "Size",
        "Bandwidth",
        "Rate",
        "Fraction",
        "TimeOfDay",
        "DurationDist",
        "SizeDist",
        "RateProfile",
    ):
        assert name in defs
    for model in ("Host", "Postfix", "Link", "Zone", "Flow", "Recipients", "Simulation"):
        for field, prop in defs[model]["properties"].items():
            assert prop.get("description"), f"{model}.{field}"


def test_json_schema_accepts_the_yaml_forms() -> None:
    import jsonschema  # the test extra installs it: no skipping

    schema = scenario_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(BASE)) == []
    example = load_yaml(_doc_example())
    assert [e.message for e in validator.iter_errors(example)] == []
    bad = json.loads(json.dumps(BASE))
    bad["hosts"]["out"]["postfx"] = {}
    bad["links"][0]["latency"] = "fast"
    assert len(list(validator.iter_errors(bad))) == 2


def _doc_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"<!-- example -->\n```yaml\n(.*?)```\n<!-- /example -->", text, re.S)
    assert m, "docs/scenario-format.md lost its complete example"
    return m.group(1)


def test_complete_example_in_the_docs_loads() -> None:
    s = load_scenario(_doc_example())
    assert s.name == "outbound-with-fallback"
    assert s.hosts["out"].postfix.smtp_fallback_relay == ("smarthost",)
    assert s.traffic["newsletter"].sender_domain == "corp.example"
    assert s.dns["parked.example"].mx == "null"


def test_every_yaml_block_of_the_docs_with_a_name_loads() -> None:
    text = DOC.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "\nname:" in "\n" + b]
    assert len(blocks) >= 2
    for block in blocks:
        load_scenario(block)


def test_docs_field_tables_are_up_to_date() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert _docgen.update(text) == text, (
        "run: python -m smtpsim.scenario._docgen docs/scenario-format.md"
    )
    for name in _docgen.MODELS:
        assert f"<!-- fields: {name} -->" in text, name


def test_docs_mention_every_field() -> None:
    text = DOC.read_text(encoding="utf-8")
    for model in _docgen.MODELS.values():
        for name, field in model.model_fields.items():
            key = field.alias or name  # the YAML key (`for` is `for_` in Python)
            assert f"| `{key}` |" in text, f"{model.__name__}.{key}"


def test_scenario_package_is_pure_data() -> None:
    # docs/architecture.md, section 2: smtpsim.scenario may import pydantic, pyyaml and
    # the standard library.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import smtpsim.scenario\n"
        "new = set(sys.modules) - before\n"
        "print(','.join(sorted({m.split('.')[0] for m in new} - set(sys.stdlib_module_names))))\n"
        "print(','.join(sorted(m for m in new if m.startswith('smtpsim.')"
        " and not m.startswith('smtpsim.scenario'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    third_party, other_smtpsim = out.stdout.split("\n")[:2]
    allowed = {
        "smtpsim",
        "pydantic",
        "pydantic_core",
        "yaml",
        "typing_extensions",
        "annotated_types",
        "typing_inspection",
        "cython_runtime",
    }
    loaded = {m for m in third_party.split(",") if m and not m.startswith("_")}
    assert loaded <= allowed, loaded - allowed
    assert not loaded & {"simpy", "numpy", "networkx", "pandas", "matplotlib", "scipy"}
    assert other_smtpsim == ""


def test_docs_internal_links_point_at_headings() -> None:
    text = DOC.read_text(encoding="utf-8")
    text_outside_code = re.sub(r"```.*?```", "", text, flags=re.S)
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text_outside_code, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "no internal links found"
    assert links <= anchors, links - anchors


_FORMS: list[tuple[tuple[str, ...], Any]] = [
    # (where in BASE, the YAML value): distributions, rate profiles, per-message counts
    *(
        (("links", 1, "latency"), v)
        for v in (
            "5ms",
            {"constant": "5ms"},
            {"exponential": {"mean": "5ms"}},
            {"lognormal": {"median": "5ms"}},
            {"lognormal": {"median": "5ms", "sigma": 0.3}},
            {"uniform": {"low": "1ms", "high": "2ms"}},
            {"empirical": [["1ms", 0.5], ["2ms", 1]]},
            {"normal": {"mean": "5ms"}},
            {"lognormal": {"median": "5ms", "sigm": 0.3}},
            {"exponential": {}},
            {"uniform": {"low": "1ms"}},
            {"constant": "1ms", "uniform": {}},
            {"lognormal": {"median": "5ms", "sigma": "wide"}},
            "fast",
        )
    ),
    *(
        (("traffic", "staff", "rate"), v)
        for v in (
            "3/s",
            {"constant": "3/s"},
            {"piecewise": [{"at": 0, "rate": "1/s"}]},
            {"diurnal": {"peak": "5/s"}},
            {"diurnal": {"peak": "5/s", "peak_at": "10:00"}},
            {"diurnal": {"trough": "1/s"}},
            {"piecewise": [{"at": 0}]},
            {"weekly": {}},
            {"piecewise": {"at": 0, "rate": "1/s"}},
            "fast",
        )
    ),
    *(
        (("traffic", "staff", "recipients", "per_message"), v)
        for v in (
            {"mean": 2},
            {"fixed": 3},
            {"table": {"1": 0.5, "2": 0.5}},
            {"median": 2},
            {"mean": 2, "fixed": 1},
            3,
            {"table": [1, 2]},
        )
    ),
]


@pytest.mark.parametrize(("where", "value"), _FORMS)
def test_json_schema_and_loader_agree_on_the_short_forms(
    where: tuple[str, ...], value: Any
) -> None:
    """The short forms' JSON Schema is derived from the kinds the loader parses with: a
    form's shape is accepted by both or by neither."""
    import jsonschema

    data = json.loads(json.dumps(BASE))
    node = data
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    by_schema = jsonschema.Draft202012Validator(scenario_json_schema()).is_valid(data)
    try:
        load_scenario(yaml.safe_dump(data))
        by_loader = True
    except ScenarioError:
        by_loader = False
    assert by_schema == by_loader
