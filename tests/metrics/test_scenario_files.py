"""Every scenario in scenarios/ validates, states its question, runs (shortened),
writes its tables, plots and maillog, and pflogsumm's totals on that maillog equal
the tables' counts. The blacklisting scenario shows what it is for."""

from __future__ import annotations

from pathlib import Path

import pytest
from maillog_helpers import run_pflogsumm

import smtpsim
from smtpsim.cli.main import main
from smtpsim.metrics.maillog import expected_totals

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
# How much of each scenario to run here: enough for its incidents to show.
UNTIL = {
    "bench-3hop": "60s",
    "blacklisting-incident": "4h",
    "certificate-expiry": "30h",
    "congested-relay-link": "90min",
    "dns-servfail-burst": "90min",
    "end-to-end-delay": "1h",
    "greylisting": "30min",
    "help-desk-monday": "1h",
    "mx-outage": "150min",
    "quickstart": "15min",
    "reputation-spiral": "2h",
    "starttls-stripping": "8h",
}
PLOTS = ("delay-cdf", "outcomes", "queues", "bounces-by-dsn", "delay-breakdown")
TABLES = ("messages", "recipients", "attempts", "levels")


def test_the_scenarios_are_all_here():
    assert {p.stem for p in SCENARIOS} == set(UNTIL)


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_validates_and_states_its_question(path, capsys):
    assert main(["validate", str(path)]) == 0
    assert "ok" in capsys.readouterr().out
    header = path.read_text().split("\nname:")[0]
    assert header.startswith("# Question:")
    assert "Look at:" in header


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_runs_and_writes_tables_plots_and_a_maillog_pflogsumm_agrees_with(path, tmp_path):
    out = tmp_path / path.stem
    assert main(["run", str(path), "--until", UNTIL[path.stem], "--out", str(out), "--quiet"]) == 0
    for name in TABLES:
        assert (out / f"{name}.parquet").stat().st_size > 0
    for name in PLOTS:
        assert (out / "plots" / f"{name}.png").stat().st_size > 1000
    result = smtpsim.RunResult.read(out)
    assert len(result.recipients) > 0
    # The TLS scenarios (issue 14) add their report and its figure, and only they do.
    tls = path.stem in ("certificate-expiry", "starttls-stripping")
    assert (out / "tls_report.parquet").exists() == tls
    assert (out / "plots" / "tls.png").exists() == tls
    assert (result.tls_report is not None) == tls
    totals = run_pflogsumm(out / "maillog")
    expected = expected_totals(result)
    assert {name: totals[name] for name in expected} == expected
    assert totals["held"] == totals["discarded"] == totals["forwarded"] == 0


def _run(overrides=()):
    path = next(p for p in SCENARIOS if p.stem == "blacklisting-incident")
    scenario = smtpsim.load_scenario(path, overrides=[*overrides, "simulation.record_levels=false"])
    return smtpsim.simulate(scenario, until=4 * 3600)


def test_blacklisting_bounces_and_defers_inside_the_listing_window_less_with_a_fallback():
    with_fallback = _run()
    without = _run(["hosts.out.postfix.smtp_fallback_relay=none"])
    (window,) = with_fallback.meta["incidents"]
    start, end = window["start"], window["end"]
    for result in (with_fallback, without):
        rcpts = result.recipients
        failed = rcpts[rcpts["status"].astype(str).isin(["bounced", "expired"])]
        # every refusal or expiry comes from the listing: it happens in the window,
        # or (an expiry) within a queue lifetime (2 h) plus a retry after it
        assert len(failed) > 100
        assert failed["t_final"].min() >= start
        assert failed["t_final"].max() <= end + 2 * 3600 + 4200
        att = result.attempts
        deferred = att[att["outcome"].astype(str) == "deferred"]
        assert (deferred["t_start"] >= start).all()

    # the fallback relay takes the mail bigmail.example's screening turns away ...
    def failed_count(result):
        status = result.recipients["status"].astype(str)
        return int(status.isin(["bounced", "expired"]).sum())

    assert failed_count(with_fallback) < failed_count(without)
    bounces = lambda r: int((r.messages["origin"].astype(str) == "bounce").sum())  # noqa: E731
    assert bounces(with_fallback) < bounces(without)
    # ... so that none of its mail expires, while without it the 2 h lifetime runs out
    expired = lambda r: int((r.recipients["status"].astype(str) == "expired").sum())  # noqa: E731
    assert expired(with_fallback) == 0 and expired(without) > 100
