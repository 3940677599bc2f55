"""The same sweep through a real Dask cluster (a LocalCluster on loopback, started and
stopped here) gives tables identical to the local executor's."""

from __future__ import annotations

from pathlib import Path

import distributed  # the test extra installs it: no skipping
import pandas as pd
import pytest

import smtpsim

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml"
VARY = {
    "traffic.staff.unknown_users": ["1%", "5%"],
    "hosts.out.postfix.maximal_backoff_time": ["1000s", "4000s"],
}


@pytest.mark.timeout(300)
def test_sweep_on_a_dask_cluster_equals_the_local_sweep(tmp_path):
    local = smtpsim.sweep(
        SCENARIO,
        smtpsim.RunOptions(replications=2, until="10min", jobs=1),
        vary=VARY,
        out=tmp_path / "local",
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        remote = smtpsim.sweep(
            SCENARIO,
            smtpsim.RunOptions(replications=2, until="10min", scheduler=cluster.scheduler_address),
            vary=VARY,
            out=tmp_path / "dask",
        )
    assert local.ran == remote.ran == 8 and local.failed == remote.failed == 0
    columns = [c for c in local.runs.columns if c != "wall_s"]
    pd.testing.assert_frame_equal(
        local.runs[columns].reset_index(drop=True),
        remote.runs[columns].reset_index(drop=True),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(local.table(), remote.table(), check_exact=True)
