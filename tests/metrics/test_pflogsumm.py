"""Debian's pflogsumm (1.1.5) on the maillog of runs: its Grand Totals equal the
counts computed from the result tables (docs/results.md, "maillog").

pflogsumm is a Debian package (`apt-get install pflogsumm`; `.ci/run` installs it).
Without it these tests are skipped, except under CI=true, where they fail."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from maillog_helpers import grand_totals, pflogsumm, run_pflogsumm

from smtpsim.metrics.maillog import expected_totals
from smtpsim.metrics.result import RunResult


def test_grand_totals_parser() -> None:
    report = """
Grand Totals
------------
messages

  15899   received
  24260   delivered
      0   forwarded
    315   deferred  (616  deferrals)
     63   bounced
     63   rejected (0%)
      0   reject warnings
      0   held
      0   discarded (0%)

    992m  bytes received
"""
    assert grand_totals(report) == {
        "received": 15899,
        "delivered": 24260,
        "forwarded": 0,
        "deferred": 315,
        "deferrals": 616,
        "bounced": 63,
        "rejected": 63,
        "reject warnings": 0,
        "held": 0,
        "discarded": 0,
    }
    with pytest.raises(AssertionError, match="abbreviated"):
        grand_totals("Grand Totals\n   600k   received\n")


@pytest.mark.parametrize("run", ["quickstart", "outage"])
def test_pflogsumm_totals_equal_the_tables(run: str, request: pytest.FixtureRequest) -> None:
    result: RunResult = request.getfixturevalue(run)
    totals = run_pflogsumm(request.getfixturevalue(f"{run}_log"))
    expected = expected_totals(result)
    assert {k: totals[k] for k in expected} == expected
    assert totals["forwarded"] == totals["reject warnings"] == totals["held"] == 0
    assert totals["discarded"] == 0
    # the runs exercise what they are meant to
    assert expected["received"] > 0 and expected["delivered"] > 0 and expected["rejected"] > 0
    assert expected["bounced"] == (result.recipients["status"] == "bounced").sum() > 0
    if run == "outage":
        assert expected["deferred"] > 0 and expected["deferrals"] > expected["deferred"]
        assert (result.recipients["status"] == "expired").sum() > 0
    else:
        assert expected["deferrals"] == 0


def test_a_tls_field_hides_a_delivery_from_pflogsumm(quickstart_log: Path, tmp_path: Path) -> None:
    """Why the maillog never has Postfix 3.11's tls= field (pflogsumm 1.1.5)."""
    lines = quickstart_log.read_text().splitlines()[:2000]
    plain = tmp_path / "plain"
    plain.write_text("\n".join(lines) + "\n")
    i = next(k for k, line in enumerate(lines) if "postfix/smtp[" in line and "status=sent" in line)
    lines[i] = lines[i].replace(", dsn=", ", tls=may, dsn=")
    with_tls = tmp_path / "tls"
    with_tls.write_text("\n".join(lines) + "\n")
    assert run_pflogsumm(with_tls)["delivered"] == run_pflogsumm(plain)["delivered"] - 1


def test_missing_pflogsumm_skips_or_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os, "access", lambda _path, _mode: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        pflogsumm()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        pflogsumm()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        pflogsumm()
