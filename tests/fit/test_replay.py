"""Trace replay (``traffic.NAME.replay``, issue 15 item 2): a log's or a CSV's
submissions at their times exactly, scaled, aligned and looped as asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smtpsim
from smtpsim.cli.main import main
from smtpsim.logs.trace import read_trace
from smtpsim.metrics.maillog import write_maillog
from smtpsim.metrics.result import RunResult

_NETWORK = """
name: replay
duration: {duration}
hosts:
  mta: {{role: mta, accepts: [corp.example]}}
  mx: {{role: mx, accepts: [dest.example], mailboxes: 500}}
links:
  - {{between: [mta, internet]}}
  - {{between: [mx, internet]}}
dns:
  corp.example: {{mx: {{mta: 10}}}}
  dest.example: {{mx: {{mx: 10}}}}
traffic:
  {flow}
"""

_SOURCE = _NETWORK.format(
    duration="20min",
    flow="""staff:
    submit_to: mta
    rate: 0.5/s
    start: 5min
    recipients: {per_message: {table: {1: 2, 3: 1}}, domains: {dest.example: 1}}
    unknown_users: 5%""",
)


def _replaying(file: Path, duration: str = "1h", **options: object) -> str:
    extra = "".join(
        f", {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()
    )
    flow = f"again:\n    submit_to: mta\n    replay: {{file: {file}{extra}}}"
    return _NETWORK.format(duration=duration, flow=flow)


def _submitted(result: RunResult) -> pd.DataFrame:
    return result.messages[result.messages["origin"].astype(str) != "bounce"]


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunResult, Path]:
    result = smtpsim.simulate(smtpsim.load_scenario(_SOURCE), seed=2)
    return result, write_maillog(result, tmp_path_factory.mktemp("replay") / "maillog")


def test_replay_of_a_maillog_submits_at_its_times_exactly(
    source: tuple[RunResult, Path],
) -> None:
    original, log = source
    trace = read_trace(log, year=2026)
    replay = smtpsim.simulate(smtpsim.load_scenario(_replaying(log)))
    sub = _submitted(replay).sort_values("t_submit", kind="stable")
    assert len(sub) == len(_submitted(original)) == len(trace)
    assert sub["t_submit"].tolist() == list(trace.times)  # exactly, not approximately
    # the log stamps whole seconds: the trace's times are the originals to half a second
    first = np.sort(_submitted(original)["t_submit"].to_numpy())
    assert np.max(np.abs(np.array(trace.times) - first)) <= 0.5
    assert sorted(sub["size_bytes"]) == sorted(_submitted(original)["size_bytes"])
    assert sorted(sub["n_rcpt"]) == sorted(_submitted(original)["n_rcpt"])

    # the unknown recipients are unknown again (unknown<k>), the others are mailboxes
    def unknown(result: RunResult) -> int:
        rec = result.recipients
        return int((rec["dsn"].astype(str) == "5.1.1").sum())

    assert unknown(replay) == unknown(original) > 0


def _csv(path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    lines = ["time,sender,recipients,size"] + [f"{t},{s},{r},{n}" for t, s, r, n in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_csv_replay_scaled_and_aligned_to_the_flows_start(tmp_path: Path) -> None:
    rows = [
        ("2026-12-04T09:00:10", "a@corp.example", "x@dest.example", 1000),
        ("2026-12-04T09:00:00", "b@corp.example", "y@dest.example;z@dest.example", 2000),
        ("2026-12-04T09:01:40.25", "a@corp.example", "x@dest.example", 3000),
    ]
    trace = read_trace(_csv(tmp_path / "t.csv", rows))
    assert trace.times == (32400.0, 32410.0, 32500.25)  # sorted, from midnight
    text = _replaying(tmp_path / "t.csv", time_scale=0.5, align="first")
    text = text.replace("    replay:", "    start: 100s\n    replay:")
    result = smtpsim.simulate(smtpsim.load_scenario(text))
    sub = _submitted(result).sort_values("t_submit")
    assert sub["t_submit"].tolist() == [100.0, 105.0, 100 + 100.25 * 0.5]
    assert sub["size_bytes"].tolist() == [2000, 1000, 3000]
    assert sub["n_rcpt"].tolist() == [2, 1, 1]
    # numbered addresses: x is the same mailbox both times, and a different one from y, z
    rec = result.recipients.merge(sub[["msg_id", "t_submit"]], on="msg_id")
    by_time = rec.groupby("t_submit")["rcpt"].apply(lambda s: sorted(s.astype(str)))
    assert by_time[105.0] == by_time[150.125] == ["user2@dest.example"]
    assert by_time[100.0] == ["user0@dest.example", "user1@dest.example"]
    assert set(result.recipients["status"].astype(str)) == {"delivered"}


def test_loop_repeats_the_trace_until_the_flow_stops(tmp_path: Path) -> None:
    rows = [
        ("0", "a@corp.example", "x@dest.example", 100),
        ("30", "a@corp.example", "y@dest.example", 100),
    ]
    # span: a mean gap (30 s) after the last message: a period of 60 s from 0
    text = _replaying(_csv(tmp_path / "t.csv", rows), duration="200s", loop=True, align="first")
    result = smtpsim.simulate(smtpsim.load_scenario(text))
    assert sorted(_submitted(result)["t_submit"]) == [0, 30, 60, 90, 120, 150, 180]


@pytest.mark.parametrize(
    ("content", "flow_extra", "expected"),
    [
        ("when,who\n1,2\n", "", "traffic.again.replay.file: "),
        ("time,sender,recipients,size\n1,a@corp.example,nobody,5\n", "", "line 2: recipients"),
        (
            "time,sender,recipients,size\n1,a@corp.example,x@dest.example,5\n",
            "rate: 1/s",
            "leave out rate",
        ),
    ],
)
def test_bad_traces_are_problems_with_paths(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    flow_extra: str,
    expected: str,
) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text(content)
    text = _replaying(trace)
    if flow_extra:
        text = text.replace("    replay:", f"    {flow_extra}\n    replay:")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(text)
    assert main(["validate", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert "traffic.again" in err and expected in err


def test_a_missing_trace_is_a_problem_with_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text(_replaying(tmp_path / "absent.maillog"))
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "traffic.again.replay.file: cannot read" in err and "absent.maillog" in err


@pytest.mark.parametrize("short", [True, False], ids=["replay: FILE", "replay: {file: FILE}"])
def test_a_relative_trace_is_found_beside_its_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    """A scenario and its trace travel together: the trace's relative path is taken
    from the scenario file's directory, whatever directory the command runs in."""
    home = tmp_path / "study"
    home.mkdir()
    _csv(home / "day.csv", [("0", "a@corp.example", "x@dest.example", 1000)])
    text = _replaying(Path("day.csv"))
    if short:
        text = text.replace("replay: {file: day.csv}", "replay: day.csv")
    (home / "s.yaml").write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["validate", str(home / "s.yaml")]) == 0
    scenario = smtpsim.load_scenario(home / "s.yaml")
    assert scenario.traffic["again"].replay is not None
    assert Path(scenario.traffic["again"].replay.file) == home / "day.csv"
    assert len(_submitted(smtpsim.simulate(scenario))) == 1
