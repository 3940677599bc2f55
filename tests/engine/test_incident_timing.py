"""When incidents happen (docs/scenario-format.md, "incidents", timing): ``every``
repeats the ``for`` window from ``at``; ``random`` draws Poisson onsets at ``rate``
from ``at``, each lasting a draw of ``duration``, from the incident's own random
stream (the same seed gives the same windows). The windows of a run are in its
``meta['incidents']``; the effect must show in each of them and nowhere else."""

from __future__ import annotations

import pandas as pd
from engine_helpers import attempts_from, strings

import smtpsim
from smtpsim.model import build

DURATION = 3600.0


def scenario(incident: str) -> str:
    # out does not cache connections: each delivery opens its own, so that it meets
    # the server as it is when the delivery starts
    return f"""
name: timing
duration: 1h
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix: {{smtp_connection_cache_on_demand: false}}
  mx: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx: 10}}}}
traffic:
  t:
    submit_to: out
    rate: 0.5/s
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
incidents:
  - {incident}
"""


def spans(meta_incidents: list[dict]) -> list[tuple[float, float]]:
    return [(w["start"], w["end"]) for w in meta_incidents]


def in_any(frame: pd.DataFrame, windows: list[tuple[float, float]]) -> pd.Series:
    t = frame["t_start"]
    hit = pd.Series(False, index=frame.index)
    for start, end in windows:
        hit |= (t >= start) & (t < end)
    return hit


def check_effect(result, windows: list[tuple[float, float]], code: int) -> None:
    """Every attempt of out that started inside a window got ``code``; every other
    one was sent; and each window has some."""
    out = attempts_from(result, "out")
    within = in_any(out, windows)
    assert (out.loc[within, "code"] == code).all()
    assert strings(out.loc[within, "outcome"]) == ["deferred"] * int(within.sum())
    assert strings(out.loc[~within, "outcome"]) == ["sent"] * int((~within).sum())
    for start, end in windows:
        t = out["t_start"]
        assert ((t >= start) & (t < end)).sum() >= 5, (start, end)
    assert (result.recipients["status"].astype(str) != "pending").sum() > 1500


def test_every_repeats_the_window() -> None:
    result = smtpsim.simulate(
        smtpsim.load_scenario(
            scenario(
                "{server_errors: {host: mx, phase: rcpt, reply: '421 4.7.0 Try again later'}, "
                "at: 30s, every: 10min, for: 1min}"
            )
        )
    )
    windows = spans(result.meta["incidents"])
    assert windows == [(30.0 + 600 * k, 90.0 + 600 * k) for k in range(6)]
    assert all(
        w["kind"] == "server_errors" and w["target"] == "mx" for w in result.meta["incidents"]
    )
    check_effect(result, windows, 421)


def test_every_clips_the_last_window_at_the_end_of_the_run() -> None:
    s = smtpsim.load_scenario(scenario("{disk_full: mx, at: 20min, every: 30min, for: 15min}"))
    assert spans(build(s).incidents) == [(1200.0, 2100.0), (3000.0, DURATION)]


RANDOM = "{disk_full: mx, at: 5min, random: {rate: 6/h, duration: 2min}}"


def test_random_onsets_are_reproducible_and_depend_on_the_seed() -> None:
    s = smtpsim.load_scenario(scenario(RANDOM))
    first = spans(build(s, 1).incidents)
    assert first == spans(build(s, 1).incidents)  # same seed, same windows
    other = spans(build(s, 2).incidents)
    assert first != other
    for windows in (first, other):
        assert windows  # 6/h from 5 min: about 5.5 windows expected
        starts = [a for a, _ in windows]
        assert starts == sorted(starts)
        assert all(300.0 <= a < DURATION for a in starts)
        assert all(b == min(a + 120.0, DURATION) for a, b in windows)
    # the windows of a run are those its meta reports
    result = smtpsim.simulate(s, seed=2)
    assert spans(result.meta["incidents"]) == other
    assert {w["kind"] for w in result.meta["incidents"]} == {"disk_full"}


def test_random_onsets_have_their_effect_in_each_window() -> None:
    s = smtpsim.load_scenario(scenario(RANDOM))
    result = smtpsim.simulate(s, seed=3)
    windows = spans(result.meta["incidents"])
    assert len(windows) >= 2
    check_effect(result, windows, 452)
