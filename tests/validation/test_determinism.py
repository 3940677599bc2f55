"""Determinism (docs/architecture.md, sections 3 and 5): same scenario and seed give identical
tables, bit for bit; another seed gives other tables; wire mode (every SMTP line
written and parsed) gives the fast path's tables; and named random streams give
common random numbers: changing one flow does not move another flow's draws."""

from __future__ import annotations

import pandas as pd
import pytest
from validation_helpers import QUICKSTART, frame_by_origin

import smtpsim
from smtpsim.metrics.result import TABLES

UNTIL = 240.0  # a short quickstart run: about 240 messages, a few bounces


def _run(overrides: tuple[str, ...] = (), seed: int = 11, until: float = UNTIL):
    # 5 % unknown users rather than 1 %, so that short runs have bounces too
    scenario = smtpsim.load_scenario(
        QUICKSTART, overrides=["traffic.staff.unknown_users=5%", *overrides]
    )
    return smtpsim.simulate(scenario, seed=seed, until=until)


def _assert_same(a, b) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(a.table(name), b.table(name), check_exact=True, obj=name)


def test_same_seed_same_tables() -> None:
    first, second = _run(), _run()
    assert len(first.attempts) > 500 and len(first.levels) > 500
    # bounces (quickstart's unknown users) are part of what is compared
    assert (first.messages["origin"].astype(str) == "bounce").any()
    _assert_same(first, second)
    assert first.summary() == second.summary()


def test_other_seed_other_tables() -> None:
    first, other = _run(seed=11), _run(seed=12)
    for name in TABLES:
        with pytest.raises(AssertionError):
            pd.testing.assert_frame_equal(first.table(name), other.table(name), obj=name)


def test_wire_mode_gives_the_fast_path_tables() -> None:
    fast = _run(until=120.0)
    wire = _run(("simulation.wire=true",), until=120.0)
    assert wire.meta["wire"] is True and fast.meta["wire"] is False
    assert len(fast.attempts) > 200
    assert (fast.messages["origin"].astype(str) == "bounce").any()
    _assert_same(fast, wire)


TWO_FLOWS = """
name: two-flows
duration: 10min
hosts:
  msa: {role: msa, accepts: [corp.example], postfix: {relayhost: out}}
  out: {role: mta}
  mx1: {role: mx, accepts: [bigmail.example], mailboxes: 100000}
  mx2: {role: mx, accepts: [partner.example], mailboxes: 5000}
links:
  - {between: [msa, out], latency: 1ms}
  - {between: [out, internet], latency: 10ms}
  - {between: [mx1, internet], latency: {lognormal: {median: 40ms, sigma: 0.3}}}
  - {between: [mx2, internet], latency: 25ms}
dns:
  corp.example: {mx: {msa: 10}}
  bigmail.example: {mx: {mx1: 10}}
  partner.example: {mx: {mx2: 10}}
traffic:
  staff:
    submit_to: msa
    rate: 1/s
    recipients:
      per_message: {mean: 1.66}
      domains: {bigmail.example: 0.7, partner.example: 0.3}
  sales:
    submit_to: msa
    rate: 0.5/s
    recipients:
      per_message: {mean: 2}
      domains: {partner.example: 1}
    unknown_users: 0%
"""


def test_changing_one_flow_leaves_the_other_flows_draws_alone() -> None:
    base = smtpsim.simulate(smtpsim.load_scenario(TWO_FLOWS), seed=4, until=300)
    changed = smtpsim.simulate(
        smtpsim.load_scenario(TWO_FLOWS, overrides=["traffic.sales.unknown_users=20%"]),
        seed=4,
        until=300,
    )
    # the change did something: sales now has unknown recipients, and bounces
    sales_rcpts = changed.recipients[
        changed.recipients["msg_id"].isin(frame_by_origin(changed, "sales")["msg_id"])
    ]
    assert sales_rcpts["rcpt"].str.startswith("unknown").any()
    assert not base.recipients["rcpt"].str.startswith("unknown").any()

    # staff's messages: same arrival times, senders, sizes and recipients
    cols = ["sender", "size_bytes", "n_rcpt", "t_submit"]
    a, b = frame_by_origin(base, "staff"), frame_by_origin(changed, "staff")
    assert len(a) > 200
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=True)

    def staff_rcpts(result):
        staff = frame_by_origin(result, "staff")
        rows = result.recipients[result.recipients["msg_id"].isin(staff["msg_id"])]
        return rows["rcpt"].tolist()

    assert staff_rcpts(base) == staff_rcpts(changed)
    # sales' own arrivals do not depend on its recipients either
    pd.testing.assert_series_equal(
        frame_by_origin(base, "sales")["t_submit"],
        frame_by_origin(changed, "sales")["t_submit"],
        check_exact=True,
    )
