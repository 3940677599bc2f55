"""Shares written for people: never 0.00 % for something, never 100.00 % for less."""

from __future__ import annotations

import pytest

from smtpsim.text import format_percent


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [
        (3664, 24001, "15.27 %"),
        (2, 95191, "<0.01 %"),
        (95189, 95191, ">99.99 %"),
        (0, 10, "0.00 %"),
        (10, 10, "100.00 %"),
        (1, 0, "n/a"),
    ],
)
def test_format_percent(part: int, whole: int, text: str) -> None:
    assert format_percent(part, whole) == text
