"""Numbers written for people, the same way in the terminal summary, the figures and
the reports (standard library only, so that any layer may use it)."""

from __future__ import annotations

__all__ = ["format_percent"]


def format_percent(part: float, whole: float) -> str:
    """``15.27 %`` of a whole. A share that two decimals would round to 0 or to 100
    although it is not is written ``<0.01 %`` or ``>99.99 %``: 2 bounced recipients of
    95,191 are not "0.00 %", and the 95,189 delivered are not "100.00 %"."""
    if whole <= 0:
        return "n/a"
    share = 100.0 * part / whole
    if 0 < share < 0.005:
        return "<0.01 %"
    if 99.995 <= share < 100:
        return ">99.99 %"
    return f"{share:.2f} %"
