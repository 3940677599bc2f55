"""Unit parsers: good inputs give exact base-unit values, bad ones exact messages."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from smtpsim.scenario import units
from smtpsim.scenario.units import (
    Bandwidth,
    Duration,
    Fraction,
    Rate,
    Size,
    TimeOfDay,
    format_duration,
    parse_bandwidth,
    parse_duration,
    parse_fraction,
    parse_rate,
    parse_size,
    parse_time_of_day,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("30s", 30.0),
        ("4000s", 4000.0),
        ("5min", 300.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("4d", 345600.0),
        ("1w", 604800.0),
        ("500us", 0.0005),
        ("0.5ms", 0.0005),
        ("250 ms", 0.25),
        ("1e3ms", 1.0),
        ("12", 12.0),
        (12, 12.0),
        (0.25, 0.25),
        (0, 0.0),
    ],
)
def test_duration_good(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)
    assert isinstance(parse_duration(text), float)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "expected a duration such as '20ms', got 'fast'"),
        ("5 parsecs", "expected a duration such as '20ms', got '5 parsecs'"),
        ("ms", "expected a duration such as '20ms', got 'ms'"),
        ("", "expected a duration such as '20ms', got ''"),
        (True, "expected a duration such as '20ms', got True"),
        (None, "expected a duration such as '20ms', got None"),
        ([1], "expected a duration such as '20ms', got [1]"),
        (float("nan"), "expected a duration such as '20ms', got nan"),
        ("-5ms", "expected a non-negative duration such as '20ms', got '-5ms'"),
        (-1, "expected a non-negative duration such as '20ms', got -1"),
    ],
)
def test_duration_bad(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512B", 512),
        ("20KiB", 20480),
        ("1MiB", 1048576),
        ("1GiB", 1073741824),
        ("10kB", 10000),
        ("10KB", 10000),
        ("5MB", 5000000),
        ("1.5KiB", 1536),
        (10240000, 10240000),
        ("900", 900),
        (0, 0),
    ],
)
def test_size_good(text: object, size: int) -> None:
    assert parse_size(text) == size
    assert type(parse_size(text)) is int


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("big", "expected a size such as '20KiB', got 'big'"),
        ("20kib", "expected a size such as '20KiB', got '20kib'"),
        ("20Kb", "expected a size such as '20KiB', got '20Kb'"),
        ("-1KiB", "expected a non-negative size such as '20KiB', got '-1KiB'"),
        ("1.5B", "expected a whole number of bytes such as '20KiB', got '1.5B'"),
        (False, "expected a size such as '20KiB', got False"),
    ],
)
def test_size_bad(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_size(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "bytes_per_second"),
    [
        ("10Mbit/s", 1_250_000.0),
        ("1Gbit/s", 125_000_000.0),
        ("100kbit/s", 12_500.0),
        ("200Mbit/s", 25_000_000.0),
        ("100Mbps", 12_500_000.0),
        ("5MB/s", 5_000_000.0),
        ("1MiB/s", 1_048_576.0),
        ("8bit/s", 1.0),
        (1000, 1000.0),
    ],
)
def test_bandwidth_good(text: object, bytes_per_second: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(bytes_per_second, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("fast", "expected a bandwidth such as '100Mbit/s', got 'fast'"),
        ("10Mbit", "expected a bandwidth such as '100Mbit/s', got '10Mbit'"),
        ("0Mbit/s", "expected a positive bandwidth such as '100Mbit/s', got '0Mbit/s'"),
        (0, "expected a positive bandwidth such as '100Mbit/s', got 0"),
        ("-1Gbit/s", "expected a positive bandwidth such as '100Mbit/s', got '-1Gbit/s'"),
    ],
)
def test_bandwidth_bad(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_bandwidth(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("3/s", 3.0),
        ("5/min", 5 / 60),
        ("100/h", 100 / 3600),
        ("2000/d", 2000 / 86400),
        ("0.2/s", 0.2),
        ("7 / w", 7 / 604800),
        (2, 2.0),
        ("1.5", 1.5),
        (0, 0.0),
    ],
)
def test_rate_good(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/fortnight", "expected a rate such as '3/s' or '100/h', got '3/fortnight'"),
        ("lots", "expected a rate such as '3/s' or '100/h', got 'lots'"),
        ("3/", "expected a rate such as '3/s' or '100/h', got '3/'"),
        ("-3/s", "expected a non-negative rate such as '3/s', got '-3/s'"),
    ],
)
def test_rate_bad(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_rate(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("1%", 0.01), ("0.5%", 0.005), ("100%", 1.0), (0.3, 0.3), ("0.02", 0.02), (0, 0.0), (1, 1.0)],
)
def test_fraction_good(text: object, fraction: float) -> None:
    assert parse_fraction(text) == pytest.approx(fraction, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("150%", "expected a fraction from 0 to 1 such as '1%' or 0.01, got '150%'"),
        (1.5, "expected a fraction from 0 to 1 such as '1%' or 0.01, got 1.5"),
        ("-1%", "expected a fraction from 0 to 1 such as '1%' or 0.01, got '-1%'"),
        ("some", "expected a fraction such as '1%' or 0.01, got 'some'"),
    ],
)
def test_fraction_bad(text: object, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_fraction(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10:00", 36000.0),
        ("07:30", 27000.0),
        ("7:30", 27000.0),
        ("23:59:30", 86370.0),
        ("00:00", 0.0),
        (3600, 3600.0),
    ],
)
def test_time_of_day_good(text: object, seconds: float) -> None:
    assert parse_time_of_day(text) == seconds


@pytest.mark.parametrize("text", ["24:00", "10:60", "noon", "10", 86400, -1])
def test_time_of_day_bad(text: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_time_of_day(text)
    assert str(info.value) == f"expected a time of day such as '10:00', got {text!r}"


class _Units(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    d: Duration = 0
    s: Size = 0
    b: Bandwidth = 1
    r: Rate = 0
    f: Fraction = 0
    t: TimeOfDay = 0


def test_annotated_types_parse_inside_models() -> None:
    m = _Units(d="5min", s="20KiB", b="10Mbit/s", r="100/h", f="1%", t="10:00")
    assert (m.d, m.s, m.b, m.r, m.f, m.t) == (300.0, 20480, 1_250_000.0, 100 / 3600, 0.01, 36000.0)
    # base-unit numbers (what model_dump gives) validate again to the same values
    assert _Units.model_validate(m.model_dump()) == m


def test_annotated_type_error_is_our_message() -> None:
    with pytest.raises(ValidationError) as info:
        _Units(d="fast")
    assert "expected a duration such as '20ms', got 'fast'" in str(info.value)


def test_unit_json_schema_is_string_or_number_with_pattern_and_examples() -> None:
    schema = _Units.model_json_schema()["properties"]["d"]
    kinds = {branch["type"] for branch in schema["anyOf"]}
    assert kinds == {"number", "string"}
    pattern = next(b["pattern"] for b in schema["anyOf"] if b["type"] == "string")
    import re

    assert all(re.match(pattern, example) for example in schema["examples"])
    assert not re.match(pattern, "fast")
    assert not re.match(pattern, "-5ms")


# What each documented example means, in the unit's base (seconds, bytes, bytes per
# second, per second, a share, seconds after midnight), worked out from the unit
# tables by hand: the documentation's examples must mean what they say.
EXAMPLES = {
    "duration": {
        "250ms": 0.25,
        "1.5s": 1.5,
        "300s": 300.0,
        "5min": 300.0,
        "2h": 7200.0,
        "5d": 5 * 86400.0,
    },
    "size": {"512B": 512, "20KiB": 20 * 1024, "1MiB": 1024**2, "10kB": 10_000, "5MB": 5_000_000},
    "bandwidth": {
        "100kbit/s": 100_000 / 8,
        "10Mbit/s": 10e6 / 8,
        "1Gbit/s": 1e9 / 8,
        "5MB/s": 5e6,
        "1MiB/s": 1024.0**2,
    },
    "rate": {"3/s": 3.0, "5/min": 5 / 60, "100/h": 100 / 3600, "2000/d": 2000 / 86400},
    "fraction": {"1%": 0.01, "0.5%": 0.005, "0.02": 0.02},
    "time of day": {"10:00": 36000.0, "07:30": 27000.0},
}
PARSERS = {
    "duration": parse_duration,
    "size": parse_size,
    "bandwidth": parse_bandwidth,
    "rate": parse_rate,
    "fraction": parse_fraction,
    "time of day": parse_time_of_day,
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_in_the_unit_schemas_means_what_it_says(name: str) -> None:
    examples = units.UNIT_SCHEMAS[name]["examples"]
    assert set(examples) == set(EXAMPLES[name])  # a new example needs its value here
    for example in examples:
        assert PARSERS[name](example) == pytest.approx(EXAMPLES[name][example], rel=1e-12), example


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (300, "5min"), (4000, "4000s"), (432000, "5d"), (0.0005, "500us"), (1.5, "1500ms")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)
