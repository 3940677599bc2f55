"""Sender-side retry policies: exact schedules (Postfix qmgr_active.c; Exim's spec,
"Retry configuration") and presets."""

from __future__ import annotations

from itertools import pairwise

import pytest

from smtpsim.mail.retry import (
    EXIM_DEBIAN_DEFAULT,
    PRESETS,
    EximRetry,
    EximRule,
    PostfixRetry,
    RetryPolicy,
    ScheduleRetry,
    parse_exim_time,
    retry_schedule,
)

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0


# --- Postfix ------------------------------------------------------------------------------


def test_postfix_backoff_is_the_message_age_clamped():
    p = PostfixRetry()
    assert p.next_attempt(0, 0, 0) == 300  # age 0 -> minimal_backoff_time
    assert p.next_attempt(0, 0, 300) == 600
    assert p.next_attempt(0, 0, 600) == 1200  # age 600 -> +600
    assert p.next_attempt(1000, 1000, 1000 + 2400) == 1000 + 4800
    assert p.next_attempt(0, 0, 5000) == 9000  # capped at maximal_backoff_time


def test_postfix_schedule_without_scan_rounding_matches_the_fact_sheet():
    # Postfix qmgr_active.c: 0, 300, 600, 1200, 2400, 4800, 8800, 12800 ... (+4000 s)
    times = retry_schedule(PostfixRetry())
    assert times[:8] == [0, 300, 600, 1200, 2400, 4800, 8800, 12800]
    assert all(b - a == 4000 for a, b in pairwise(times[6:]))
    # give up at the first failed attempt at or after 5 days
    assert times[-2] < 5 * DAY <= times[-1]
    assert PostfixRetry().next_attempt(0, 0, times[-1]) is None


def test_postfix_lifetime_boundary_and_zero_lifetime():
    p = PostfixRetry(maximal_queue_lifetime=1000)
    assert p.next_attempt(0, 0, 999.5) is not None
    assert p.next_attempt(0, 0, 1000) is None
    assert PostfixRetry(maximal_queue_lifetime=0).next_attempt(5, 5, 5) is None  # try once


def test_postfix_backoff_uses_the_arrival_not_the_first_failure():
    p = PostfixRetry()
    # A message queued an hour ago that failed for the first time just now.
    assert p.next_attempt(arrival=0, first_failure=3600, now=3600) == 3600 + 3600


def test_postfix_parameters_are_checked():
    with pytest.raises(ValueError):
        PostfixRetry(minimal_backoff_time=500, maximal_backoff_time=400)
    with pytest.raises(ValueError):
        PostfixRetry(maximal_queue_lifetime=-1)


def test_postfix_counts_in_whole_seconds() -> None:
    """qmgr_active.c: event_time() and create_time are whole seconds (time_t): the
    deferred file's stamp is event_time() + clamp(event_time() - create_time), and a
    message expires when event_time() >= create_time + maximal_queue_lifetime."""
    p = PostfixRetry(minimal_backoff_time=10, maximal_backoff_time=20, maximal_queue_lifetime=30)
    assert p.next_attempt(0.3, 0.3, 0.35) == 10  # not 10.35: 0 + max(0 - 0, 10)
    assert p.next_attempt(0.9, 0.9, 15.2) == 15 + 15  # age 15 - 0
    assert p.next_attempt(0.9, 0.9, 29.95) == 29 + 20  # age 29 - 0 capped at 20
    # 29.6 s in the queue, but 30 - 0 in whole seconds: expired
    assert p.next_attempt(0.9, 0.9, 30.5) is None
    assert p.next_attempt(1.0, 1.0, 30.5) == 30 + 20  # 30 - 1 = 29 < 30


def test_postfix_scans_take_a_file_up_to_a_second_before_its_stamp() -> None:
    """qmgr_active.c, qmgr_active_feed: a deferred file is skipped only when
    ``st_mtime > time() + 1`` (whole seconds): stamped 10, any scan from 9.0 takes it.
    The other policies are taken at the first scan after their time."""
    p = PostfixRetry(minimal_backoff_time=10, maximal_backoff_time=20)
    assert p.scan_takes_from(10) == 9
    assert EximRetry.parse(EXIM_DEBIAN_DEFAULT).scan_takes_from(900.5) == 900.5
    assert ScheduleRetry((100.0,)).scan_takes_from(100.0) == 100.0


# --- Exim ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,seconds",
    [("15m", 900), ("2h", 7200), ("4d", 345600), ("1h30m", 5400), ("90", 90), ("1w", 604800)],
)
def test_exim_times(text, seconds):
    assert parse_exim_time(text) == seconds


@pytest.mark.parametrize("text", ["", "15x", "m15", "1h 30m", "h"])
def test_bad_exim_times(text):
    with pytest.raises(ValueError, match="Exim time"):
        parse_exim_time(text)


