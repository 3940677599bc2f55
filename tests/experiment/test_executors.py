"""Executors give the same records, in the order of the specs, wherever the runs go:
in this process, in local worker processes, on a real Dask cluster."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

from smtpsim.experiment.executors import (
    DaskExecutor,
    LocalExecutor,
    SerialExecutor,
    make_executor,
)
from smtpsim.experiment.runner import RunRecord, RunSpec

TEXT = (Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml").read_text()
# 8 runs of a 20-minute quickstart, and a spec with an invalid override (an error
# record among the results, which costs milliseconds).
SPECS = [RunSpec(TEXT, ("warmup=2min",), r, 1, until=1200.0, config="base") for r in range(8)]
SPECS.append(RunSpec(TEXT, ("hosts.out.postfix.maximal_backoff_time=fast",), 0, 1, config="broken"))


def comparable(record: RunRecord) -> dict[str, Any]:
    """A record without its wall time (NaN metrics as None, so that they compare)."""
    data = record.to_json()
    del data["wall_s"]
    if data["error"]:
        data["error"] = data["error"].strip().splitlines()[-1]  # the exception, not paths
    return data


@pytest.fixture(scope="module")
def serial() -> tuple[list[RunRecord], float]:
    start = time.perf_counter()
    records = SerialExecutor().map(SPECS)
    return records, time.perf_counter() - start


def test_serial_runs_in_order_and_reports_each(serial: tuple[list[RunRecord], float]) -> None:
    records, _ = serial
    assert [r.spec for r in records] == SPECS
    assert all(r.error is None for r in records[:-1])
    assert records[-1].error is not None and "maximal_backoff_time" in records[-1].error
    assert len({r.metrics["delay_p95"] for r in records[:-1]}) == 8  # distinct replications


def test_local_processes_give_identical_records_and_speed_up(
    serial: tuple[list[RunRecord], float],
) -> None:
    serial_records, serial_s = serial
    done: list[RunRecord] = []
    with LocalExecutor(2) as executor:
        start = time.perf_counter()
        records = executor.map(SPECS, on_done=done.append)
        cold_s = time.perf_counter() - start  # with the start of the worker processes
        start = time.perf_counter()
        again = executor.map(SPECS)
        warm_s = time.perf_counter() - start  # the same processes, started already
    assert [comparable(r) for r in records] == [comparable(r) for r in serial_records]
    assert [comparable(r) for r in again] == [comparable(r) for r in serial_records]
    assert sorted(comparable(r)["key"] for r in done) == sorted(spec.key() for spec in SPECS)
    # measured, not asserted (the machine may be busy or have one CPU)
    print(
        f"\n8 runs of a 20-minute quickstart (mean run "
        f"{sum(r.wall_s for r in serial_records[:-1]) / 8:.2f} s): serial {serial_s:.2f} s; "
        f"LocalExecutor(2) {cold_s:.2f} s with process start-up (speed-up "
        f"{serial_s / cold_s:.2f}x), {warm_s:.2f} s with processes already started "
        f"(speed-up {serial_s / warm_s:.2f}x)"
    )


def test_one_job_runs_in_this_process() -> None:
    seen: list[RunRecord] = []
    record = LocalExecutor(1).map(SPECS[-1:], on_done=seen.append)
    assert seen == record and record[0].error is not None
    with pytest.raises(ValueError):
        LocalExecutor(0)


@pytest.mark.timeout(120)
def test_dask_cluster_gives_identical_records(serial: tuple[list[RunRecord], float]) -> None:
    import distributed  # the test extra installs it: no skipping

    specs, expected = SPECS[:3] + SPECS[-1:], serial[0][:3] + serial[0][-1:]
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        DaskExecutor(cluster.scheduler_address) as executor,
    ):
        done: list[RunRecord] = []
        records = executor.map(specs, on_done=done.append)
    assert [comparable(r) for r in records] == [comparable(r) for r in expected]
    assert len(done) == len(specs)


def test_make_executor_and_the_missing_dask_message(monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(make_executor(), SerialExecutor)
    assert isinstance(make_executor(jobs=3), LocalExecutor)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "smtpsim\[distributed\]"'):
        make_executor(scheduler="tcp://127.0.0.1:8786")
