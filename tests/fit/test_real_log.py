"""``smtpsim fit`` on a log that real Postfix 3.7.11 wrote (tests/fit/data/README.md
says how the oracle harness made it): the fitted scenario, run with the relay's
settings, reproduces the log's delivered, bounced and deferred counts.

Tolerance: the log is one realisation of a random process (Poisson arrivals, random
refusals), and so is each run. The runs' mean over R replications is compared with
the log's count; the difference has variance var (1 + 1/R), var estimated by the
replications' sample variance, and at least the count itself (a Poisson count's
variance, the least a thinned Poisson count can have). The tolerance is 3 standard
deviations of that difference (99.7 % for a normal difference)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

import smtpsim
from smtpsim.fit import FitOptions, fit_logs, outcome_counts
from smtpsim.scenario import Scenario

DATA = Path(__file__).resolve().parent / "data"
ORACLE_DATA = DATA.parent.parent / "oracle" / "data"

# the relay's main.cf of the experiment (tests/fit/data/README.md)
RELAY = {
    "queue_run_delay": "5s",
    "minimal_backoff_time": "10s",
    "maximal_backoff_time": "20s",
    "maximal_queue_lifetime": "60s",
    "bounce_queue_lifetime": "60s",
}
REPLICATIONS = 6


def test_fit_of_a_real_log_reproduces_its_counts() -> None:
    fit = fit_logs([DATA / "real-4xx-5xx.maillog"], FitOptions(year=2026))
    assert fit.log.unknown == []
    real = outcome_counts(fit.log.messages, fit.log.recipients, fit.log.attempts)
    assert real == {
        "messages": 120,
        "recipients": 120,
        "delivered": 101,
        "bounced": 19,
        "expired": 0,
        "pending": 0,
        "deferred attempts": 42,
    }
    (dest,) = fit.destinations
    assert [(i.phase, i.reply) for i in dest.injections] == [
        ("rcpt", "451 4.3.0 Try again later"),
        ("rcpt", "550 5.7.1 Message rejected"),
    ]
    scenario = smtpsim.load_scenario(
        fit.yaml(), overrides=[f"hosts.mta.postfix.{k}={v}" for k, v in RELAY.items()]
    )
    _reproduces(scenario, real)


def _reproduces(scenario: Scenario, real: dict[str, int]) -> None:
    """The runs' mean count of each outcome is within the stated tolerance of the log's."""
    runs = []
    for seed in range(1, REPLICATIONS + 1):
        result = smtpsim.simulate(scenario, seed=seed)
        runs.append(outcome_counts(result.messages, result.recipients, result.attempts))
    for key in ("messages", "delivered", "bounced", "deferred attempts"):
        values = np.array([r[key] for r in runs], dtype=float)
        var = max(float(values.var(ddof=1)), float(real[key]))
        tolerance = 3 * math.sqrt(var * (1 + 1 / REPLICATIONS))
        assert abs(values.mean() - real[key]) <= tolerance, (key, values, real[key], tolerance)


@pytest.mark.timeout(120)
def test_fit_of_a_fresh_real_postfix_log(tmp_path: Path) -> None:
    """The same, end to end, on a log real Postfix writes now: the oracle harness runs
    a private Postfix 3.7 relaying to smtpsim serve with injected refusals; its log is
    fitted, with its main.cf through ``smtpsim import postfix``'s mapping, and run.
    Skipped without Postfix, except under CI=true (where .ci/run installs it)."""
    from smtpsim.fit.postfix_config import import_postfix
    from smtpsim.oracle.experiment import Experiment, run_real
    from smtpsim.oracle.postfix_instance import postfix_missing

    missing = postfix_missing()
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}; under CI=true .ci/run installs it")
        pytest.skip(missing)
    relay = {**RELAY, "maximal_queue_lifetime": "40s", "bounce_queue_lifetime": "40s"}
    exp = Experiment(
        key="fit-live",
        title="fit a fresh log",
        question="does the fitted scenario reproduce the log?",
        messages=50,
        rate=5.0,
        postfix=relay,
        serve_args=(
            "--inject",
            "rcpt:550 5.7.1 Message rejected@0.1",
            "--inject",
            "rcpt:451 4.3.0 Try again later@0.3",
        ),
        limit_s=80.0,
        seed=7,
    )
    real_run = run_real(exp, tmp_path / "oracle")
    assert real_run.drained
    fit = fit_logs([real_run.maillog], FitOptions())
    assert fit.log.unknown == []
    real = outcome_counts(fit.log.messages, fit.log.recipients, fit.log.attempts)
    assert real["messages"] == 50 and real["pending"] == 0
    main_cf = "".join(f"{k} = {v}\n" for k, v in relay.items())
    fit.scenario["hosts"]["mta"]["postfix"] = import_postfix(main_cf).postfix
    _reproduces(smtpsim.load_scenario(fit.yaml()), real)


def test_fit_of_a_real_outage_gives_a_host_down_window() -> None:
    """The oracle's outage log (Postfix 3.7.11; the next hop refused connections for
    the first 30 s of the experiment, smtpsim/oracle/catalogue.py OUTAGE): the
    refusals become one host_down window whose end brackets the real one; qmgr's
    suspensions are reported as the consequence the simulation makes itself."""
    from smtpsim.fit.report import fit_report

    fit = fit_logs([ORACLE_DATA / "outage.maillog"], FitOptions(year=2026))
    (dest,) = fit.destinations
    assert dest.injections == () and dict(dest.not_fitted) == {"qmgr": 4}
    (outage,) = dest.outages
    assert fit.log.origin is not None
    log_start = (fit.log.origin - fit.start).total_seconds()  # the experiment's start
    assert outage.mode == "refuse" and outage.failures == 2
    assert outage.start == pytest.approx(log_start, abs=1.0)
    assert outage.end_high is not None and outage.end is not None
    assert outage.end_low <= log_start + 30 <= outage.end_high
    assert "host_down (refuse)" in fit_report(fit)
    (window,) = fit.scenario["incidents"]
    assert window["host_down"]["mode"] == "refuse"
    # the log's own two submissions replayed (a fitted Poisson flow would send a random
    # number), with the experiment's retry settings: each waits out the window
    fit.scenario["traffic"] = {
        "logged": {"submit_to": "mta", "replay": str(ORACLE_DATA / "outage.maillog")}
    }
    overrides = [f"hosts.mta.postfix.{k}={v}" for k, v in RELAY.items()][:3]
    result = smtpsim.simulate(smtpsim.load_scenario(fit.yaml(), overrides=overrides))
    submitted = result.messages[result.messages["origin"].astype(str) != "bounce"]
    rec = result.recipients[result.recipients["msg_id"].isin(submitted["msg_id"])]
    assert len(rec) == 2 and set(rec["status"].astype(str)) == {"delivered"}
    assert (rec["t_final"] >= outage.end).all()
    att = result.attempts[result.attempts["host"].astype(str) == "mta"]
    early = att[att["t_end"] < outage.end]
    assert len(early) > 0 and set(early["outcome"].astype(str)) == {"deferred"}


def test_fit_of_real_retries_injects_the_reply() -> None:
    fit = fit_logs([ORACLE_DATA / "retries.maillog"], FitOptions(year=2026))
    (dest,) = fit.destinations
    assert dest.not_fitted == () and dest.outages == ()
    assert [i.reply for i in dest.injections] == ["451 4.3.0 Try again later"]
