"""The oracle experiments (issue 11): real Postfix 3.7 against smtpsim, same workload
and faults. Each test asserts the metrics that agree within their tolerance, and that
the differences issue 11 explains are there and point the way their cause predicts;
when the model is fixed, those assertions fail and are to be turned into ``agrees``.
Skipped without Postfix (except under CI=true)."""

from __future__ import annotations

import numpy as np
import pytest
from oracle_helpers import require_postfix

from smtpsim.oracle.comparison import Row, gaps
from smtpsim.oracle.experiment import Outcome, tables_of

pytestmark = pytest.mark.timeout(600)

Results = dict[str, tuple[Outcome, dict[str, Row]] | BaseException]


def _get(results: Results, key: str) -> tuple[Outcome, dict[str, Row]]:
    require_postfix()
    result = results[key]
    if isinstance(result, BaseException):
        raise result
    outcome, rows = result
    assert outcome.real.drained, f"{key}: Postfix's queue did not drain in time"
    assert outcome.real.log.unknown == [], outcome.real.log.report()
    return outcome, rows


def _agree(rows: dict[str, Row], *keys: str) -> None:
    bad = {k: (rows[k].real, rows[k].sim_mean, rows[k].allowed) for k in keys}
    assert all(rows[k].verdict == "agrees" for k in keys), bad


def test_retries_under_4xx(oracle_results: Results) -> None:
    outcome, rows = _get(oracle_results, "retries-4xx")
    assert len(outcome.real.submitted) == 100
    _agree(rows, "attempts", "deferrals", "first_try")
    # issue 11, cause 2: Postfix retries up to a scan early (whole-second queue file
    # times, a file taken when less than 1 s ahead), smtpsim never before
    # minimal_backoff_time. A fixed model makes these fail: then assert "agrees".
    assert rows["gap_below_min"].verdict == "differs"
    assert rows["gap_below_min"].real >= 0.1 and rows["gap_below_min"].sim_high == 0
    # The whole distribution of gaps, not one quantile: the median's difference (about
    # 2.5 s) is near its tolerance and a real run alone can land inside it (seen in CI).
    assert rows["gap_ks"].verdict == "differs"
    assert rows["gap_p50"].sim_mean > rows["gap_p50"].real  # smtpsim later, as cause 2 says
    real_gaps = gaps(tables_of(outcome)[0][1])
    assert 10 - 2.5 <= real_gaps.min() < 10  # early by less than half a queue_run_delay


def test_expiry(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "expiry")
    _agree(rows, "expired", "attempts", "dsn", "reply", "notices")
    # cause 2 again: each retry a scan later, so the fourth attempt, at which the
    # message expires, comes later in smtpsim
    age = rows["age_p50"]
    assert age.verdict == "differs" and float(age.sim_mean) - float(age.real) >= 5


def test_outage(oracle_results: Results) -> None:
    outcome, rows = _get(oracle_results, "outage")
    _agree(rows, "delivered")
    # causes 3 and 4: Postfix forgets an idle destination's failures and tries new
    # mail again; smtpsim keeps the dead destination and connects far less often
    refused = rows["refused"]
    assert refused.verdict == "differs" and float(refused.real) >= 1.5 * refused.sim_high
    real_refused = tables_of(outcome)[0][1]["attempts"]
    assert (real_refused["phase"].astype(str) == "connect").sum() == refused.real
    assert np.isfinite(rows["drain"].real)


def test_concurrency_feedback(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "concurrency")
    # Postfix: the 421 greetings throttle the destination, and everything is delivered
    assert rows["delivered"].real == 100 and rows["greeting"].real > 0
    # Since smtpsim caches connections as qmgr_entry.c decides (not every connection of
    # a backlogged destination, which held the server's 5 sessions idle and cost 35
    # expiries), it delivers everything too.
    _agree(rows, "delivered", "expired")
    # issue 11, cause 1: smtpsim takes the 421 greeting for a good session (positive
    # feedback) and keeps its window too wide, so it takes longer (80 s on every seed;
    # real runs 27 to 63 s). A fixed model makes this fail: then assert "agrees".
    assert rows["drain"].verdict == "differs"
    assert float(rows["drain"].sim_mean) > float(rows["drain"].real)


def test_greylisting(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "greylisting")
    # the refusal at RCPT is recorded with phase "rcpt" on both sides (cause 6, fixed)
    _agree(rows, "delivered", "attempts", "deferrals", "phase")
    # the retry after the greylisting delay: within one queue_run_delay (5 s) of each
    # other, smtpsim's later (cause 2; half a scan is the tolerance, and the margin is
    # thin, so this asserts the direction and the scan bound rather than the verdict)
    for key in ("second_age", "delay_p50"):
        real, sim = float(rows[key].real), float(rows[key].sim_mean)
        assert 0 <= sim - real < 5, (key, real, sim)
    assert (rows["phase"].real, rows["phase"].sim_mean) == ("rcpt", "rcpt")


def test_connection_caching_on_demand(oracle_results: Results) -> None:
    outcome, rows = _get(oracle_results, "caching")
    assert len(outcome.real.submitted) == 150
    _agree(rows, "delivered", "attempts", "delay_p50")
    # Postfix reuses connections once deliveries run back to back, and opens new ones
    # after each pause (qmgr_entry.c): about half the sessions in every real run (43 to
    # 50 % in five); smtpsim follows the same rule (smtpsim/mta/caching.py)
    reused = rows["reused"]
    assert 0.25 <= float(reused.real) <= 0.75 and float(reused.sim_low) > 0
    real_uses = tables_of(outcome)[0][1]["attempts"]["conn_use"]
    assert real_uses.max() >= 4  # a connection used several times over
    _agree(rows, "reused", "connections", "use_mean")
