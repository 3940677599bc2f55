"""The oracle experiments (issue 11): real Postfix 3.7 against smtpsim, same workload
and faults. Each test asserts the metrics that agree within their tolerance, those that
agreed once causes 1 to 4 of issue 11 were fixed in the model included, and that the
differences still explained (cause 5, the scans' phase) are there and point the way
their cause predicts, within bounds that held in every real run. Skipped without
Postfix (except under CI=true)."""

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
    # issue 11, cause 2, fixed: whole-second queue file stamps and the scan's 1 s
    # tolerance (qmgr_active.c), on the host's clock; before the fix smtpsim retried a
    # scan late (median gap 14.8 s against 11.8 s, no gap under minimal_backoff_time)
    _agree(
        rows,
        "delivered",
        "attempts",
        "deferrals",
        "first_try",
        "gap_p10",
        "gap_p50",
        "gap_p90",
        "second_age",
        "gap_below_min",
        "delay_mean",
    )
    real_gaps = gaps(tables_of(outcome)[0][1])
    assert 10 - 2.5 <= real_gaps.min() < 10  # early by less than half a queue_run_delay
    for _, sim in tables_of(outcome)[1:]:
        sim_gaps = gaps(sim)
        assert 10 - 2.5 <= sim_gaps.min() < 10  # smtpsim too, as Postfix's rule says
    # the third attempt and the whole distribution of gaps move with the real scans'
    # phase (scan_phases): within the seeds' range and one scan of it (issue 11: "retry
    # times within the scan granularity", queue_run_delay = 5 s; real medians 21.0 and
    # 21.2 s in quiet runs against seeds' 19.8 to 27.1 s, but 26.8 s once under a
    # loaded CI, its retries a scan late), and a KS p-value far above the 1e-7 of the
    # unfixed model (real runs: 0.0017, 0.012)
    third = rows["third_age"]
    assert third.sim_low - 5.0 <= float(third.real) <= third.sim_high + 5.0
    assert float(rows["gap_ks"].real) >= 1e-4


def test_expiry(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "expiry")
    # cause 2, fixed: the fourth attempt, at which the message expires, comes when
    # Postfix's comes (before the fix smtpsim's came more than 5 s later), and the age
    # is counted in whole seconds (qmgr_active.c, qmgr_active_done_25_generic)
    _agree(rows, "expired", "attempts", "dsn", "reply", "notices", "age_p50", "age_max")


def test_outage(oracle_results: Results) -> None:
    outcome, rows = _get(oracle_results, "outage")
    # causes 3 and 4, fixed: Postfix forgets an idle destination's failures and tries
    # new mail again (qmgr_entry.c); before the fix smtpsim kept the dead destination
    # and made 9 or 10 refused connection attempts against Postfix's 26 to 36. Then
    # fixed: a dead destination's timer ends at a whole second and runs before that
    # second's scan feeds its files (events.c, qmgr.c); and the simulated relay gets
    # the real submissions and scans where the real one did. Before, smtpsim made 106
    # suspensions [87, 126] against 72, 3.4 attempts per recipient against 2.8 and its
    # last delivery at 56.5 s against 49.7 (differs on each). What still parts them is
    # real timing (_SCAN_TIMING): a scan's place within its second, a refused
    # delivery's few ms in Postfix. A branch no seed took is one death more or less
    # (real runs: 60, 71 or 97 suspensions); with the same branch every row agrees.
    # Asserted: the two sides are at most one death cycle apart beyond the tolerance:
    # 10 s (minimal_backoff_time) of arrivals at 2/s suspended and the retries the
    # scans of those 10 s feed (about 10); a scan's batch refused at the initial
    # concurrency (5) and the arrivals of those 10 s refused one by one (about 10);
    # 0.5 attempts per recipient; a drain 10 s later
    _agree(rows, "delivered")
    cycle = {"suspended": 20 + 10, "refused": 5 + 10, "attempts": 0.5, "drain": 10}
    for key, extra in cycle.items():
        row = rows[key]
        assert abs(float(row.sim_mean) - float(row.real)) <= row.allowed + extra, row
    real_refused = tables_of(outcome)[0][1]["attempts"]
    assert (real_refused["phase"].astype(str) == "connect").sum() == rows["refused"].real
    assert np.isfinite(rows["drain"].real)
    assert outcome.scan_phases and len(outcome.offsets) == outcome.experiment.seeds


def test_concurrency_feedback(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "concurrency")
    # Postfix delivers everything, whether or not its window met the 421 greetings
    assert rows["delivered"].real == 100
    # issue 11, cause 5, settled: with the next hop's time per command varying as the
    # real server's does, the refusals of a round no longer all come before its
    # successes, and smtpsim delivers everything too (with constant times 18 of 100
    # expired on every seed)
    _agree(rows, "delivered", "expired")
    # cause 1, modelled: the 421 greeting is a site failure in both (smtp_proto.c)
    assert rows["greeting"].sim_low > 0
    # how the window meets the server's 5 sessions is a race of real timing: one real
    # run is not compared with the seeds' mean; the seeds stay within what real runs
    # gave (0 to 55 greeting deferrals, 0 to 131 suspensions, last delivery after 0.3
    # to 63 s), and vary from seed to seed as real runs do. The last delivery comes
    # at a scan: the simulated scans follow this run's (scan_phases), where those runs'
    # came at phases not read then: up to one queue_run_delay later, each run up to 1 s
    # into its whole second (events.c), 63 + 5 + 1 s
    assert rows["greeting"].sim_high <= 55 and rows["suspended"].sim_high <= 131
    assert rows["drain"].sim_low >= 0.3 and rows["drain"].sim_high <= 63 + 5 + 1
    assert rows["greeting"].sim_high > rows["greeting"].sim_low


def test_greylisting(oracle_results: Results) -> None:
    _, rows = _get(oracle_results, "greylisting")
    # the refusal at RCPT is recorded with phase "rcpt" on both sides (cause 6, fixed),
    # and the retry after the greylisting delay comes at the scan Postfix's comes at
    # (cause 2, fixed; before, smtpsim's was up to a scan later)
    _agree(
        rows, "delivered", "attempts", "deferrals", "second_age", "delay_p50", "delay_max", "phase"
    )
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