def test_exim_parse_the_debian_default():
    rule = EximRetry.parse("F,2h,15m; G,16h,1h,1.5; F,4d,6h")
    assert rule.rules == (
        EximRule("F", 2 * HOUR, 15 * MIN),
        EximRule("G", 16 * HOUR, HOUR, 1.5),
        EximRule("F", 4 * DAY, 6 * HOUR),
    )
    assert rule.retry_interval_max == DAY


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("F,2h", "expected F"),
        ("H,2h,1h,1.5", "H rules"),
        ("G,2h,1h,0.5", "multiplier"),
        ("F,2h,zz", "Exim time"),
    ],
)
def test_exim_parse_errors_name_the_rule(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        EximRetry.parse(text)


def test_exim_debian_schedule_fixed_then_geometric_then_six_hourly():
    times = retry_schedule(EximRetry.parse(EXIM_DEBIAN_DEFAULT))
    minutes = [t / MIN for t in times]
    # every 15 min while the host has failed for at most 2 h (the cutoff is inclusive)
    assert minutes[:10] == [0, 15, 30, 45, 60, 75, 90, 105, 120, 135]
    # then 1 h, 1.5 h, 2.25 h, 3.375 h, ... from the first G attempt
    gaps = [b - a for a, b in pairwise(minutes[9:15])]
    assert gaps == pytest.approx([60, 90, 135, 202.5, 303.75])
    # after 16 h: every 6 h; the first failure past 4 days is final
    late = [b - a for a, b in pairwise(times) if a > 16 * HOUR]
    assert set(late) == {6 * HOUR}
    assert times[-2] <= 4 * DAY < times[-1]


def test_exim_g_gaps_follow_the_ideal_schedule_when_attempts_are_late():
    rule = EximRetry((EximRule("G", 16 * HOUR, HOUR, 1.5),))
    # Exim: next = now + max(1h, min(predicted, actual previous gap) * 1.5)
    assert rule.next_attempt(0, 0, 0) == HOUR
    assert rule.next_attempt(0, 0, HOUR + 600) == HOUR + 600 + 1.5 * HOUR  # 10 min late
    assert rule.next_attempt(0, 0, 2.5 * HOUR + 900) == 2.5 * HOUR + 900 + 2.25 * HOUR


def test_exim_cutoffs_are_measured_from_the_first_failure_and_capped():
    rule = EximRetry.parse("F,1h,10m; F,2d,30h")
    # a message that arrived long after the host started failing
    assert rule.next_attempt(arrival=DAY, first_failure=0, now=DAY) == DAY + DAY  # 30h capped
    assert rule.next_attempt(arrival=DAY, first_failure=0, now=2 * DAY + 1) is None
    # a message older than the final cutoff that only now met a failing host
    assert rule.next_attempt(arrival=0, first_failure=3 * DAY, now=3 * DAY) is None


def test_exim_retry_interval_max_is_at_most_a_day():
    with pytest.raises(ValueError, match="24h"):
        EximRetry.parse("F,1d,1h", retry_interval_max=2 * DAY)


# --- measured schedules and presets --------------------------------------------------------


def test_schedule_retry_offsets_then_interval_then_lifetime():
    s = ScheduleRetry((100.0, 300.0), then_every=50.0, lifetime=1000.0)
    assert s.next_attempt(0, 0, 0) == 100
    assert s.next_attempt(0, 0, 100) == 300
    assert s.next_attempt(0, 0, 150) == 300  # a late attempt skips nothing here
    assert s.next_attempt(0, 0, 310) == 360
    assert s.next_attempt(0, 0, 1000) is None
    assert ScheduleRetry((100.0,)).next_attempt(0, 0, 100) is None  # then give up


def test_schedule_retry_is_checked():
    with pytest.raises(ValueError):
        ScheduleRetry((300.0, 100.0))
    with pytest.raises(ValueError):
        ScheduleRetry()


def test_presets_are_retry_policies_with_their_sources():
    assert set(PRESETS) == {"postfix", "exim", "persistent", "frequent", "impatient"}
    assert all(isinstance(p, RetryPolicy) for p in PRESETS.values())
    for name in ("persistent", "frequent", "impatient"):
        assert "Greylisting and Nolisting" in PRESETS[name].source  # type: ignore[attr-defined]


def test_persistent_preset_retries_at_the_measured_gmail_times_and_gets_past_6h():
    times = retry_schedule(PRESETS["persistent"])
    measured = ["6:02", "29:02", "56:36", "98:44", "162:03", "229:44", "309:05", "434:46"]
    expected = [int(m) * 60 + int(s) for m, s in (t.split(":") for t in measured)]
    assert times[1:9] == expected
    assert times[8] > 6 * HOUR  # a 6 h greylist lets the 9th attempt through
    gaps = [b - a for a, b in pairwise(times[1:10])]
    assert gaps[-1] == gaps[-2]  # the last measured gap, repeated


def test_frequent_preset_retries_every_four_minutes():
    times = retry_schedule(PRESETS["frequent"], limit=100)
    assert {b - a for a, b in pairwise(times)} == {240.0}
    assert sum(t < 6 * HOUR for t in times) == 90  # about the study's 94 attempts in 6 h


def test_impatient_preset_gives_up_after_five_attempts_within_about_30_minutes():
    times = retry_schedule(PRESETS["impatient"])
    assert len(times) == 5
    assert times[1] == 5 * MIN + 32 and times[-1] == 31 * MIN + 32
