"""Concurrency feedback as Postfix writes it: ``1``, ``0.25``, ``1/4``, ``1/concurrency``,
``1/sqrt_concurrency`` (``default_destination_concurrency_positive_feedback`` and
``..._negative_feedback``; SCHEDULER_README, "Postfix 2.5 concurrency feedback").

The value is a number ``base`` in [0, 1], optionally divided by the destination's
current concurrency window ``N`` or by its square root: the feedback one delivery
gives is ``base``, ``base / N`` or ``base / sqrt(N)``. Postfix parses it in
``src/qmgr/qmgr_feedback.c`` (``qmgr_feedback_init``) as a number, optionally
followed by ``/`` and either ``concurrency``, ``sqrt_concurrency`` or a number (so
``1/8`` means 0.125), and computes it with ``QMGR_FEEDBACK_VAL`` (``qmgr.h``).

Two differences from Postfix, both deliberate: a malformed or out-of-range value is
an error here (Postfix warns and uses 1), and ``sqrt_concurrency`` is accepted
although stock Postfix compiles it out (``QMGR_FEEDBACK_IDX_SQRT_WIN`` is under
``#if 0``): SCHEDULER_README's measurements include it, and a simulator may study it.

Pure data and the standard library: the queue manager calls ``value(window)``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Literal, TypeAlias

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

__all__ = ["ConcurrencyFeedback", "Feedback", "parse_feedback"]

Scale = Literal["", "concurrency", "sqrt_concurrency"]

_NUMBER = r"[+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_FORM = re.compile(rf"^\s*({_NUMBER})\s*(?:/\s*(concurrency|sqrt_concurrency|{_NUMBER}))?\s*$")
_SQRT_TYPO = re.compile(r"sqrt\s*\(\s*(concurrency|n)\s*\)|^\s*[^/]*/\s*n\s*$", re.I)


@dataclass(frozen=True, slots=True)
class ConcurrencyFeedback:
    """``base`` per delivery, divided by the window (``concurrency``) or its square
    root (``sqrt_concurrency``), or not at all (``""``)."""

    base: float
    scale: Scale = ""

    def value(self, window: int) -> float:
        """The feedback of one delivery at concurrency window ``window`` (>= 1)."""
        if self.scale == "concurrency":
            return self.base / window
        if self.scale == "sqrt_concurrency":
            return self.base / math.sqrt(window)
        return self.base

    def __str__(self) -> str:
        base = f"{self.base:g}"
        return f"{base}/{self.scale}" if self.scale else base


def parse_feedback(value: object) -> ConcurrencyFeedback:
    """A feedback from YAML: a number in [0, 1], ``"x/y"`` with numbers, or
    ``"x/concurrency"`` / ``"x/sqrt_concurrency"`` with ``x`` in [0, 1].

    Raises ``ValueError`` saying what was expected."""
    if isinstance(value, ConcurrencyFeedback):
        return value
    expected = "expected a feedback such as 1, 0.25, 1/4, 1/concurrency or 1/sqrt_concurrency"
    text: str | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = repr(float(value))
    elif isinstance(value, str):
        text = value
    m = _FORM.match(text) if text is not None else None
    if m is None or text is None:
        hint = ""
        if isinstance(value, str) and _SQRT_TYPO.search(value):
            hint = " (Postfix spells it 1/concurrency or 1/sqrt_concurrency)"
        raise ValueError(f"{expected}, got {value!r}{hint}")
    base = float(m.group(1))
    divisor = m.group(2)
    scale: Scale = ""
    if divisor == "concurrency" or divisor == "sqrt_concurrency":
        scale = "concurrency" if divisor == "concurrency" else "sqrt_concurrency"
    elif divisor is not None:
        denominator = float(divisor)
        if denominator < 1e-9:
            raise ValueError(f"{expected}: the divisor must be positive, got {value!r}")
        base /= denominator
    if not (math.isfinite(base) and 0.0 <= base <= 1.0):
        raise ValueError(f"{expected}: the value must be from 0 to 1, got {value!r}")
    return ConcurrencyFeedback(base, scale)


Feedback: TypeAlias = Annotated[
    ConcurrencyFeedback,
    BeforeValidator(parse_feedback),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 1,
                    "description": "a constant feedback per delivery",
                },
                {
                    "type": "string",
                    "pattern": rf"^\s*{_NUMBER}\s*(/\s*(concurrency|"
                    rf"sqrt_concurrency|{_NUMBER}))?\s*$",
                    "description": "x, x/y, x/concurrency or x/sqrt_concurrency",
                },
            ],
            "examples": [1, "1/4", "1/concurrency", "1/sqrt_concurrency"],
        }
    ),
]
"""A :class:`ConcurrencyFeedback` from YAML ``1``, ``1/4``, ``1/concurrency``, ..."""
