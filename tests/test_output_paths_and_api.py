"""A scenario's name never picks a path outside ./results; the public API is what
``dir(smtpsim)`` shows; ``simulate(progress=True)`` draws a bar."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import smtpsim
from smtpsim.cli.common import default_out

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name", ["../../escaped", "/etc/cron.d/x", "..", "a/../../b", "..\\..\\win", "ok name é"]
)
def test_default_out_is_one_segment_under_results(name: str) -> None:
    out = default_out(name)
    assert out.parent == Path("results")
    assert not out.is_absolute() and ".." not in out.parts
    assert "/" not in out.name and "\\" not in out.name and not out.name.startswith(".")


def test_run_with_a_hostile_name_writes_under_results(tmp_path: Path) -> None:
    text = (ROOT / "scenarios" / "quickstart.yaml").read_text()
    scenario = tmp_path / "s.yaml"
    scenario.write_text(text.replace("name: quickstart", 'name: "../../escaped"', 1))
    assert 'name: "../../escaped"' in scenario.read_text()
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpsim",
            "run",
            str(scenario),
            "--until",
            "60s",
            "--no-plots",
            "--no-maillog",
            "--quiet",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    written = [p for p in (work / "results").iterdir()]
    assert [p.name for p in written] == ["_.._escaped-seed42"]
    assert (written[0] / "meta.json").exists()
    # unsanitised, results/../../escaped-seed42 would have been tmp_path/a/escaped-seed42
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]
    assert sorted(p.name for p in work.iterdir()) == ["results"]


def test_dir_lists_the_public_api() -> None:
    names = dir(smtpsim)
    for name in (
        "simulate",
        "load_scenario",
        "compare",
        "sweep",
        "RunOptions",
        "RunResult",
        "ScenarioError",
        "__version__",
    ):
        assert name in names
        getattr(smtpsim, name)  # and each one loads


def test_simulate_draws_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    scenario = smtpsim.load_scenario(str(ROOT / "scenarios" / "quickstart.yaml"))
    with_bar = smtpsim.simulate(scenario, until=120.0, progress=True)
    err = capsys.readouterr().err
    assert "quickstart" in err and "messages" in err
    without = smtpsim.simulate(scenario, until=120.0)
    assert with_bar.summary()["recipients"] == without.summary()["recipients"]


def test_the_output_stage_bar_names_each_part(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from smtpsim.progress import StepBar

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = StepBar("writing", 3)
    for part in ("messages table", "maillog", "plots"):
        bar(part)
    bar.close()
    frames = screen.getvalue().split("\r")
    assert any(f.startswith("writing: maillog |") and "| 1/3 [" in f for f in frames)
    assert any(f.startswith("writing: plots |") and "| 2/3 [" in f for f in frames)
    assert frames[-1] == "" and frames[-2].strip() == ""  # erased when done


@pytest.mark.parametrize("collecting", [True, False])
def test_smtpsim_run_in_process_leaves_the_collector_as_it_was(
    tmp_path: Path, collecting: bool
) -> None:
    """``smtpsim run`` pauses the cycle collector while it starts up and freezes what
    it has loaded while it runs (``cli/run.py``); called in-process (tests, notebooks)
    it gives the collector back as it found it."""
    import gc

    from smtpsim.cli.main import main

    was = gc.isenabled()
    if not collecting:
        gc.disable()
    try:
        args = ["run", str(ROOT / "scenarios" / "quickstart.yaml"), "--until", "2min"]
        args += ["--out", str(tmp_path / "run"), "--quiet", "--no-plots", "--no-report"]
        assert main(args) == 0
        assert gc.isenabled() == collecting
        assert gc.get_freeze_count() == 0
    finally:
        if was:
            gc.enable()
