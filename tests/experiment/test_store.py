"""The result store: one JSON file per run, written atomically, found by key."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smtpsim.experiment.runner import RunRecord, RunSpec
from smtpsim.experiment.store import ResultStore

TEXT = (Path(__file__).resolve().parents[2] / "scenarios" / "quickstart.yaml").read_text()


def record(replication: int, error: str | None = None) -> RunRecord:
    spec = RunSpec(TEXT, ("warmup=1min",), replication, 1, until=60.0, config="base")
    metrics = {} if error else {"delivery_ratio": 0.99, "delay_p50": float("nan")}
    quantiles = () if error else (0.1, 0.2, 0.3)
    series = () if error else ((0.0, 0.0), (60.0, 2.0))
    return RunRecord(spec, metrics, quantiles, series, 0.25 + replication, error)


def same(a: RunRecord | None, b: RunRecord) -> bool:
    assert a is not None
    return a.to_json() == b.to_json()


def test_put_get_contains_records(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "sweep")
    first, second, failed = record(0), record(1), record(2, error="Traceback\nBoom")
    assert first.spec.key() not in store and store.get(first.spec.key()) is None
    assert store.records() == []
    for r in (first, second, failed):
        store.put(r)
    assert first.spec.key() in store and "not-a-key" not in store and 3 not in store
    assert same(store.get(first.spec.key()), first)
    assert same(store.get(failed.spec.key()), failed)
    assert (tmp_path / "sweep" / "runs" / f"{second.spec.key()}.json").is_file()
    by_key = sorted((first, second, failed), key=lambda r: r.spec.key())
    assert [r.to_json() for r in store.records()] == [r.to_json() for r in by_key]
    # a second store on the same directory sees the same runs (a resumed sweep)
    assert len(ResultStore(tmp_path / "sweep").records()) == 3
    # put again replaces
    store.put(RunRecord(first.spec, {"delivery_ratio": 0.5}, (), (), 1.0))
    again = store.get(first.spec.key())
    assert again is not None and again.metrics == {"delivery_ratio": 0.5}
    assert len(store.records()) == 3


def test_a_write_cut_short_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ResultStore(tmp_path)
    kept = record(0)
    store.put(kept)

    def killed(src: object, dst: object) -> None:
        raise KeyboardInterrupt  # as if the sweep were stopped between write and rename

    monkeypatch.setattr(os, "replace", killed)
    new = record(1)
    with pytest.raises(KeyboardInterrupt):
        store.put(new)
    with pytest.raises(KeyboardInterrupt):
        store.put(RunRecord(kept.spec, {"delivery_ratio": 0.0}, (), (), 9.0))
    monkeypatch.undo()
    assert new.spec.key() not in store and store.get(new.spec.key()) is None
    assert same(store.get(kept.spec.key()), kept)  # the old file is whole and unchanged
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [f"{kept.spec.key()}.json"]
    assert len(store.records()) == 1


def test_keys_are_checked(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")
