"""`write_plots`, `smtpsim plot` and the plots of `smtpsim run`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smtpsim.cli.main import main
from smtpsim.metrics.result import RunResult
from smtpsim.plots import FIGURES, write_plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_write_plots_writes_every_figure_as_png(outage: RunResult, tmp_path: Path) -> None:
    written = write_plots(outage, tmp_path / "plots")
    assert [p.name for p in written] == [f"{name}.png" for name in FIGURES]
    for path in written:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 10_000, path


def test_write_plots_on_empty_tables_and_bad_format(quick: RunResult, tmp_path: Path) -> None:
    empty = RunResult(
        *(getattr(quick, n).iloc[0:0] for n in ("messages", "recipients", "attempts", "levels")),
        meta={},
    )
    written = write_plots(empty, tmp_path, fmt="svg")
    assert len(written) == len(FIGURES)
    assert all(p.read_text().lstrip().startswith("<?xml") for p in written)
    with pytest.raises(ValueError, match="format must be one of png, svg"):
        write_plots(quick, tmp_path, fmt="gif")


def test_smtpsim_plot_reads_a_results_directory(
    quick: RunResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    quick.write(results, fmt="csv")  # CSV: no categoricals left, the figures cope
    assert main(["plot", str(results)]) == 0
    out = capsys.readouterr().out
    # it names the run it drew (smtpsim.metrics.run_dir), then where the figures went
    assert out.startswith(
        f"plots of run {quick.meta['run_id']} (scenario quickstart, seed "
        f"{quick.meta['seed']}, written "
    )
    assert f": {results / 'plots'}/ (" in out
    for name in FIGURES:
        assert (results / "plots" / f"{name}.png").read_bytes().startswith(PNG)
    assert main(["plot", str(results), "--format", "svg", "--out", str(tmp_path / "svg")]) == 0
    assert sorted(p.name for p in (tmp_path / "svg").iterdir()) == sorted(
        f"{name}.svg" for name in FIGURES
    )


def test_smtpsim_plot_on_a_missing_or_foreign_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"smtpsim plot: error: {tmp_path} is not a results directory")
    (tmp_path / "messages.parquet").write_text("not parquet")
    for name in ("recipients", "attempts", "levels"):
        (tmp_path / f"{name}.csv").write_text("a,b\n")
    (tmp_path / "meta.json").write_text("{}")
    assert main(["plot", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"smtpsim plot: error: {tmp_path}: messages.parquet is damaged")


def test_smtpsim_plot_nonexistent_as_a_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpsim", "plot", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == "smtpsim plot: error: no results directory '/nonexistent'\n"
    assert done.stdout == ""


def test_smtpsim_run_writes_plots_unless_told_not_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["run", "scenarios/quickstart.yaml", "--until", "1min", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "with")]) == 0
    assert sorted(p.name for p in (tmp_path / "with" / "plots").iterdir()) == sorted(
        f"{name}.png" for name in FIGURES
    )
    assert main([*args, "--no-plots", "--out", str(tmp_path / "without")]) == 0
    assert (tmp_path / "without" / "messages.parquet").exists()
    assert not (tmp_path / "without" / "plots").exists()
    assert capsys.readouterr().out == ""


def test_plot_help_and_the_command_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "smtpsim", "plot", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.startswith("usage: smtpsim plot")
    assert "  smtpsim plot " in done.stdout.split("\nExamples:\n", 1)[1]
    assert (
        "--no-plots"
        in subprocess.run(
            [sys.executable, "-m", "smtpsim", "run", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )


def test_plots_import_nothing_of_the_engine_nor_pyplot() -> None:
    code = (
        "import sys\n"
        "import pandas as pd\n"
        "from smtpsim.plots import write_plots\n"
        "class R:\n"
        "    messages = pd.DataFrame({'msg_id': [], 'origin': [], 't_submit': []})\n"
        "    recipients = pd.DataFrame({c: [] for c in ('msg_id', 'rcpt', 'domain', 'status',\n"
        "                               't_final', 'delay_s', 'dsn')})\n"
        "    attempts = pd.DataFrame({c: [] for c in ('msg_id', 'rcpt', 'host', 'outcome',\n"
        "                             'dsn', 't_start', 't_end', 'queue_s', 'conn_s',\n"
        "                             'xfer_s')})\n"
        "    levels = pd.DataFrame({c: [] for c in ('t', 'host', 'metric', 'value')})\n"
        "    meta = {}\n"
        "import tempfile\n"
        "write_plots(R(), tempfile.mkdtemp())\n"
        "engine = sorted(m for m in sys.modules if m.startswith('smtpsim.')\n"
        "                and not m.startswith(('smtpsim.plots', 'smtpsim.text')))\n"
        "heavy = [m for m in ('simpy', 'networkx', 'matplotlib.pyplot') if m in sys.modules]\n"
        "print(engine, heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[] []"
    # and the command line loads matplotlib only when it draws
    code = (
        "import sys, smtpsim.cli.main\n"
        "print([m for m in ('matplotlib', 'pandas') if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"
