"""A run's results directory is replaced whole or not at all, and a directory that is
not one complete run is refused with the reason (``smtpsim.metrics.run_dir``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import smtpsim.metrics.run_dir as run_dir
from smtpsim import load_scenario, simulate
from smtpsim.metrics.result import TABLES, RunResult
from smtpsim.metrics.run_dir import (
    MANIFEST,
    OutNotEmptyError,
    RunDirError,
    Stage,
    check_run_dir,
    parquet_run_id,
)

ROOT = Path(__file__).resolve().parents[2]


def _run(seed: int) -> RunResult:
    return simulate(load_scenario(ROOT / "scenarios" / "quickstart.yaml"), seed=seed, until=120.0)


@pytest.fixture(scope="module")
def first() -> RunResult:
    return _run(1)


@pytest.fixture(scope="module")
def second() -> RunResult:
    return _run(2)


def test_a_written_run_names_itself_everywhere(first: RunResult, tmp_path: Path) -> None:
    out = first.write(tmp_path / "run")
    run_id = first.meta["run_id"]
    info = check_run_dir(out)
    assert (info.run_id, info.scenario, info.seed, info.checked) == (run_id, "quickstart", 1, True)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["run_id"] == run_id
    assert sorted(manifest["files"]) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["summary.json", "meta.json", "maillog"]
    )
    for name, facts in manifest["files"].items():
        assert (out / name).stat().st_size == facts["bytes"]
    assert all(parquet_run_id(out / f"{t}.parquet") == run_id for t in TABLES)
    assert json.loads((out / "meta.json").read_text())["run_id"] == run_id
    back = RunResult.read(out)  # the Parquet metadata does not change the tables
    pd.testing.assert_frame_equal(back.recipients.astype(str), first.recipients.astype(str))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no staging left


def test_replacing_needs_consent_and_leaves_only_the_new_run(
    first: RunResult, second: RunResult, tmp_path: Path
) -> None:
    out = first.write(tmp_path / "run", fmt="csv")
    with pytest.raises(
        OutNotEmptyError,
        match=rf"already holds run {first.meta['run_id']} "
        r"\(scenario quickstart, seed 1, written ",
    ):
        second.write(out)
    assert check_run_dir(out).run_id == first.meta["run_id"]
    second.write(out, replace=True)  # parquet over csv: no file of the csv run is left
    assert check_run_dir(out).run_id == second.meta["run_id"]
    assert not list(out.glob("*.csv"))
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_replacing_without_the_exchange_still_leaves_one_run(
    first: RunResult, second: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_dir, "_exchange", lambda a, b: False)  # not Linux, say
    out = first.write(tmp_path / "run")
    second.write(out, replace=True)
    assert check_run_dir(out).run_id == second.meta["run_id"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_never_replaces_what_is_not_a_run(first: RunResult, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(RunDirError, match="does not hold a smtpsim run: not replacing it"):
        first.write(home, replace=True)
    assert [p.name for p in home.iterdir()] == ["thesis.tex"]
    (home / "meta.json").write_text("{}")  # a meta.json of its own does not make a run
    with pytest.raises(RunDirError, match="does not hold a smtpsim run: not replacing it"):
        first.write(home, replace=True)
    assert sorted(p.name for p in home.iterdir()) == ["meta.json", "thesis.tex"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="exists and is not a directory"):
        first.write(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    first.write(empty)  # an empty directory is no earlier run: no consent needed
    assert check_run_dir(empty).run_id == first.meta["run_id"]


def test_an_aborted_stage_leaves_the_target_as_it_was(first: RunResult, tmp_path: Path) -> None:
    out = first.write(tmp_path / "run")
    before = sorted((p.name, p.stat().st_size) for p in out.iterdir())
    with pytest.raises(RuntimeError), Stage(out, replace=True) as stage:
        (stage.path / "messages.parquet").write_text("half a file")
        raise RuntimeError("the disk filled up")
    assert sorted((p.name, p.stat().st_size) for p in out.iterdir()) == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_mixed_truncated_or_unfinished_directories_are_refused(
    first: RunResult, second: RunResult, tmp_path: Path
) -> None:
    a = first.write(tmp_path / "a")
    b = second.write(tmp_path / "b")
    mixed = tmp_path / "mixed"
    shutil.copytree(a, mixed)
    shutil.copy(b / "messages.parquet", mixed / "messages.parquet")  # the mix
    with pytest.raises(RunDirError, match="does not hold one complete run"):
        check_run_dir(mixed)
    truncated = tmp_path / "truncated"
    shutil.copytree(a, truncated)
    data = (truncated / "attempts.parquet").read_bytes()
    (truncated / "attempts.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunDirError, match=r"attempts.parquet has [\d,]+ bytes, the manifest"):
        check_run_dir(truncated)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(a, unfinished)
    (unfinished / MANIFEST).unlink()
    with pytest.raises(RunDirError, match=r"incomplete: no manifest\.json"):
        check_run_dir(unfinished)
    with pytest.raises(RunDirError, match="mixes"):  # the same mix, and no manifest
        (mixed / MANIFEST).unlink()
        meta = json.loads((mixed / "meta.json").read_text())
        del meta["run_id"]
        (mixed / "meta.json").write_text(json.dumps(meta))
        check_run_dir(mixed)
    with pytest.raises(RunDirError, match="no results directory"):
        check_run_dir(tmp_path / "nowhere")


def test_a_run_written_before_manifests_is_read_with_a_warning(
    first: RunResult, tmp_path: Path
) -> None:
    old = tmp_path / "old"
    old.mkdir()
    for name in TABLES:  # as smtpsim wrote them before: no manifest, no run ids
        first.table(name).to_parquet(old / f"{name}.parquet", index=False)
    meta = {k: v for k, v in first.meta.items() if k != "run_id"}
    (old / "meta.json").write_text(json.dumps(meta, default=str))
    info = check_run_dir(old)
    assert info.run_id is None and not info.checked
    assert info.warning is not None and "no manifest.json" in info.warning
    assert info.describe().startswith("a run without id (scenario quickstart, seed 1")
    assert len(RunResult.read(old).messages) == len(first.messages)


def test_a_changed_byte_is_found_by_the_digests_and_a_replacement_reads_none(
    first: RunResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading a run checks every digest; replacing one (``Stage``) only checks that
    its files are there with their sizes: the digests of a run about to be deleted
    are not read (a 60 MB maillog each time)."""
    out = first.write(tmp_path / "run")
    log = out / "maillog"
    data = bytearray(log.read_bytes())
    data[10] ^= 1  # same size, one bit changed
    log.write_bytes(bytes(data))
    with pytest.raises(RunDirError, match="maillog is not the file the manifest lists"):
        check_run_dir(out)
    assert check_run_dir(out, digests=False).run_id == first.meta["run_id"]
    read: list[Path] = []
    digest = run_dir._digest
    monkeypatch.setattr(run_dir, "_digest", lambda p: read.append(p) or digest(p))
    stage = Stage(out, replace=True)
    assert stage.previous is not None and stage.previous.run_id == first.meta["run_id"]
    assert read == []
    stage.abort()
