"""The comparison's rules (smtpsim.oracle.comparison) and the catalogue's scenarios,
without Postfix."""

from __future__ import annotations

import numpy as np
import oracle_helpers
import pandas as pd
import pytest

import smtpsim
from smtpsim.oracle.catalogue import ALL
from smtpsim.oracle.comparison import Metric, compare, count_status, gaps, ks_pvalue
from smtpsim.oracle.experiment import Experiment, scenario_yaml


def test_ks_pvalue_tells_same_from_shifted() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(0, 1, 300), rng.normal(0, 1, 400)
    assert ks_pvalue(a, b) > 0.05
    assert ks_pvalue(a, b + 0.5) < 1e-4
    assert np.isnan(ks_pvalue(a, np.array([])))


def _side(statuses: list[str]) -> dict[str, pd.DataFrame]:
    rec = pd.DataFrame({"msg_id": range(len(statuses)), "rcpt": "r", "status": statuses})
    return {"recipients": rec, "attempts": pd.DataFrame(), "bounces": pd.DataFrame()}


def test_verdict_uses_the_larger_of_tolerance_and_the_seeds_spread() -> None:
    m = Metric("d", "delivered", count_status("delivered"), 1)
    real = _side(["delivered"] * 10)
    tight = [_side(["delivered"] * 7 + ["expired"] * 3)] * 4
    (row,) = compare([m], real, tight)
    assert (row.real, row.sim_mean, row.verdict) == (10, 7, "differs")
    spread = [_side(["delivered"] * k + ["expired"] * (10 - k)) for k in (4, 10, 7, 7)]
    (row,) = compare([m], real, spread)
    assert row.sim_mean == 7 and row.allowed > 3 and row.verdict == "agrees"


def test_gaps_are_between_a_recipients_attempt_starts() -> None:
    att = pd.DataFrame(
        {
            "msg_id": [0, 0, 0, 1, 1],
            "rcpt": ["a", "a", "a", "b", "b"],
            "t_start": [0.0, 10.0, 30.0, 5.0, 6.5],
        }
    )
    assert sorted(gaps({"attempts": att})) == [1.5, 10.0, 20.0]


@pytest.mark.parametrize("exp", ALL, ids=lambda e: e.key)
def test_each_experiment_is_a_valid_scenario_with_its_metrics(exp: Experiment) -> None:
    scenario = smtpsim.load_scenario(scenario_yaml(exp))
    assert scenario.hosts["relay"].postfix.relayhost == "mx"
    assert exp.metrics


def test_missing_postfix_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oracle_helpers, "postfix_missing", lambda: "Postfix is not installed")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        oracle_helpers.require_postfix()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        oracle_helpers.require_postfix()


def test_report_only_replaces_the_sections_it_ran() -> None:
    """``report --only KEY`` rewrites that experiment's section of validation.md and
    keeps the others as they were, in the catalogue's order."""
    from smtpsim.oracle.catalogue import ALL
    from smtpsim.oracle.report import _merged

    def section(title: str, body: str) -> str:
        return f"## {title}\n\n{body}\n"

    titles = [e.title for e in ALL]
    old_page = "# head\n\ntext\n\n" + "\n".join(section(t, "old") for t in titles)
    merged = _merged(old_page, [section(titles[1], "new")])
    assert [s.split("\n", 1)[0] for s in merged] == [f"## {t}" for t in titles]
    assert [("new" in s, "old" in s) for s in merged] == [
        (i == 1, i != 1) for i in range(len(titles))
    ]
    assert merged[0] == section(titles[0], "old")
