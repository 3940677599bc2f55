"""Parsing units as operators write them: ``250ms``, ``5min``, ``20KiB``, ``100Mbit/s``,
``3/s``, ``1%``, ``"10:00"``.

Each ``parse_*`` function takes what YAML gives (a number or a string) and returns a
plain float or int in base units (seconds, bytes, bytes per second, events per second,
a fraction, seconds after midnight), or raises ``ValueError`` with a message such as
``expected a duration such as '20ms', got 'fast'``. The pydantic types built on them
are in :mod:`smtpsim.scenario.units`.
"""

from __future__ import annotations

import math
import re

from ._names import got as _got
from .bounds import MAX_BANDWIDTH, MAX_DURATION, MAX_RATE, MAX_SIZE, MIN_BANDWIDTH

__all__ = [
    "BANDWIDTH_UNITS",
    "DURATION_UNITS",
    "RATE_UNITS",
    "SIZE_UNITS",
    "format_duration",
    "parse_bandwidth",
    "parse_duration",
    "parse_fraction",
    "parse_rate",
    "parse_size",
    "parse_time_of_day",
]

# seconds per unit; "m" is minutes as in Postfix's main.cf ("5m")
DURATION_UNITS: dict[str, float] = {
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}

# bytes per unit
SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "kB": 1000,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}

# bytes per second per unit
BANDWIDTH_UNITS: dict[str, float] = {
    "bit/s": 1 / 8,
    "kbit/s": 1e3 / 8,
    "Mbit/s": 1e6 / 8,
    "Gbit/s": 1e9 / 8,
    "Tbit/s": 1e12 / 8,
    "bps": 1 / 8,
    "kbps": 1e3 / 8,
    "Mbps": 1e6 / 8,
    "Gbps": 1e9 / 8,
    "B/s": 1.0,
    "kB/s": 1e3,
    "KB/s": 1e3,
    "MB/s": 1e6,
    "GB/s": 1e9,
    "KiB/s": 1024.0,
    "MiB/s": 1024.0**2,
    "GiB/s": 1024.0**3,
}

