"""``smtpsim compare`` and ``smtpsim sweep``: exit statuses, files written, reruns that
reuse the store, and bad input reported on stderr without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from smtpsim.cli.main import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
QUICKSTART = str(SCENARIOS / "quickstart.yaml")
BLACKLISTING = str(SCENARIOS / "blacklisting-incident.yaml")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", *args], capture_output=True, text=True, timeout=120
    )


def usage_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run in this process; the one-line error of a bad command line (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        main(list(args))
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_compare_prints_the_tables_and_writes_the_results(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    done = cli(
        "compare",
        BLACKLISTING,
        f"{BLACKLISTING}::hosts.out.postfix.smtp_fallback_relay=none",
        "--label",
        "fallback",
        "--label",
        "none",
        "--set",
        "incidents[0].at=1min",
        "--set",
        "hosts.out.postfix.maximal_queue_lifetime=5min",
        "-r",
        "3",
        "--until",
        "20min",
        "--jobs",
        "2",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0].startswith("2 configurations x 3 replications (base seed 42")
    header = next(line for line in lines if line.startswith("metric "))
    assert header.split() == ["metric", "fallback", "none"]
    assert "difference to fallback" in done.stdout
    expired = [line for line in lines if line.startswith("expired_rate")]
    assert len(expired) == 2 and expired[1].rstrip().endswith("*")
    for name in ("runs", "table", "differences", "delays", "queues", "errors"):
        assert (out / f"{name}.csv").exists() and (out / f"{name}.parquet").exists()
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "delay-cdf.png",
        "differences.png",
        "metrics.png",
        "queues.png",
    ]
    assert len(list((out / "runs").glob("*.json"))) == 6
    diffs = pd.read_csv(out / "differences.csv")
    assert bool(diffs.set_index("metric").loc["expired_rate", "excludes_zero"])


def test_compare_reruns_reuse_the_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "compare",
        QUICKSTART,
        "-r",
        "2",
        "--until",
        "2min",
        "--out",
        str(tmp_path),
        "--no-plots",
        "--metrics",
        "delivery_ratio,delay_p95",
    ]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "2 run now, 0 reused" in first
    assert main([*args, "--format", "svg"]) == 0
    again = capsys.readouterr().out
    assert "0 run now, 2 reused" in again
    assert [line.split()[0] for line in again.splitlines()[4:6]] == ["delivery_ratio", "delay_p95"]
    assert not (tmp_path / "plots").exists()


def test_compare_quiet_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compare",
                QUICKSTART,
                "-r",
                "1",
                "--until",
                "1min",
                "--quiet",
                "--no-plots",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "table.csv").exists()


def test_compare_target_ci(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "compare",
                QUICKSTART,
                "-r",
                "2",
                "--until",
                "1min",
                "--target-ci",
                "50%",
                "--metrics",
                "delay_p50",
                "--no-plots",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "target half-width 50 % of the mean" in capsys.readouterr().out


def test_sweep_writes_tables_and_a_figure_per_metric_and_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "sweep",
        QUICKSTART,
        "--vary",
        "traffic.staff.rate=1/s,2/s",
        "--vary",
        "traffic.staff.unknown_users=1%,5%",
        "-r",
        "2",
        "--until",
        "2min",
        "--metrics",
        "bounce_rate,delay_p95",
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("8 runs (4 points x 2 replications): 8 run now, 0 reused\n")
    header = next(line for line in out.splitlines() if line.startswith("traffic."))
    # pending_rate is always shown beside the metrics asked for (issue 8)
    assert header.split() == [
        "traffic.staff.rate",
        "traffic.staff.unknown_users",
        "bounce_rate",
        "delay_p95",
        "pending_rate",
    ]
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "bounce_rate-vs-traffic.staff.rate.png",
        "bounce_rate-vs-traffic.staff.unknown_users.png",
        "delay_p95-vs-traffic.staff.rate.png",
        "delay_p95-vs-traffic.staff.unknown_users.png",
        "pending_rate-vs-traffic.staff.rate.png",
        "pending_rate-vs-traffic.staff.unknown_users.png",
    ]
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert len(runs) == 8 and {
        "traffic.staff.rate",
        "traffic.staff.unknown_users",
        "replication",
    } <= set(runs.columns)
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(
        "8 runs (4 points x 2 replications): 0 run now, 8 reused\n"
    )


def test_sweep_with_points_and_a_failing_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(
        [
            "sweep",
            QUICKSTART,
            "--point",
            "traffic.staff.rate=1/s,warmup=1min",
            "--point",
            "traffic.staff.rate=fast",
            "-r",
            "1",
            "--until",
            "2min",
            "--no-plots",
            "--out",
            str(tmp_path),
        ]
    )
    assert status == 1
    captured = capsys.readouterr()
    assert "2 runs (2 points x 1 replication): 2 run now, 0 reused, 1 failed" in captured.out
    assert "1 of 2 run(s) failed" in captured.err
    assert "traffic.staff.rate=fast, replication 0: ScenarioError: traffic.staff.rate" in (
        captured.err
    )
    errors = pd.read_csv(tmp_path / "errors.csv")
    assert list(errors["traffic.staff.rate"]) == ["fast"]


def test_bad_vary_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("traffic.staff.rate", "=1,2", "traffic.staff.rate=", "a=1,,2"):
        err = usage_error(capsys, "sweep", QUICKSTART, "--vary", bad, "--out", str(tmp_path))
        assert err.startswith("smtpsim sweep: error: --vary: ")
    err = usage_error(capsys, "sweep", QUICKSTART, "--out", str(tmp_path))
    assert "--vary" in err
    err = usage_error(capsys, "sweep", QUICKSTART, "--vary", "seed=1,2", "--out", str(tmp_path))
    assert "cannot vary 'seed'" in err
    usage_error(capsys, "sweep", QUICKSTART, "--vary", "a=1")  # --out is required
    assert not any(tmp_path.iterdir())


def test_bad_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--target-ci" in usage_error(capsys, "compare", QUICKSTART, "--target-ci", "five")
    assert "--until" in usage_error(capsys, "compare", QUICKSTART, "--until", "soon")
    assert "unknown metric 'speed'" in usage_error(
        capsys, "compare", QUICKSTART, "--metrics", "speed"
    )
    assert "--label" in usage_error(capsys, "compare", QUICKSTART, "--label", "a", "--label", "b")
    assert "--scheduler" in usage_error(capsys, "compare", QUICKSTART, "--scheduler", "host")
    assert "--replications" in usage_error(capsys, "sweep", QUICKSTART, "-r", "0")


def test_scenario_problems_are_listed_with_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "compare",
                QUICKSTART,
                f"{QUICKSTART}::traffic.staff.rate=fast::seed=x",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.splitlines()
    assert err[0] == (
        f"smtpsim compare: {QUICKSTART} (quickstart [rate=fast, seed=x]): 2 problem(s):"
    )
    assert err[1:] == [
        "  seed: expected an integer, got 'x'",
        "  traffic.staff.rate: expected a rate such as '3/s' or '100/h', got 'fast'",
    ]
    assert main(["compare", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert (
        main(["sweep", QUICKSTART, "--vary", "traffic.staff.rte=1/s", "--out", str(tmp_path / "s")])
        == 2
    )
    err = capsys.readouterr().err
    assert "traffic.staff.rte: unknown field; did you mean 'rate'?" in err
    assert (
        main(
            [
                "sweep",
                QUICKSTART,
                "--set",
                "seed=x",
                "--vary",
                "traffic.staff.rate=1/s",
                "--out",
                str(tmp_path / "s"),
            ]
        )
        == 2
    )
    assert "seed: expected an integer" in capsys.readouterr().err
    assert not (tmp_path / "c").exists() and not (tmp_path / "s").exists()


def test_a_bad_command_line_in_a_real_process_is_one_line(tmp_path: Path) -> None:
    done = cli("sweep", QUICKSTART, "--vary", "nonsense", "--out", str(tmp_path))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("smtpsim sweep: error: --vary: expected PATH=V1,V2")
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("command", ["compare", "sweep"])
def test_help_has_examples(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: smtpsim {command}")
    assert "\nExamples:\n" in text and f"  smtpsim {command} " in text
    assert "Exit status:" in text


def test_the_top_level_help_lists_compare_and_sweep() -> None:
    done = cli("--help")
    assert done.returncode == 0
    assert "\n    compare " in done.stdout and "\n    sweep " in done.stdout


def test_the_experiment_commands_load_nothing_heavy_until_they_run() -> None:
    code = (
        "import sys, smtpsim.cli.compare, smtpsim.cli.sweep, smtpsim.cli.main\n"
        "smtpsim.cli.main.build_parser()\n"
        "print(','.join(m for m in ('simpy', 'numpy', 'pandas', 'matplotlib') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == ""
