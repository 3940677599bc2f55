"""``scenarios/end-to-end-delay.yaml`` answers its question from the CLI: the mail
client, not SMTP, decides how long until a person can read a message. Its summary
shows the end-to-end percentiles beside the delivery ones, per organisation; polling
every T makes people wait T/2 on average (within the sample's 99 % confidence
interval), IDLE a few seconds, and the IMAP outage delays poll5.example's fetches."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import smtpsim
from smtpsim.cli.main import main

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "end-to-end-delay.yaml"
Z99 = 2.576


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("e2e") / "run"
    assert main(["run", str(SCENARIO), "--out", str(out), "--quiet"]) == 0
    return out


def test_the_summary_shows_delivery_and_end_to_end_percentiles(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    r = summary["retrieval"]
    assert r["delivered"] == summary["recipients"]["delivered"] > 5000
    # the traffic stops 30 min before the end: everything delivered is fetched
    assert r["fetched"] == r["delivered"] and r["not_fetched"] == 0
    assert r["delivery_s"]["p95"] < 2.0  # SMTP: under two seconds
    assert r["end_to_end_s"]["p50"] > 60.0  # the client: minutes
    by = r["by_domain"]
    p50 = {d: by[d]["end_to_end_p50"] for d in by}
    assert p50["idle.example"] < 5.0
    assert p50["idle.example"] < p50["poll5.example"] < p50["poll10.example"]
    assert p50["poll10.example"] < p50["poll15.example"]


def test_polling_organisations_wait_half_their_interval(run_dir: Path) -> None:
    result = smtpsim.RunResult.read(run_dir)
    r = result.recipients
    wait = (r["t_fetched"] - r["t_final"]).to_numpy(dtype=float)
    domain = r["domain"].astype(str).to_numpy()
    for name, interval in (("poll10.example", 600.0), ("poll15.example", 900.0)):
        w = wait[domain == name]
        half = Z99 * float(w.std(ddof=1)) / math.sqrt(len(w))
        assert abs(float(w.mean()) - interval / 2) <= half, (name, w.mean(), half)
        # the session's own processing (tens of ms) on top of at most one interval
        assert w.max() <= interval + 5.0
    # SMTP's share of the experience: well under 1 % of the end-to-end delay
    polled = np.isin(domain, ["poll10.example", "poll15.example"])
    assert r["delay_s"].to_numpy()[polled].sum() < 0.01 * wait[polled].sum()


def test_the_imap_outage_delays_poll5_fetches_to_its_end(run_dir: Path) -> None:
    result = smtpsim.RunResult.read(run_dir)
    r = result.recipients
    mine = r[r["domain"].astype(str) == "poll5.example"]
    fetched = mine["t_fetched"].to_numpy()
    start, end = 7200.0, 8400.0
    assert not ((fetched > start) & (fetched < end)).any()
    during = (mine["t_final"].to_numpy() > start) & (mine["t_final"].to_numpy() < end)
    assert during.sum() > 100
    assert (fetched[during] >= end).all() and (fetched[during] <= end + 300.0 + 5.0).all()
    assert result.meta["incidents"] == [
        {"kind": "access_down", "target": "access on mx-poll5", "start": start, "end": end}
    ]


def test_trace_tells_when_the_client_fetched(
    run_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = smtpsim.RunResult.read(run_dir)
    row = result.recipients.iloc[0]
    assert main(["trace", str(run_dir), str(int(row["msg_id"]))]) == 0
    out = capsys.readouterr().out
    wait = float(row["t_fetched"] - row["t_final"])
    assert "fetched by the mail client at t=" in out
    assert f"{row['rcpt']}: delivered" in out and wait > 0
