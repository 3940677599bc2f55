"""``RunResult.summary()`` (docs/results.md, "summary.json") agrees with the tables
it summarizes: counted over the recipients of messages submitted after the warm-up,
bounce messages apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_helpers import at_times, run_model

QUICKSTART = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
WARMUP = 60.0


def test_summary_matches_the_tables() -> None:
    def setup(model):
        link = model.link("mx-small", "internet")
        at_times(
            model,
            (100, lambda: setattr(link, "up", False)),
            (200, lambda: setattr(link, "up", True)),
        )

    _, result = run_model(
        QUICKSTART,
        seed=9,
        until=420.0,
        overrides=[f"warmup={WARMUP}s", "traffic.staff.unknown_users=5%"],
        setup=setup,
    )
    s = result.summary()
    messages, rcpts, attempts, levels = (
        result.messages,
        result.recipients,
        result.attempts,
        result.levels,
    )
    origin = messages.set_index("msg_id")["origin"].astype(str)
    t_submit = messages.set_index("msg_id")["t_submit"]
    counted_ids = set(
        messages.loc[(origin.to_numpy() != "bounce") & (t_submit.to_numpy() >= WARMUP), "msg_id"]
    )
    bounce_ids = set(origin.index[origin == "bounce"])
    assert len(bounce_ids) > 0

    assert s["warmup_s"] == WARMUP
    assert s["messages"] == len(counted_ids) > 300
    counted = rcpts[rcpts["msg_id"].isin(counted_ids)]
    status = counted["status"].astype(str)
    assert s["recipients"]["submitted"] == len(counted)
    for name in ("delivered", "bounced", "expired", "lost", "pending"):
        assert s["recipients"][name] == int((status == name).sum()), name
    assert s["recipients"]["delivered"] > 0 and s["recipients"]["bounced"] > 0
    assert s["recipients"]["pending"] > 0  # mail for smallorg still deferred at 420 s
    assert s["delivery_ratio"] == pytest.approx((status == "delivered").mean())
    assert s["bounce_rate"] == pytest.approx((status == "bounced").mean())

    delays = counted.loc[status == "delivered", "delay_s"].to_numpy()
    for key, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        assert s["delay_s"][key] == pytest.approx(float(np.quantile(delays, q)))
    assert s["delay_s"]["max"] == pytest.approx(delays.max())
    assert s["delay_s"]["mean"] == pytest.approx(delays.mean())

    att = attempts[attempts["msg_id"].isin(counted_ids)]
    deferred = (att["outcome"].astype(str) == "deferred").sum()
    assert deferred > 0
    assert s["deferral_rate"] == pytest.approx(deferred / len(att))
    assert s["attempts_per_recipient"] == pytest.approx(counted["attempts"].mean())
    # the attempts column counts the attempts table's rows (all hosts)
    per_rcpt = attempts.groupby(["msg_id", "rcpt"]).size()
    joined = rcpts.set_index(["msg_id", "rcpt"])["attempts"]
    assert (per_rcpt.reindex(joined.index, fill_value=0) == joined).all()

    notices = rcpts[rcpts["msg_id"].isin(bounce_ids)]
    bstatus = notices["status"].astype(str)
    assert s["bounce_messages"]["sent"] == len(notices) == len(bounce_ids)
    for name in ("delivered", "bounced", "expired", "lost", "pending"):
        assert s["bounce_messages"][name] == int((bstatus == name).sum()), name

    peaks = levels.groupby(["host", "metric"], observed=True)["value"].max()
    flat = {(h, m): v for h, metrics in s["peak_queue"].items() for m, v in metrics.items()}
    assert flat == {(str(h), str(m)): int(v) for (h, m), v in peaks.items()}
    assert flat[("out", "deferred")] > 0
