"""The comparison's rules (smtpsim.oracle.comparison) and the catalogue's scenarios,
without Postfix."""

from __future__ import annotations

import dataclasses

import numpy as np
import oracle_helpers
import pandas as pd
import pytest

import smtpsim
from smtpsim.oracle.catalogue import ALL
from smtpsim.oracle.comparison import Metric, compare, count_status, gaps, ks_pvalue
from smtpsim.oracle.experiment import Experiment, scan_phases, scenario_yaml, seed_phases


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


def _retries(scans: list[float], first: list[float]) -> pd.DataFrame:
    """One recipient per message: a first attempt at ``first[i]``, a retry at ``scans[i]``
    (delay under 10 s: the precise ones)."""
    n = len(scans)
    return pd.DataFrame(
        {
            "msg_id": list(range(n)) * 2,
            "rcpt": ["r"] * (2 * n),
            "t_start": first + scans,
            "delay_s": [0.0] * n + [9.0] * n,
        }
    )


def test_the_real_relays_scans_are_read_off_its_retries() -> None:
    """Each scan's first retry gives its moment (the retries of one scan come within
    a second); first attempts say nothing about the scans."""
    scans = [10.81, 10.83, 15.6, 20.79, 20.9, 30.95]
    first = [0.3, 0.4, 2.1, 3.7, 4.4, 4.6]
    got = scan_phases(_retries(scans, first), 5.0)
    assert np.allclose(got, [0.81, 0.6, 0.79, 0.95])
    assert scan_phases(_retries([], []), 5.0) == []


@pytest.mark.parametrize(
    ("phases", "band"),
    [
        ([0.81, 0.6, 0.79, 0.95], (0.6, 0.95)),
        # straddling the multiple of 5, as scans run anywhere within their second: the
        # band is 4.8 to 0.3 around 0, not 0.3 to 4.8
        ([4.9, 0.1, 4.8, 0.3], (-0.2, 0.3)),
    ],
)
def test_the_seeds_scan_phases_spread_over_the_real_band(
    phases: list[float], band: tuple[float, float]
) -> None:
    got = np.asarray(seed_phases(phases, 10, 5.0))
    centred = (got + 2.5) % 5.0 - 2.5  # around 0, so that the band reads as numbers
    low, high = band
    step = (high - low) / 10
    assert np.allclose(np.sort(centred), low + step * (np.arange(10) + 0.5))
    assert seed_phases([], 10, 5.0) == []


def test_the_simulated_traffic_starts_where_its_scans_fall_as_the_real_ones_did() -> None:
    """scenario_yaml's ``start`` moves the traffic and the outage; the tables are read
    back from then, so that every time is counted from the traffic's start as in the
    real run. With scans every 5 s from time 0 and traffic from 4.2 s, the scans
    come 0.8 s past each 5 s of the traffic's time."""
    from smtpsim.oracle.catalogue import OUTAGE
    from smtpsim.oracle.experiment import _restrict, run_simulated

    (result,) = run_simulated(dataclasses.replace(OUTAGE, seeds=1), 30.5, start=4.2)
    assert result.messages["t_submit"].min() >= 4.2
    t = _restrict(result.messages, result.recipients, result.attempts, "relay", 4.2)
    att = t["attempts"]
    assert t["recipients"]["t_submit"].min() >= 0
    # refused while down (the 30.5 s from the traffic's start), delivered after
    refused = att[att["phase"].astype(str) == "connect"]
    sent = att[att["outcome"].astype(str) == "sent"]
    assert len(refused) and refused["t_end"].max() < 30.5 <= sent["t_start"].min()
    # retries come at the scans, 0.8 s past each 5 s, or a few ms later (after the
    # sessions ahead of them)
    first = att.sort_values("t_start").groupby(["msg_id", "rcpt"], observed=True).head(1)
    past = np.mod(att.drop(first.index)["t_start"].to_numpy(float), 5.0)
    assert len(past) and ((past > 0.8 - 1e-6) & (past < 0.85)).all()


def test_the_simulated_relay_gets_the_real_submissions_at_their_times(tmp_path) -> None:
    """write_trace and the replay: each simulated message is submitted when its real
    counterpart was (counted from the traffic's start, here with the scans put 0.8 s
    past each 5 s), to the same recipient."""
    from smtpsim.oracle.catalogue import OUTAGE
    from smtpsim.oracle.experiment import _restrict, run_simulated, write_trace
    from smtpsim.oracle.submission import Submitted

    real = [
        Submitted(t, f"Q{i}", "alice@corp.example", f"user{i}@dest.example")
        for i, t in enumerate([0.537, 0.691, 3.378, 3.9, 12.25])
    ]
    path = tmp_path / "submitted.csv"
    first = write_trace(path, list(reversed(real)))
    assert first == 0.537
    exp = dataclasses.replace(OUTAGE, seeds=1)
    (result,) = run_simulated(exp, 30.5, start=4.2, trace=(path, first))
    t = _restrict(result.messages, result.recipients, result.attempts, "relay", 4.2)
    got = t["recipients"].sort_values("t_submit")
    assert np.allclose(got["t_submit"].to_numpy(float), [s.t_submit for s in real], atol=1e-5)
    assert list(got["rcpt"].astype(str)) == [s.rcpt for s in real]