# events per second per unit ("3/s", "5/min", ...)
RATE_UNITS: dict[str, float] = {
    "s": 1.0,
    "m": 1 / 60,
    "min": 1 / 60,
    "h": 1 / 3600,
    "d": 1 / 86400,
    "w": 1 / 604800,
}

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUM_UNIT = re.compile(rf"^\s*({_NUMBER})\s*([^\s\d.+-][^\s]*)?\s*$")
_RATE = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*([A-Za-z]+))?\s*$")
_TIME_OF_DAY = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def _split(value: object) -> tuple[float, str] | None:
    """A number and its (possibly empty) unit, or None if ``value`` has neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value), ""
    if isinstance(value, str):
        m = _NUM_UNIT.match(value)
        if m:
            return float(m.group(1)), m.group(2) or ""
    return None


def _finite(x: float) -> bool:
    return not (math.isnan(x) or math.isinf(x))


def _too_big(what: str, bound: str, value: object) -> ValueError:
    return ValueError(
        f"expected {what} of at most {bound} (the plausibility bound), got {_got(value)}"
    )


def parse_duration(value: object) -> float:
    """Seconds from ``250ms``, ``1.5s``, ``5min``, ``2h``, ``4d``, ``1w`` or a number of seconds.

    At most :data:`~.bounds.MAX_DURATION` (3650 days).
    """
    parts = _split(value)
    if parts is not None and (parts[1] == "" or parts[1] in DURATION_UNITS):
        number, unit = parts
        seconds = number * DURATION_UNITS[unit] if unit else number
        if _finite(seconds):
            if seconds < 0:
                raise ValueError(
                    f"expected a non-negative duration such as '20ms', got {_got(value)}"
                )
            if seconds > MAX_DURATION:
                raise _too_big("a duration", format_duration(MAX_DURATION), value)
            return seconds
        if math.isinf(seconds) and seconds > 0:
            raise _too_big("a duration", format_duration(MAX_DURATION), value)
    raise ValueError(f"expected a duration such as '20ms', got {_got(value)}")


def parse_size(value: object) -> int:
    """Bytes from ``512B``, ``20KiB``, ``1MiB``, ``10kB`` (1000 bytes), ``5MB`` or an integer.

    At most :data:`~.bounds.MAX_SIZE` (4 GiB).
    """
    parts = _split(value)
    if parts is not None and (parts[1] in SIZE_UNITS or parts[1] == ""):
        number, unit = parts
        size = number * SIZE_UNITS.get(unit, 1)
        if math.isinf(size) and size > 0:
            raise _too_big("a size", "4GiB", value)
        if _finite(size):
            if size < 0:
                raise ValueError(f"expected a non-negative size such as '20KiB', got {_got(value)}")
            if size > MAX_SIZE:
                raise _too_big("a size", "4GiB", value)
            rounded = round(size)
            if abs(size - rounded) > 1e-6 * max(1.0, size) and unit in ("", "B"):
                raise ValueError(
                    f"expected a whole number of bytes such as '20KiB', got {_got(value)}"
                )
            return int(rounded)
    raise ValueError(f"expected a size such as '20KiB', got {_got(value)}")


def parse_bandwidth(value: object) -> float:
    """Bytes per second from ``10Mbit/s``, ``1Gbit/s``, ``5MB/s``, ``1MiB/s`` or a number.

    From :data:`~.bounds.MIN_BANDWIDTH` (1 bit/s) to :data:`~.bounds.MAX_BANDWIDTH`
    (100 Tbit/s).
    """
    parts = _split(value)
    if parts is not None and (parts[1] in BANDWIDTH_UNITS or parts[1] == ""):
        number, unit = parts
        rate = number * BANDWIDTH_UNITS.get(unit, 1.0)
        if math.isinf(rate) and rate > 0:
            raise _too_big("a bandwidth", "100Tbit/s", value)
        if _finite(rate):
            if rate <= 0:
                raise ValueError(
                    f"expected a positive bandwidth such as '100Mbit/s', got {_got(value)}"
                )
            if rate < MIN_BANDWIDTH:
                raise ValueError(
                    f"expected a bandwidth of at least 1bit/s (the plausibility bound), "
                    f"got {_got(value)}"
                )
            if rate > MAX_BANDWIDTH:
                raise _too_big("a bandwidth", "100Tbit/s", value)
            return rate
    raise ValueError(f"expected a bandwidth such as '100Mbit/s', got {_got(value)}")


def parse_rate(value: object) -> float:
    """Events per second from ``3/s``, ``5/min``, ``100/h``, ``2000/d`` or a number (per second).

    At most :data:`~.bounds.MAX_RATE` (100000/s).
    """
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        m = _RATE.match(value)
        if m and (m.group(2) is None or m.group(2) in RATE_UNITS):
            number = float(m.group(1)) * (RATE_UNITS[m.group(2)] if m.group(2) else 1.0)
    if number is not None and math.isinf(number) and number > 0:
        raise _too_big("a rate", f"{MAX_RATE:.0f}/s", value)
    if number is not None and _finite(number):
        if number < 0:
            raise ValueError(f"expected a non-negative rate such as '3/s', got {_got(value)}")
        if number > MAX_RATE:
            raise _too_big("a rate", f"{MAX_RATE:.0f}/s", value)
        return number
    raise ValueError(f"expected a rate such as '3/s' or '100/h', got {_got(value)}")


def parse_fraction(value: object) -> float:
    """A probability in [0, 1] from ``1%``, ``0.5%`` or a number such as ``0.01``."""
    parts = _split(value)
    if parts is not None and parts[1] in ("", "%") and _finite(parts[0]):
        number = parts[0] / 100 if parts[1] == "%" else parts[0]
        if 0.0 <= number <= 1.0:
            return number
        raise ValueError(f"expected a fraction from 0 to 1 such as '1%' or 0.01, got {_got(value)}")
    raise ValueError(f"expected a fraction such as '1%' or 0.01, got {_got(value)}")


def parse_time_of_day(value: object) -> float:
    """Seconds after midnight from ``"10:00"``, ``"07:30"``, ``"23:59:30"`` or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if _finite(value) and 0 <= value < 86400:
            return float(value)
    elif isinstance(value, str):
        m = _TIME_OF_DAY.match(value)
        if m:
            h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
            if h < 24 and mi < 60 and s < 60:
                return float(h * 3600 + mi * 60 + s)
    raise ValueError(f"expected a time of day such as '10:00', got {_got(value)}")


def format_duration(seconds: float) -> str:
    """``seconds`` written with the largest unit that gives a whole number: 432000 -> '5d'."""
    if seconds == 0:
        return "0s"
    for unit in ("w", "d", "h", "min", "s", "ms", "us"):
        n = seconds / DURATION_UNITS[unit]
        if abs(n) >= 1 and abs(n - round(n)) < 1e-9 * abs(n):
            return f"{round(n)}{unit}"
    return f"{seconds:g}s"
