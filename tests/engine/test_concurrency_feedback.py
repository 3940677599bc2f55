"""Concurrency feedback (smtpsim.scenario.feedback, smtpsim.mta.concurrency): Postfix's
syntax (qmgr_feedback.c) and its window arithmetic (qmgr_queue.c, SCHEDULER_README),
checked step by step against hand-worked sequences."""

from __future__ import annotations

import math

import pytest

from smtpsim.mta.concurrency import ConcurrencyWindow, WindowRules
from smtpsim.scenario import load_scenario
from smtpsim.scenario.feedback import ConcurrencyFeedback, parse_feedback


@pytest.mark.parametrize(
    ("text", "base", "scale"),
    [
        ("1", 1.0, ""),
        (1, 1.0, ""),
        (0.25, 0.25, ""),
        ("1/4", 0.25, ""),
        (" 1 / 8 ", 0.125, ""),
        ("0", 0.0, ""),
        ("1/concurrency", 1.0, "concurrency"),
        ("0.5/concurrency", 0.5, "concurrency"),
        ("1/sqrt_concurrency", 1.0, "sqrt_concurrency"),
    ],
)
def test_parse_feedback_forms(text, base: float, scale: str) -> None:
    fb = parse_feedback(text)
    assert fb == ConcurrencyFeedback(base, scale)  # type: ignore[arg-type]
    assert parse_feedback(str(fb)) == fb  # the written form reads back


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("2", "from 0 to 1"),
        ("3/2", "from 0 to 1"),
        ("1/0", "divisor must be positive"),
        ("1/sqrt(concurrency)", "1/sqrt_concurrency"),
        ("1/N", "1/concurrency"),
        ("fast", "expected a feedback"),
        (True, "expected a feedback"),
    ],
)
def test_parse_feedback_refuses_with_a_reason(text, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        parse_feedback(text)


def test_feedback_value_at_a_window() -> None:
    assert parse_feedback("1").value(7) == 1.0
    assert parse_feedback("1/concurrency").value(4) == 0.25
    assert parse_feedback("1/sqrt_concurrency").value(16) == 0.25
    assert parse_feedback("0.5/sqrt_concurrency").value(2) == pytest.approx(0.5 / math.sqrt(2))


def test_scenario_field_takes_the_forms_and_reports_bad_ones() -> None:
    base = """
name: f
duration: 1h
hosts:
  out: {role: mta, accepts: [corp.example], postfix: POSTFIX}
dns:
  corp.example: {mx: {out: 10}}
"""
    s = load_scenario(
        base.replace(
            "POSTFIX", "{default_destination_concurrency_positive_feedback: 1/concurrency}"
        )
    )
    p = s.hosts["out"].postfix
    assert p.default_destination_concurrency_positive_feedback == ConcurrencyFeedback(
        1.0, "concurrency"
    )
    assert p.default_destination_concurrency_negative_feedback == ConcurrencyFeedback(1.0)
    dumped = s.model_dump(mode="json")["hosts"]["out"]["postfix"]
    assert dumped["default_destination_concurrency_positive_feedback"] == "1/concurrency"
    with pytest.raises(Exception, match="default_destination_concurrency_negative_feedback"):
        load_scenario(
            base.replace(
                "POSTFIX",
                "{default_destination_concurrency_negative_feedback: 1/sqrt(concurrency)}",
            )
        )


def rules(
    positive: str = "1",
    negative: str = "1",
    *,
    initial: int = 5,
    limit: int = 20,
    cohort_limit: float = 1.0,
) -> WindowRules:
    return WindowRules(
        initial, limit, parse_feedback(positive), parse_feedback(negative), cohort_limit
    )


def test_positive_feedback_one_grows_by_one_per_delivery_up_to_the_limit() -> None:
    w = ConcurrencyWindow(rules(limit=8))
    windows = []
    for _ in range(6):
        w.positive(busy=w.window)  # every slot busy: growth is allowed
        windows.append(w.window)
    assert windows == [6, 7, 8, 8, 8, 8]


def test_positive_feedback_only_while_the_window_is_within_busy_plus_initial() -> None:
    # qmgr_queue_unthrottle: no growth once window >= busy + initial_concurrency
    w = ConcurrencyWindow(rules())
    w.positive(busy=0)  # 5 < 0 + 5 is false: no change
    assert w.window == 5
    w.positive(busy=1)  # 5 < 1 + 5
    assert w.window == 6


def test_positive_one_over_n_steps_at_the_end_of_a_pseudo_cohort() -> None:
    w = ConcurrencyWindow(rules("1/concurrency"))
    steps = []
    for k in range(1, 12):
        w.positive(busy=w.window)
        steps.append((k, w.window))
    # 5 deliveries of 1/5 make the first step, then 6 of 1/6
    previous = [(0, 5), *steps[:-1]]
    assert [k for (k, win), (_, prev) in zip(steps, previous, strict=True) if win != prev] == [
        5,
        11,
    ]


def test_negative_feedback_one_drops_two_then_one_and_dies_after_a_pseudo_cohort() -> None:
    # qmgr_queue_throttle with feedback 1 and its rounding margin (failure - f/2 < 0):
    # from failure = 0 the first failure lowers the window by 2, the next by 1;
    # fail_cohorts 1/5 + 1/3 + 1/2 >= 1 on the third: dead
    w = ConcurrencyWindow(rules())
    assert not w.negative() and w.window == 3 and w.fail_cohorts == pytest.approx(0.2)
    assert not w.negative() and w.window == 2
    assert w.negative() and w.dead
    assert not w.negative()  # nothing more while dead


def test_negative_one_over_n_drops_one_at_the_start_of_its_cycle() -> None:
    w = ConcurrencyWindow(rules("1/concurrency", "1/concurrency", initial=20, cohort_limit=0))
    windows = []
    for _ in range(25):
        w.negative()
        windows.append(w.window)
    # at once 20 -> 19; then a drop after about a window's worth of failures
    assert windows[0] == 19
    drops = [i for i in range(1, 25) if windows[i] != windows[i - 1]]
    assert drops[0] == 18  # 0.95 - k/19 - 1/38 < 0 first at k = 18
    assert not w.dead  # cohort limit 0: never dead


def test_a_success_resets_the_failed_cohorts() -> None:
    w = ConcurrencyWindow(rules())
    w.negative()
    w.negative()
    w.positive(busy=w.window)
    assert w.fail_cohorts == 0.0
    assert not w.negative()  # a fresh cohort: 1/window is not enough


def test_a_success_revives_a_dead_destination_with_the_busy_count() -> None:
    w = ConcurrencyWindow(rules())
    for _ in range(3):
        w.negative()
    assert w.dead
    assert w.positive(busy=2)  # a delivery under way succeeded: back at once
    assert not w.dead and w.window == 2 and w.fail_cohorts == 0.0
    for _ in range(3):
        w.negative()
    w.revive(busy=0)  # the timer: slow open at the initial concurrency
    assert not w.dead and w.window == 5


def test_window_never_below_one() -> None:
    w = ConcurrencyWindow(rules(initial=1, cohort_limit=0))
    for _ in range(5):
        w.negative()
    assert w.window == 1
