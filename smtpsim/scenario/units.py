"""Units as operators write them: ``250ms``, ``5min``, ``20KiB``, ``100Mbit/s``, ``3/s``, ``1%``.

Each ``parse_*`` function (from :mod:`smtpsim.scenario.unit_parsing`, re-exported here)
takes what YAML gives (a number or a string) and returns a plain float or int in base
units (seconds, bytes, bytes per second, events per second, a fraction, seconds after
midnight), or raises ``ValueError`` with a message such as ``expected a duration such as
'20ms', got 'fast'``.

The ``Annotated`` types (``Duration``, ``Size``, ...) apply those parsers inside
pydantic models and describe the accepted syntax in the JSON Schema. A plain number
is always accepted in the base unit, so ``model_dump()`` output validates again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, TypeAlias

from pydantic import BeforeValidator, WithJsonSchema

from .bounds import MAX_BANDWIDTH, MAX_DURATION, MAX_RATE, MAX_SIZE, MIN_BANDWIDTH
from .raw import JsonSchema
from .unit_parsing import (
    BANDWIDTH_UNITS,
    DURATION_UNITS,
    RATE_UNITS,
    SIZE_UNITS,
    format_duration,
    parse_bandwidth,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
    parse_time_of_day,
)

__all__ = [
    "BANDWIDTH_UNITS",
    "DURATION_UNITS",
    "RATE_UNITS",
    "SIZE_UNITS",
    "UNIT_SCHEMAS",
    "Bandwidth",
    "Duration",
    "Fraction",
    "Rate",
    "Size",
    "TimeOfDay",
    "UnitInfo",
    "format_duration",
    "parse_bandwidth",
    "parse_duration",
    "parse_fraction",
    "parse_rate",
    "parse_size",
    "parse_time_of_day",
]


@dataclass(frozen=True)
class UnitInfo:
    """Marks a unit type (for documentation generators): its name, syntax and examples."""

    name: str
    base: str
    syntax: str
    examples: tuple[str, ...]


UNIT_SCHEMAS: dict[str, JsonSchema] = {}
"""The JSON Schema of each unit type, by ``UnitInfo.name`` (reused by distributions)."""


def _schema(info: UnitInfo, pattern: str, number_schema: JsonSchema) -> JsonSchema:
    schema: JsonSchema = {
        "anyOf": [
            {**number_schema, "description": f"a plain number, in {info.base}"},
            {"type": "string", "pattern": pattern, "description": info.syntax},
        ],
        "examples": list(info.examples),
    }
    UNIT_SCHEMAS[info.name] = schema
    return schema


_NUM_PAT = r"\+?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?"


def _alts(units: Iterable[str]) -> str:
    return "|".join(re.escape(u) for u in sorted(units, key=len, reverse=True))


DURATION_INFO = UnitInfo(
    "duration",
    "seconds",
    "a number with a unit: us, ms, s, m or min, h, d, w (a plain number is seconds)",
    ("250ms", "1.5s", "300s", "5min", "2h", "5d"),
)
SIZE_INFO = UnitInfo(
    "size",
    "bytes",
    "a number with a unit: B, kB (1000), MB, GB, KiB (1024), MiB, GiB",
    ("512B", "20KiB", "1MiB", "10kB", "5MB"),
)
BANDWIDTH_INFO = UnitInfo(
    "bandwidth",
    "bytes per second",
    "bits per second (bit/s, kbit/s, Mbit/s, Gbit/s; also kbps, Mbps, Gbps) "
    "or bytes per second (B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s)",
    ("100kbit/s", "10Mbit/s", "1Gbit/s", "5MB/s", "1MiB/s"),
)
RATE_INFO = UnitInfo(
    "rate",
    "events per second",
    "a count per time unit: /s, /min (or /m), /h, /d, /w",
    ("3/s", "5/min", "100/h", "2000/d"),
)
FRACTION_INFO = UnitInfo(
    "fraction",
    "a fraction from 0 to 1",
    "a percentage such as 1% or 0.5%",
    ("1%", "0.5%", "0.02"),
)
TIME_OF_DAY_INFO = UnitInfo(
    "time of day",
    "seconds after midnight",
    "HH:MM or HH:MM:SS on a 24-hour clock (quote it in YAML)",
    ("10:00", "07:30"),
)

Duration: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        _schema(
            DURATION_INFO,
            rf"^\s*{_NUM_PAT}\s*({_alts(DURATION_UNITS)})?\s*$",
            {"type": "number", "minimum": 0, "maximum": MAX_DURATION},
        )
    ),
    DURATION_INFO,
]
"""Seconds (float); YAML ``250ms``, ``30s``, ``5min``, ``2h``, ``4d``, ``1w`` or a number."""

Size: TypeAlias = Annotated[
    int,
    BeforeValidator(parse_size),
    WithJsonSchema(
        _schema(
            SIZE_INFO,
            rf"^\s*{_NUM_PAT}\s*({_alts(SIZE_UNITS)})?\s*$",
            {"type": "integer", "minimum": 0, "maximum": MAX_SIZE},
        )
    ),
    SIZE_INFO,
]
"""Bytes (int); YAML ``512B``, ``20KiB``, ``1MiB``, ``10kB``, ``5MB`` or an integer."""

Bandwidth: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_bandwidth),
    WithJsonSchema(
        _schema(
            BANDWIDTH_INFO,
            rf"^\s*{_NUM_PAT}\s*({_alts(BANDWIDTH_UNITS)})?\s*$",
            {"type": "number", "minimum": MIN_BANDWIDTH, "maximum": MAX_BANDWIDTH},
        )
    ),
    BANDWIDTH_INFO,
]
"""Bytes per second (float); YAML ``10Mbit/s``, ``1Gbit/s``, ``5MB/s`` or a number."""

Rate: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_rate),
    WithJsonSchema(
        _schema(
            RATE_INFO,
            rf"^\s*{_NUM_PAT}\s*(/\s*({_alts(RATE_UNITS)}))?\s*$",
            {"type": "number", "minimum": 0, "maximum": MAX_RATE},
        )
    ),
    RATE_INFO,
]
"""Events per second (float); YAML ``3/s``, ``5/min``, ``100/h``, ``2000/d`` or a number."""

Fraction: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_fraction),
    WithJsonSchema(
        _schema(
            FRACTION_INFO,
            rf"^\s*{_NUM_PAT}\s*%?\s*$",
            {"type": "number", "minimum": 0, "maximum": 1},
        )
    ),
    FRACTION_INFO,
]
"""A probability in [0, 1] (float); YAML ``1%``, ``0.5%`` or a number."""

TimeOfDay: TypeAlias = Annotated[
    float,
    BeforeValidator(parse_time_of_day),
    WithJsonSchema(
        _schema(
            TIME_OF_DAY_INFO,
            r"^\s*\d{1,2}:\d{2}(:\d{2})?\s*$",
            {"type": "number", "minimum": 0, "exclusiveMaximum": 86400},
        )
    ),
    TIME_OF_DAY_INFO,
]
"""Seconds after midnight (float); YAML ``"10:00"``."""
