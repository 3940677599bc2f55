"""How comparison and sweep tables show numbers: shares in percent, delays in the unit
they read best in, differences of shares in percentage points."""

from __future__ import annotations

import pytest

from smtpsim.experiment.report import format_difference, format_estimate, format_value


@pytest.mark.parametrize(
    ("metric", "value", "text"),
    [
        ("delivery_ratio", 0.9721, "97.21 %"),
        ("delay_p95", 1.5, "1.5 s"),
        ("delay_p95", 600.0, "10 min"),
        ("delay_p95", 8893.0, "2.47 h"),
        ("attempts_per_recipient", 3.7031, "3.703"),
    ],
)
def test_values_in_their_units(metric, value, text):
    assert format_value(metric, value) == text


def test_an_estimate_keeps_mean_and_half_width_in_one_unit():
    assert format_estimate("delay_p95", 8893.0, 36.0) == "2.470 h ± 0.010"
    assert format_estimate("bounce_rate", 0.1512, 0.0021) == "15.12 % ± 0.21"


def test_differences_of_shares_are_in_percentage_points():
    assert format_difference("expired_rate", 0.1378, 0.0020, True) == "+13.78 pp ± 0.20 *"
