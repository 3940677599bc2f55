"""``report.html`` of a run: self-contained, says what was asked and what happened,
counts the summary's population; ``smtpsim report DIR`` rebuilds it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from report_helpers import smtpsim_cli

from smtpsim.metrics.result import RunResult
from smtpsim.reports.run import build_run_report, question_of


def test_run_writes_a_self_contained_report(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    meta = json.loads((run_dir / "meta.json").read_text())
    sources = re.findall(r'<img[^>]* src="([^"]*)"', page)
    assert len(sources) == 5  # the five run figures
    assert all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in page and 'href="http' not in page
    assert meta["scenario_digest"] in page
    assert f"seed {meta['seed']}" in page
    assert "how fast does a small company" in page  # the scenario file's question
    assert "traffic.staff.unknown_users=5%" in page  # the override
    assert "name: quickstart" in page  # the scenario's YAML


def test_summary_table_counts_the_summary(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((run_dir / "summary.json").read_text())
    r = summary["recipients"]
    for status in ("delivered", "bounced", "expired", "lost", "pending"):
        share = 100 * r[status] / r["submitted"]
        assert re.search(
            rf"<td>  {status}</td>\s*<td class=\"num\">{r[status]:,}</td>\s*"
            rf"<td class=\"num\">{share:.2f} %</td>",
            page,
        ), status


def test_domain_table_adds_up_to_the_summary(run_dir: Path) -> None:
    page = (run_dir / "report.html").read_text(encoding="utf-8")
    summary = json.loads((run_dir / "summary.json").read_text())
    section = page.split('id="recipient-domains"')[1].split("</section>")[0]
    counts = [
        int(c.replace(",", ""))
        for c in re.findall(r"<tr><td>[^<]+</td><td class=\"num\">([\d,]+)</td>", section)
    ]
    assert len(counts) == 3  # three recipient domains in quickstart
    assert sum(counts) == summary["recipients"]["submitted"]


def test_report_command_rebuilds_it(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.html"
    done = smtpsim_cli("report", str(run_dir), "--out", str(out))
    assert done.returncode == 0, done.stderr
    again = out.read_text(encoding="utf-8")
    # scenario text, file and overrides come back from DIR/scenario.yaml
    assert "how fast does a small company" in again
    assert "traffic.staff.unknown_users=5%" in again
    assert "scenarios/quickstart.yaml" in again or "quickstart.yaml" in again


def test_report_command_refuses_a_directory_without_results(tmp_path: Path) -> None:
    done = smtpsim_cli("report", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not a results directory" in done.stderr


def test_no_report_flag(tmp_path: Path) -> None:
    from report_helpers import QUICKSTART

    done = smtpsim_cli(
        "run",
        str(QUICKSTART),
        "--until",
        "1min",
        "--out",
        str(tmp_path / "r"),
        "--no-report",
        "--no-plots",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "r" / "report.html").exists()


def test_report_draws_figures_when_the_run_did_not(run_dir: Path, tmp_path: Path) -> None:
    result = RunResult.read(run_dir)
    page = build_run_report(result, tmp_path)  # no plots/ there, no scenario.yaml
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 5
    assert "scenario.yaml" in page  # says the scenario's text is not kept there


def test_question_is_the_header_comment_and_description() -> None:
    text = "# Question: why?\n# Look at: x.\nname: a\ndescription: >\n  two\n  lines\n"
    assert question_of(text) == ("why?\nLook at: x.", "two lines")
    assert question_of("name: a\n") == ("", "")
