"""Shipped scenarios answer their question within their own run length."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import smtpsim

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def test_greylisting_shows_the_auto_whitelist_at_work() -> None:
    """postgrey's auto-whitelist (5 passed triplets, at most one an hour) must act inside
    the scenario's run: later mail to the auto-whitelisting receiver is not greylisted,
    while the receiver without it keeps greylisting new triplets."""
    scenario = smtpsim.load_scenario(SCENARIOS / "greylisting.yaml")
    assert scenario.duration >= 6 * 3600
    result = smtpsim.simulate(scenario, until=6 * 3600.0)
    a, r = result.attempts, result.recipients
    grey = a.loc[a["dsn"].astype(str) == "4.2.0", ["msg_id", "rcpt"]].astype({"rcpt": str})
    keys = set(zip(grey["msg_id"], grey["rcpt"], strict=True))
    submitted = result.messages.set_index("msg_id")["t_submit"]
    rows = pd.DataFrame(
        {
            "domain": r["domain"].astype(str),
            "hour": (submitted.loc[r["msg_id"]].to_numpy() // 3600).astype(int),
            "greylisted": [
                (m, str(x)) in keys for m, x in zip(r["msg_id"], r["rcpt"], strict=True)
            ],
        }
    )
    share = rows.groupby(["domain", "hour"])["greylisted"].mean()
    # the first hours: both big receivers greylist every new triplet
    assert share["bigmail.example", 0] > 0.9 and share["bigmail2.example", 0] > 0.9
    # hour 5: whitelisted at bigmail.example only
    assert share["bigmail.example", 5] < 0.05
    assert share["bigmail2.example", 5] > 0.9
