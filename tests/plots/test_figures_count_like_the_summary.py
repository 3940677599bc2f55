"""Every figure of a run counts the summary's population, for every shipped scenario:
the totals a person reads in a legend or a bar label are the summary's numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import smtpsim
from smtpsim.metrics.result import RunResult
from smtpsim.plots import (
    bounces_by_dsn,
    figure_totals,
    outcomes_over_time,
    recipients_of_interest,
)
from smtpsim.plots.population import attempts_of_interest

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
UNTIL = 1800.0  # half an hour of each: short, and with mail still pending at the end
SHORTER = {"bench-3hop": 120.0}  # 40 messages a second: two minutes are plenty
STATUSES = ("delivered", "bounced", "expired", "lost", "pending", "unsent")


@pytest.fixture(scope="module", params=SCENARIOS, ids=lambda p: p.stem)
def run(request: pytest.FixtureRequest) -> RunResult:
    scenario = smtpsim.load_scenario(request.param)
    until = SHORTER.get(request.param.stem, UNTIL)
    return smtpsim.simulate(scenario, until=min(until, float(scenario.duration)))


def test_every_figure_counts_the_summary_population(run: RunResult) -> None:
    summary = run.summary()
    counts = summary["recipients"]
    totals = figure_totals(run)
    assert counts["submitted"] > 0
    outcomes = totals["outcomes"]
    assert outcomes["submitted"] == counts["submitted"]
    for status in STATUSES:
        assert outcomes[status] == counts[status], status
    for status in ("bounced", "expired", "lost", "unsent"):
        assert totals["bounces-by-dsn"][status] == counts[status], status
    assert totals["bounces-by-dsn"]["submitted"] == counts["submitted"]
    cdf = totals["delay-cdf"]
    assert (cdf["submitted"], cdf["delivered"], cdf["pending"]) == (
        counts["submitted"],
        counts["delivered"],
        counts["pending"],
    )
    assert totals["delay-breakdown"]["delivered"] == counts["delivered"]
    counted = attempts_of_interest(run.attempts, run.messages, warmup=summary["warmup_s"])
    if summary["deferral_rate"] is None:
        assert outcomes["deferred_attempts"] == 0
    else:
        assert math.isclose(outcomes["deferred_attempts"] / len(counted), summary["deferral_rate"])


def test_the_legends_say_the_summary_numbers(run: RunResult) -> None:
    counts = run.summary()["recipients"]
    warmup = float(run.meta["warmup_s"])
    ax = outcomes_over_time(
        run.recipients,
        run.messages,
        warmup=warmup,
        until=run.meta["sim_time_s"],
        ax=Figure().add_subplot(),
    )
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    for status, words in (
        ("delivered", "delivered"),
        ("bounced", "bounced"),
        ("pending", "pending at the end"),
        *([("unsent", "unsent")] if counts["unsent"] else []),
    ):
        assert any(label.startswith(f"{words} ({counts[status]:,},") for label in labels), (
            status,
            labels,
        )
    ax = bounces_by_dsn(run.recipients, run.messages, warmup=warmup, ax=Figure().add_subplot())
    drawn = sum(p.get_width() for p in ax.patches if p.get_gid() == "dsn-bars")
    assert drawn == counts["bounced"] + counts["expired"] + counts["lost"] + counts["unsent"]


def test_bounce_notices_are_counted_only_on_request(run: RunResult) -> None:
    notices = run.summary()["bounce_messages"]["sent"]
    rows = recipients_of_interest(
        run.recipients, run.messages, include_bounces=True, warmup=float(run.meta["warmup_s"])
    )
    assert len(rows) == run.summary()["recipients"]["submitted"] + notices
