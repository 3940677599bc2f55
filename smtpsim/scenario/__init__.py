"""The YAML scenario format: schema, units, loading, ``--set`` overrides, JSON Schema.

Pure data: this package imports pydantic, PyYAML and the standard library only, never
the simulation runtime. The reference is ``docs/scenario-format.md``.

    from smtpsim.scenario import load_scenario
    scenario = load_scenario("scenarios/blacklisting-incident.yaml",
                             overrides=["hosts.out.postfix.smtp_fallback_relay=none"])
"""

from . import units
from .json_schema import scenario_json_schema
from .load import apply_overrides, load_scenario, parse_override, with_overrides
from .problems import Problem, ScenarioError
from .schema import (
    DEFAULT_SIZE_CDF,
    Burst,
    Dist,
    DurationDist,
    Flow,
    FlowLink,
    Host,
    Link,
    PerMessage,
    Postfix,
    Processing,
    RateProfile,
    Recipients,
    Scenario,
    Simulation,
    SizeDist,
    Zone,
)
from .tls_checks import tls_warnings
from .units import Bandwidth, Duration, Fraction, Rate, Size, TimeOfDay

__all__ = [
    "DEFAULT_SIZE_CDF",
    "Bandwidth",
    "Burst",
    "Dist",
    "Duration",
    "DurationDist",
    "Flow",
    "FlowLink",
    "Fraction",
    "Host",
    "Link",
    "PerMessage",
    "Postfix",
    "Problem",
    "Processing",
    "Rate",
    "RateProfile",
    "Recipients",
    "Scenario",
    "ScenarioError",
    "Simulation",
    "Size",
    "SizeDist",
    "TimeOfDay",
    "Zone",
    "apply_overrides",
    "load_scenario",
    "parse_override",
    "scenario_json_schema",
    "tls_warnings",
    "units",
    "with_overrides",
]
