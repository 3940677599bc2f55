"""The round trip (issue 15): ``smtpsim fit`` on the maillog of a simulated run gives
back the parameters of the scenario that made it, each inside its confidence interval.

Every check is a 99.9 % interval computed from the sample (Wilson for shares, the
Poisson interval for rates, order statistics for quantiles, the asymptotic normal
intervals of the lognormal's maximum likelihood estimates): about 40 checks, so a
correct fitter fails one of them with probability about 4 % for a random seed; the
seed is fixed, so the test is deterministic."""

from __future__ import annotations

import math
from pathlib import Path
from statistics import NormalDist

import pytest
from round_trip_scenario import (
    DEFER_D1,
    DOMAINS,
    MEDIAN,
    PER_MESSAGE,
    RATE_A,
    RATE_B,
    SCENARIO,
    SIGMA,
    UNKNOWN,
)

import smtpsim
from smtpsim.cli.main import main
from smtpsim.fit import Fit, FitOptions, fit_logs
from smtpsim.fit.estimates import wilson
from smtpsim.fit.traffic import FlowFit
from smtpsim.metrics.maillog import write_maillog
from smtpsim.metrics.result import RunResult

CONFIDENCE = 0.999


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Fit]:
    result = smtpsim.simulate(smtpsim.load_scenario(SCENARIO))
    path = write_maillog(result, tmp_path_factory.mktemp("rt") / "maillog")
    return result, fit_logs([path], FitOptions(confidence=CONFIDENCE, year=2026))


def _flow(fit: Fit, domain: str) -> FlowFit:
    (flow,) = [f for f in fit.flows if f.sender_domain == domain]
    return flow


def test_the_reader_sees_every_submitted_message_and_its_size(
    made: tuple[RunResult, Fit],
) -> None:
    result, fit = made
    ran = result.messages[result.messages["origin"].astype(str) != "bounce"]
    read = fit.log.messages[fit.log.messages["origin"].astype(str) != "bounce"]
    assert sorted(read["size_bytes"]) == sorted(ran["size_bytes"])
    assert fit.log.unknown == []
    assert sum(f.messages for f in fit.flows) == len(ran)


def test_rates_come_back(made: tuple[RunResult, Fit]) -> None:
    _, fit = made
    a, b = _flow(fit, "a.example"), _flow(fit, "b.example")
    assert not a.hourly  # the dispersion test finds one rate
    assert a.rate.contains(RATE_A)
    assert b.hourly  # and finds the step of b
    first, second = b.full_hours
    assert first.rate.contains(RATE_B[0]) and second.rate.contains(RATE_B[1])
    assert not first.rate.contains(RATE_B[1]) and not second.rate.contains(RATE_B[0])


@pytest.mark.parametrize("domain", ["a.example", "b.example"])
def test_sizes_come_back(made: tuple[RunResult, Fit], domain: str) -> None:
    _, fit = made
    sizes = _flow(fit, domain).sizes
    assert sizes.chosen == "lognormal" and sizes.lognormal is not None
    assert sizes.lognormal.median_ci.contains(MEDIAN)
    assert sizes.lognormal.sigma_ci.contains(SIGMA)
    for q, interval in sizes.quantiles:
        if 0.05 <= q <= 0.95:
            true = MEDIAN * math.exp(SIGMA * NormalDist().inv_cdf(q))
            # sizes are whole bytes: the interval is widened by the rounding
            assert interval.low - 1 <= true <= interval.high + 1, (q, interval, true)


@pytest.mark.parametrize("domain", ["a.example", "b.example"])
def test_recipients_domains_and_unknown_users_come_back(
    made: tuple[RunResult, Fit], domain: str
) -> None:
    _, fit = made
    flow = _flow(fit, domain)
    messages = sum(n for _, n in flow.per_message)
    assert dict(flow.per_message).keys() == PER_MESSAGE.keys()
    for k, n in flow.per_message:
        assert wilson(n, messages, CONFIDENCE).contains(PER_MESSAGE[k])
    recipients = sum(n for _, n in flow.domains)
    assert dict(flow.domains).keys() == DOMAINS.keys()  # four domains: none grouped
    for d, n in flow.domains:
        assert wilson(n, recipients, CONFIDENCE).contains(DOMAINS[d])
    assert flow.unknown.contains(UNKNOWN) and flow.unknown_count > 0


def test_destination_behaviour_comes_back(made: tuple[RunResult, Fit]) -> None:
    _, fit = made
    by_domain = {d.domain: d for d in fit.destinations}
    assert set(by_domain) == set(DOMAINS)
    (deferral,) = by_domain["d1.example"].injections
    assert deferral.phase == "rcpt" and deferral.reply.startswith("451 4.3.0 ")
    assert deferral.probability.contains(DEFER_D1)
    for d in ("d2.example", "d3.example", "d4.example"):
        assert by_domain[d].injections == ()
    # the unknown recipients are the flows', not d1..d4's: no 5.1.1 injected
    assert all(not i.reply.startswith("550 5.1.1") for d in fit.destinations for i in d.injections)


def test_the_fitted_scenario_runs_and_submits_what_the_log_did(
    made: tuple[RunResult, Fit], tmp_path: Path
) -> None:
    _, fit = made
    path = tmp_path / "fitted.yaml"
    path.write_text(fit.yaml())
    assert main(["validate", str(path)]) == 0
    rerun = smtpsim.simulate(smtpsim.load_scenario(path))
    submitted = rerun.messages[rerun.messages["origin"].astype(str) != "bounce"]
    counts = submitted["origin"].astype(str).value_counts()
    z = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
    for flow in fit.flows:
        got = int(counts.get(flow.name, 0))
        # two Poisson counts with the same mean: their difference has variance 2 n
        assert abs(got - flow.messages) <= z * math.sqrt(2 * flow.messages), (flow.name, got)
    # the destinations' deferrals: the share of the rerun's attempts to d1 that were
    # deferred agrees with the log's (two binomial shares, Wilson intervals overlap)
    att = rerun.attempts[rerun.attempts["host"].astype(str) == "mta"]
    to_d1 = att[att["rcpt"].astype(str).str.endswith("@d1.example")]
    deferred = int((to_d1["outcome"].astype(str) == "deferred").sum())
    injected = fit.destinations[0].injections[0]
    ours = wilson(deferred, len(to_d1), CONFIDENCE)
    assert ours.low <= injected.probability.high and injected.probability.low <= ours.high
